"""Book chapter 1-1: Titanic survival from the passengers' raw columns.

``serving_default`` takes the raw columns (``pclass`` int64, ``name`` string with "" = missing,
``sex`` string, ``age`` float32 with NaN = missing, ``sibsp`` int64, ``parch`` int64, ``fare``
float32, ``cabin`` and ``embarked`` strings with "" = missing, each ``[-1]``) and returns
``probability`` float32 ``[-1,1]`` and ``survived`` int64 ``[-1]``. All preprocessing runs in the
graph: the book's 15 features, plus two that beat the book by a wide margin:

- the **title** parsed from ``name`` ("Braund, Mr. Owen Harris" → Mr): a one-hot of Mr, Mrs (with
  Mme), Miss (with Mlle and Ms), Master and Rare (every other title, Dr, Rev, Col, the Countess...,
  and titles never seen in training). A name without a title ("", "John Doe", no ", Title.") is
  the **unknown title**: all five columns 0. Matching is ASCII case-insensitive; a name that is not
  valid UTF-8 has no title;
- **log fare**: the network sees ``log1p(max(fare, 0))`` where the book fed the raw fare.

The ``features`` signature keeps the book's contract: its 15 preprocessed floats ``[-1,15]`` (the
book's column order, raw ``Fare``) → ``probability``. The book's features carry no name, so that
path is the raw one with the title unknown (log fare is still applied in the graph). Training
shows 10% of the rows with the title unknown, so that both give sound predictions.

Edges: unknown categories (``sex`` "X", ``embarked`` "X", ``pclass`` 7) give all-zero one-hots;
missing age becomes 0 with ``Age_null`` = 1; missing cabin sets ``Cabin_null``; missing embarked
sets ``Embarked_nan``; negative fares count as 0 (a NaN fare gives a NaN probability).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from python_trainer.data_dir import resolve_data_file
from python_trainer.errors import TrainerError
from python_trainer.seeding import make_deterministic
from python_trainer.workflows.common import Stopwatch, TrainConfig, TrainResult, finish_export
from tfspark.toolkit import golden
from tfspark.toolkit.export import ServingModule

NAME = "titanic"
DEFAULT_EPOCHS = 60
DEFAULT_SEED = 42
AUC_BAR = 0.88
FEATURE_NAMES = [
    "Pclass_1", "Pclass_2", "Pclass_3", "female", "male", "Age", "Age_null", "SibSp", "Parch", "Fare",
    "Cabin_null", "Embarked_C", "Embarked_Q", "Embarked_S", "Embarked_nan",
]  # fmt: skip
FARE_COLUMN = FEATURE_NAMES.index("Fare")
# Lower-cased titles of each group but the last; any other title is "Rare", no title is all zeros.
TITLE_GROUPS = {"Mr": ["mr"], "Mrs": ["mrs", "mme"], "Miss": ["miss", "mlle", "ms"], "Master": ["master"], "Rare": []}
TITLE_NAMES = [f"Title_{group}" for group in TITLE_GROUPS]
# "Surname, Title. Given names": the title is what lies between the first comma and the next period.
TITLE_PATTERN = r"(?s)^[^,]*,\s*([^.]*)\..*$"
UNKNOWN_TITLE_SHARE = 0.1  # of the training rows, shown with the title unknown
RAW_SPEC = {
    "pclass": tf.int64,
    "name": tf.string,
    "sex": tf.string,
    "age": tf.float32,
    "sibsp": tf.int64,
    "parch": tf.int64,
    "fare": tf.float32,
    "cabin": tf.string,
    "embarked": tf.string,
}
REQUIRED_COLUMNS = ["Survived", "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Fare", "Cabin", "Embarked"]


def load_split(split: str, data_dir=None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Reads ``titanic/<split>.csv`` into raw input arrays (the serving dtypes) and labels.

    Raises :class:`TrainerError` when a column of ``REQUIRED_COLUMNS`` is missing.
    """
    path = resolve_data_file(f"titanic/{split}.csv", data_dir=data_dir)
    df = pd.read_csv(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise TrainerError(f"{path} lacks columns {missing}; expected {REQUIRED_COLUMNS}", got=list(df.columns))
    raw = {
        "pclass": df["Pclass"].to_numpy(np.int64),
        "name": df["Name"].fillna("").astype(str).to_numpy(object),
        "sex": df["Sex"].fillna("").astype(str).to_numpy(object),
        "age": df["Age"].to_numpy(np.float32),
        "sibsp": df["SibSp"].to_numpy(np.int64),
        "parch": df["Parch"].to_numpy(np.int64),
        "fare": df["Fare"].fillna(0).to_numpy(np.float32),
        "cabin": df["Cabin"].fillna("").astype(str).to_numpy(object),
        "embarked": df["Embarked"].fillna("").astype(str).to_numpy(object),
    }
    return raw, df["Survived"].to_numpy(np.float32)


def _one_hot(values: tf.Tensor, categories) -> tf.Tensor:
    return tf.cast(tf.equal(tf.expand_dims(values, -1), tf.constant(categories)), tf.float32)


def preprocess(raw: dict[str, tf.Tensor]) -> tf.Tensor:
    """The book's 15 features, in graph: one-hots, NaN age as 0 plus an indicator, missing flags."""
    age = tf.cast(raw["age"], tf.float32)
    age_null = tf.math.is_nan(age)
    columns = [
        _one_hot(raw["pclass"], np.array([1, 2, 3], np.int64)),
        _one_hot(raw["sex"], ["female", "male"]),
        tf.expand_dims(tf.where(age_null, 0.0, age), -1),
        tf.expand_dims(tf.cast(age_null, tf.float32), -1),
        tf.expand_dims(tf.cast(raw["sibsp"], tf.float32), -1),
        tf.expand_dims(tf.cast(raw["parch"], tf.float32), -1),
        tf.expand_dims(tf.cast(raw["fare"], tf.float32), -1),
        tf.expand_dims(tf.cast(tf.equal(raw["cabin"], ""), tf.float32), -1),
        _one_hot(raw["embarked"], ["C", "Q", "S", ""]),
    ]
    return tf.concat(columns, axis=-1)


def title_one_hot(name: tf.Tensor) -> tf.Tensor:
    """``[n,5]`` one-hot of the title in ``name`` (``TITLE_NAMES`` order); all zeros without a title."""
    found = tf.strings.regex_full_match(name, TITLE_PATTERN)
    title = tf.strings.lower(tf.strings.strip(tf.strings.regex_replace(name, TITLE_PATTERN, r"\1")))
    title = tf.where(found, title, "")
    known = [_one_hot(title, aliases) for aliases in TITLE_GROUPS.values() if aliases]
    groups = tf.concat([tf.reduce_max(k, axis=-1, keepdims=True) for k in known], axis=-1)
    rare = tf.logical_and(tf.not_equal(title, ""), tf.equal(tf.reduce_sum(groups, axis=-1), 0.0))
    return tf.concat([groups, tf.expand_dims(tf.cast(rare, tf.float32), -1)], axis=-1)


def model_inputs(features: tf.Tensor, titles: tf.Tensor) -> tf.Tensor:
    """What the network takes: the book's 15 features with ``Fare`` as ``log1p(max(fare, 0))``, then the titles."""
    fare = tf.math.log1p(tf.maximum(features[:, FARE_COLUMN : FARE_COLUMN + 1], 0.0))
    return tf.concat([features[:, :FARE_COLUMN], fare, features[:, FARE_COLUMN + 1 :], titles], axis=-1)


def build_model(train_inputs: np.ndarray) -> tf.keras.Model:
    """The book's Dense 20-10-1 with a Normalization layer adapted to the training inputs."""
    norm = tf.keras.layers.Normalization(name="normalize")
    norm.adapt(train_inputs)
    inputs = tf.keras.Input(shape=(len(FEATURE_NAMES) + len(TITLE_NAMES),), name="model_inputs")
    x = norm(inputs)
    x = tf.keras.layers.Dense(20, activation="relu")(x)
    x = tf.keras.layers.Dense(10, activation="relu")(x)
    outputs = tf.keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    return tf.keras.Model(inputs, outputs, name="titanic")


class TitanicServing(ServingModule):
    @tf.function(input_signature=[tf.TensorSpec([None], dtype, name=key) for key, dtype in RAW_SPEC.items()])
    def serve(self, pclass, name, sex, age, sibsp, parch, fare, cabin, embarked):
        raw = dict(pclass=pclass, sex=sex, age=age, sibsp=sibsp, parch=parch, fare=fare, cabin=cabin, embarked=embarked)
        probability = self.model(model_inputs(preprocess(raw), title_one_hot(name)), training=False)
        return {"probability": probability, "survived": tf.cast(probability[:, 0] >= 0.5, tf.int64)}

    @tf.function(input_signature=[tf.TensorSpec([None, len(FEATURE_NAMES)], tf.float32, name="features")])
    def serve_features(self, features):
        unknown_title = tf.zeros([tf.shape(features)[0], len(TITLE_NAMES)], tf.float32)
        return {"probability": self.model(model_inputs(features, unknown_title), training=False)}


def auc(model_fn, raw: dict[str, np.ndarray], labels: np.ndarray) -> float:
    metric = tf.keras.metrics.AUC()
    metric.update_state(labels, model_fn(raw))
    return float(metric.result().numpy())


def golden_cases() -> list[golden.GoldenCase]:
    nan = np.float32("nan")

    def rows(*r):
        cols = list(zip(*r, strict=True))
        return {
            key: np.array(col, dtype=object if dtype == tf.string else dtype.as_numpy_dtype)
            for (key, dtype), col in zip(RAW_SPEC.items(), cols, strict=True)
        }

    def names(*values):  # the same third-class man of 30 under different names
        return rows(*[(3, v, "male", 30.0, 0, 0, 8.05, "", "S") for v in values])

    raw_cases = {
        "typical_passengers": rows(
            (1, "Cumings, Mrs. John Bradley (Florence Briggs Thayer)", "female", 38.0, 1, 0, 71.2833, "C85", "C"),
            (3, "Braund, Mr. Owen Harris", "male", 22.0, 1, 0, 7.25, "", "S"),
            (2, "Nasser, Mrs. Nicholas (Adele Achem)", "female", 14.0, 1, 0, 30.07, "", "C"),
            (3, "Palsson, Master. Gosta Leonard", "male", 2.0, 3, 1, 21.075, "", "S"),
            (3, "Heikkinen, Miss. Laina", "female", 26.0, 0, 0, 7.925, "", "S"),
        ),
        "missing_age_cabin_embarked": rows(
            (3, "Moran, Mr. James", "male", nan, 0, 0, 8.05, "", ""),
            (1, "Icard, Miss. Amelie", "female", nan, 0, 0, 80.0, "", ""),
        ),
        "unseen_categories": rows(
            (2, "Doe, Mr. John", "X", 30.0, 0, 0, 13.0, "Z99", "X"), (1, "", "", 45.0, 1, 1, 50.0, "B5", "Q")
        ),
        "extreme_fares": rows(
            (1, "Ward, Miss. Anna", "female", 35.0, 0, 0, 512.3292, "B101", "C"),
            (3, "Leonard, Mr. Lionel", "male", 40.0, 0, 0, 0.0, "", "S"),
            (3, "Doe, Mr. Negative", "male", 40.0, 0, 0, -5.0, "", "S"),
        ),
        "pclass_outside_1_to_3": rows(
            (0, "Doe, Mr. John", "male", 30.0, 0, 0, 10.0, "", "S"),
            (7, "Doe, Mrs. Jane", "female", 30.0, 0, 0, 10.0, "", "S"),
        ),
        "name_empty": names(""),
        "name_without_title": names("John Doe", "Doe, John", "Doe, . John", "Doe Mr. John", "x" * 10_000),
        "name_unseen_title": names("Doe, Xyz. John", "Doe, Prof. John", "Gatsby, the Great. Jay", "Doe, Don. Juan"),
        "name_title_case_and_spacing": names("DOE, MR. JOHN", "doe,mr.john", "Doe,   Master .  Tim", "Doe, Mme. Anne"),
        "name_non_ascii": names(
            "Müller, Herr. Jürgen",
            "Åberg, Mrs. Åsa (Åsa Öberg)",
            "Ødegård, Miss. Ingrid",
            "山田, Mr. 太郎",
            "Doe, Mr. 😀",
        ),
        "batch_of_one": rows((3, "Asplund, Mrs. Carl Oscar", "female", 2.0, 4, 2, 31.275, "", "S")),
        "empty_batch": {
            k: np.zeros((0,), dtype=object if d == tf.string else d.as_numpy_dtype) for k, d in RAW_SPEC.items()
        },
    }
    cases = [golden.GoldenCase(n, "serving_default", v) for n, v in raw_cases.items()]
    features = np.zeros((3, len(FEATURE_NAMES)), np.float32)
    features[0, [0, 3, 11]] = 1
    features[0, 5], features[0, 9] = 38.0, 71.28
    features[1, [2, 4, 6, 10, 13]] = 1
    features[1, 9] = 7.25
    cases.append(golden.GoldenCase("book_features", "features", {"features": features}))
    cases.append(golden.GoldenCase("features_empty_batch", "features", {"features": np.zeros((0, 15), np.float32)}))
    return cases


def train(config: TrainConfig) -> TrainResult:
    """Trains on ``train.csv``, measures test AUC on ``test.csv``, exports ``<out_root>/titanic/<version>/``.

    Raises :class:`TrainerError` when the data files lack a column the model reads.
    """
    config = config.resolved(DEFAULT_EPOCHS, DEFAULT_SEED)
    clock = Stopwatch()
    make_deterministic(config.seed)
    train_raw, train_y = load_split("train", config.data_dir)
    test_raw, test_y = load_split("test", config.data_dir)
    if config.smoke:
        train_raw, train_y = {k: v[:64] for k, v in train_raw.items()}, train_y[:64]

    def inputs(raw, unknown_title_share=0.0):
        tensors = {k: tf.constant(v) for k, v in raw.items()}
        titles = title_one_hot(tensors["name"]).numpy()
        hide = np.random.default_rng(config.seed).random(len(titles)) < unknown_title_share
        titles[hide] = 0.0
        return model_inputs(preprocess(tensors), tf.constant(titles)).numpy()

    train_x = inputs(train_raw, UNKNOWN_TITLE_SHARE)
    test_x = inputs(test_raw)

    model = build_model(train_x)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[tf.keras.metrics.AUC(name="auc")])
    history = model.fit(
        train_x,
        train_y,
        batch_size=64,
        epochs=config.epochs,
        validation_data=(test_x, test_y),
        verbose=config.verbose,
        shuffle=True,
    )
    module = TitanicServing(model)
    test_auc = auc(
        lambda raw: module.serve(**{k: tf.constant(v) for k, v in raw.items()})["probability"], test_raw, test_y
    )
    book_features_auc = auc(
        lambda raw: module.serve_features(preprocess({k: tf.constant(v) for k, v in raw.items()}))["probability"],
        test_raw,
        test_y,
    )
    metrics = {
        "test_auc": round(test_auc, 4),
        "bar": AUC_BAR,
        "meets_bar": test_auc >= AUC_BAR,
        "book_test_auc": 0.81,
        "features_signature_test_auc": round(book_features_auc, 4),
    }
    return finish_export(
        module,
        {"serving_default": module.serve, "features": module.serve_features},
        name=NAME,
        config=config,
        clock=clock,
        cases=golden_cases(),
        atol=1e-5,
        rtol=1e-5,
        history=history.history,
        curves=["loss", "auc"],
        metrics=metrics,
        card={
            "description": __doc__.strip().split("\n")[0],
            "data": "titanic/train.csv (712 rows) for training, titanic/test.csv (179 rows) held out",
            "split": "the data set's own train/test files",
        },
    )


def evaluate(export_dir: Path, data_dir=None) -> dict:
    """Test AUC of an export, computed through its raw ``serving_default`` signature."""
    fn = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    raw, labels = load_split("test", data_dir)
    return {
        "test_auc": round(auc(lambda r: fn(**{k: tf.constant(v) for k, v in r.items()})["probability"], raw, labels), 4)
    }
