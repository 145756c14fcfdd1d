"""Book chapter 1-1: Titanic survival from the passengers' raw columns.

``serving_default`` takes the raw columns (``pclass`` int64, ``sex`` string, ``age`` float32 with
NaN = missing, ``sibsp`` int64, ``parch`` int64, ``fare`` float32, ``cabin`` and ``embarked``
strings with "" = missing, each ``[-1]``) and returns ``probability`` float32 ``[-1,1]`` and
``survived`` int64 ``[-1]``. The book's preprocessing runs in the graph; the ``features`` signature
takes its 15 preprocessed floats ``[-1,15]`` (the book's column order) and returns ``probability``.

Edges: unknown categories (``sex`` "X", ``embarked`` "X", ``pclass`` 7) give all-zero one-hots;
missing age becomes 0 with ``Age_null`` = 1; missing cabin sets ``Cabin_null``; missing embarked
sets ``Embarked_nan``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from python_trainer import golden
from python_trainer.data_dir import resolve_data_file
from python_trainer.errors import TrainerError
from python_trainer.export import ServingModule
from python_trainer.seeding import make_deterministic
from python_trainer.workflows.common import Stopwatch, TrainConfig, TrainResult, finish_export

NAME = "titanic"
DEFAULT_EPOCHS = 60
DEFAULT_SEED = 42
AUC_BAR = 0.85
FEATURE_NAMES = [
    "Pclass_1", "Pclass_2", "Pclass_3", "female", "male", "Age", "Age_null", "SibSp", "Parch", "Fare",
    "Cabin_null", "Embarked_C", "Embarked_Q", "Embarked_S", "Embarked_nan",
]  # fmt: skip
RAW_SPEC = {
    "pclass": tf.int64,
    "sex": tf.string,
    "age": tf.float32,
    "sibsp": tf.int64,
    "parch": tf.int64,
    "fare": tf.float32,
    "cabin": tf.string,
    "embarked": tf.string,
}
REQUIRED_COLUMNS = ["Survived", "Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Cabin", "Embarked"]


def load_split(split: str, data_dir=None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Reads ``titanic/<split>.csv`` into raw input arrays (the serving dtypes) and labels."""
    path = resolve_data_file(f"titanic/{split}.csv", data_dir=data_dir)
    df = pd.read_csv(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise TrainerError(f"{path} lacks columns {missing}; expected {REQUIRED_COLUMNS}", got=list(df.columns))
    raw = {
        "pclass": df["Pclass"].to_numpy(np.int64),
        "sex": df["Sex"].fillna("").astype(str).to_numpy(object),
        "age": df["Age"].to_numpy(np.float32),
        "sibsp": df["SibSp"].to_numpy(np.int64),
        "parch": df["Parch"].to_numpy(np.int64),
        "fare": df["Fare"].fillna(0).to_numpy(np.float32),
        "cabin": df["Cabin"].fillna("").astype(str).to_numpy(object),
        "embarked": df["Embarked"].fillna("").astype(str).to_numpy(object),
    }
    return raw, df["Survived"].to_numpy(np.float32)


def preprocess(raw: dict[str, tf.Tensor]) -> tf.Tensor:
    """The book's 15 features, in graph: one-hots, NaN age as 0 plus an indicator, missing flags."""

    def one_hot(values, categories):
        return tf.cast(tf.equal(tf.expand_dims(values, -1), tf.constant(categories)), tf.float32)

    age = tf.cast(raw["age"], tf.float32)
    age_null = tf.math.is_nan(age)
    columns = [
        one_hot(raw["pclass"], np.array([1, 2, 3], np.int64)),
        one_hot(raw["sex"], ["female", "male"]),
        tf.expand_dims(tf.where(age_null, 0.0, age), -1),
        tf.expand_dims(tf.cast(age_null, tf.float32), -1),
        tf.expand_dims(tf.cast(raw["sibsp"], tf.float32), -1),
        tf.expand_dims(tf.cast(raw["parch"], tf.float32), -1),
        tf.expand_dims(tf.cast(raw["fare"], tf.float32), -1),
        tf.expand_dims(tf.cast(tf.equal(raw["cabin"], ""), tf.float32), -1),
        one_hot(raw["embarked"], ["C", "Q", "S", ""]),
    ]
    return tf.concat(columns, axis=-1)


def build_model(train_features: np.ndarray) -> tf.keras.Model:
    """The book's Dense 20-10-1 with a Normalization layer adapted to the training features."""
    norm = tf.keras.layers.Normalization(name="normalize")
    norm.adapt(train_features)
    inputs = tf.keras.Input(shape=(len(FEATURE_NAMES),), name="features")
    x = norm(inputs)
    x = tf.keras.layers.Dense(20, activation="relu")(x)
    x = tf.keras.layers.Dense(10, activation="relu")(x)
    outputs = tf.keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    return tf.keras.Model(inputs, outputs, name="titanic")


class TitanicServing(ServingModule):
    @tf.function(input_signature=[tf.TensorSpec([None], dtype, name=key) for key, dtype in RAW_SPEC.items()])
    def serve(self, pclass, sex, age, sibsp, parch, fare, cabin, embarked):
        raw = dict(pclass=pclass, sex=sex, age=age, sibsp=sibsp, parch=parch, fare=fare, cabin=cabin, embarked=embarked)
        probability = self.model(preprocess(raw), training=False)
        return {"probability": probability, "survived": tf.cast(probability[:, 0] >= 0.5, tf.int64)}

    @tf.function(input_signature=[tf.TensorSpec([None, len(FEATURE_NAMES)], tf.float32, name="features")])
    def serve_features(self, features):
        return {"probability": self.model(features, training=False)}


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

    raw_cases = {
        "typical_passengers": rows(
            (1, "female", 38.0, 1, 0, 71.2833, "C85", "C"),
            (3, "male", 22.0, 1, 0, 7.25, "", "S"),
            (2, "female", 14.0, 1, 0, 30.07, "", "C"),
        ),
        "missing_age_cabin_embarked": rows(
            (3, "male", nan, 0, 0, 8.05, "", ""), (1, "female", nan, 0, 0, 80.0, "", "")
        ),
        "unseen_categories": rows((2, "X", 30.0, 0, 0, 13.0, "Z99", "X"), (1, "", 45.0, 1, 1, 50.0, "B5", "Q")),
        "extreme_fares": rows((1, "female", 35.0, 0, 0, 512.3292, "B101", "C"), (3, "male", 40.0, 0, 0, 0.0, "", "S")),
        "pclass_outside_1_to_3": rows((0, "male", 30.0, 0, 0, 10.0, "", "S"), (7, "female", 30.0, 0, 0, 10.0, "", "S")),
        "batch_of_one": rows((3, "female", 2.0, 4, 2, 31.275, "", "S")),
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
    """Trains on ``train.csv``, measures test AUC on ``test.csv``, exports ``<out_root>/titanic/<version>/``."""
    config = config.resolved(DEFAULT_EPOCHS, DEFAULT_SEED)
    clock = Stopwatch()
    make_deterministic(config.seed)
    train_raw, train_y = load_split("train", config.data_dir)
    test_raw, test_y = load_split("test", config.data_dir)
    if config.smoke:
        train_raw, train_y = {k: v[:64] for k, v in train_raw.items()}, train_y[:64]
    train_x = preprocess({k: tf.constant(v) for k, v in train_raw.items()}).numpy()
    test_x = preprocess({k: tf.constant(v) for k, v in test_raw.items()}).numpy()

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
    metrics = {"test_auc": round(test_auc, 4), "bar": AUC_BAR, "meets_bar": test_auc >= AUC_BAR, "book_test_auc": 0.81}
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
