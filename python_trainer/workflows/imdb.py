"""Book chapter 1-3: IMDB review sentiment from raw review text.

``serving_default`` takes ``review`` string ``[-1]``, raw text; standardization (lower case, HTML
``<br />`` and punctuation stripped), unigram + bigram TF-IDF over a 20,000-token vocabulary scaled
to unit L2 norm, and the classifier all live in the graph. It returns ``probability`` float32
``[-1,1]`` of a positive review. An empty review, or one made only of unknown words, has an all-zero
vector and gets the model's prior; the norm makes a review's length matter little, so a very long
review is scored like a short one with the same word mix.
"""

from __future__ import annotations

import gzip
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

NAME = "imdb"
DEFAULT_EPOCHS = 5
DEFAULT_SEED = 42
ACCURACY_BAR = 0.89
MAX_TOKENS = 20_000
LEARNING_RATE = 3e-3
DATA_FILE = "imdb/imdb_full_50k.csv.gz"


def load(data_dir=None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (texts, labels), "test": (texts, labels)}`` from the 50k reviews file."""
    path = resolve_data_file(DATA_FILE, data_dir=data_dir)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        df = pd.read_csv(f)
    expected = {"split", "label", "text"}
    if not expected <= set(df.columns):
        raise TrainerError(f"{path} lacks columns {sorted(expected - set(df.columns))}", got=list(df.columns))
    return {
        split: (part["text"].fillna("").to_numpy(object), part["label"].to_numpy(np.float32))
        for split, part in df.groupby("split")
    }


def standardize(text: tf.Tensor) -> tf.Tensor:
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, r"<br\s*/?>", " ")
    return tf.strings.regex_replace(text, r"[^\w\s']", " ")


def unit_tfidf(vectorizer: tf.keras.layers.TextVectorization, texts: tf.Tensor) -> tf.Tensor:
    """TF-IDF rows of ``texts`` scaled to unit L2 norm; a text without known tokens stays all zeros."""
    return tf.math.l2_normalize(vectorizer(texts), axis=-1)


def build_model(
    train_texts: np.ndarray, *, adapt_rows: int
) -> tuple[tf.keras.layers.TextVectorization, tf.keras.Model]:
    """TF-IDF vectorizer (adapted on the training texts) and Dropout → Dense 32 → Dense 1 on its unit rows."""
    vectorizer = tf.keras.layers.TextVectorization(
        max_tokens=MAX_TOKENS, ngrams=2, output_mode="tf_idf", standardize=standardize, name="tfidf"
    )
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(train_texts[:adapt_rows]).batch(512))
    inputs = tf.keras.Input(shape=(vectorizer.vocabulary_size(),), name="tfidf")
    x = tf.keras.layers.Dropout(0.5)(inputs)
    x = tf.keras.layers.Dense(32, activation="relu")(x)
    outputs = tf.keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    return vectorizer, tf.keras.Model(inputs, outputs, name="imdb")


class ImdbServing(ServingModule):
    def __init__(self, vectorizer, model):
        super().__init__(model)
        self.vectorizer = vectorizer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="review")])
    def serve(self, review):
        return {"probability": self.model(unit_tfidf(self.vectorizer, review), training=False)}


def golden_cases(seed: int) -> list[golden.GoldenCase]:
    rng = np.random.default_rng(seed)
    words = ["good", "bad", "movie", "great", "awful", "plot", "acting", "boring", "wonderful", "the", "a"]
    long_review = " ".join(rng.choice(words, size=10_000))
    reviews = {
        "typical": [
            "A wonderful film, great acting and a moving story.",
            "Boring plot. Awful acting. A waste of time.",
        ],
        "empty_and_blank": ["", "   "],
        "html_breaks": ["Great movie!<br /><br />Loved every minute.<br/>Would watch again."],
        "non_ascii": ["Ein großartiger Film – très bien, 素晴らしい映画 😀", "Ужасный фильм, не советую."],
        "ten_thousand_words": [long_review],
        "unknown_words_only": ["zzqx vvbnm qqwerty"],
        "empty_batch": [],
    }
    return [
        golden.GoldenCase(name, "serving_default", {"review": np.array(texts, dtype=object).reshape(-1)})
        for name, texts in reviews.items()
    ]


def train(config: TrainConfig) -> TrainResult:
    """Trains on the 25k train split, measures accuracy on the 25k test split, exports ``imdb/<version>``."""
    config = config.resolved(DEFAULT_EPOCHS, DEFAULT_SEED)
    clock = Stopwatch()
    make_deterministic(config.seed)
    data = load(config.data_dir)
    train_x, train_y = data["train"]
    test_x, test_y = data["test"]
    if config.smoke:
        pick = np.random.default_rng(config.seed).permutation(len(train_x))[:256]
        test_pick = np.random.default_rng(config.seed).permutation(len(test_x))[:256]
        train_x, train_y, test_x, test_y = train_x[pick], train_y[pick], test_x[test_pick], test_y[test_pick]
    vectorizer, model = build_model(train_x, adapt_rows=len(train_x))

    def vectorized(x, y, shuffle):
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            ds = ds.shuffle(len(x), seed=config.seed)
        return ds.batch(128).map(lambda t, label: (unit_tfidf(vectorizer, t), label)).prefetch(tf.data.AUTOTUNE)

    optimizer = tf.keras.optimizers.Adam(LEARNING_RATE)
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(
        vectorized(train_x, train_y, True),
        epochs=config.epochs,
        validation_data=vectorized(test_x, test_y, False),
        verbose=config.verbose,
    )
    accuracy = float(model.evaluate(vectorized(test_x, test_y, False), verbose=0)[1])
    metrics = {
        "test_accuracy": round(accuracy, 4),
        "bar": ACCURACY_BAR,
        "meets_bar": accuracy >= ACCURACY_BAR,
        "book_val_accuracy": 0.86,
    }
    module = ImdbServing(vectorizer, model)
    return finish_export(
        module,
        {"serving_default": module.serve},
        name=NAME,
        config=config,
        clock=clock,
        cases=golden_cases(config.seed),
        atol=1e-5,
        rtol=1e-4,
        history=history.history,
        curves=["loss", "accuracy"],
        metrics=metrics,
        card={
            "description": __doc__.strip().split("\n")[0],
            "data": f"{DATA_FILE}: {len(train_x)} training reviews, {len(test_x)} test reviews (Maas et al., 2011)",
            "split": "the data set's own train/test split",
        },
    )


def evaluate(export_dir: Path, data_dir=None) -> dict:
    """Accuracy on the 25k test reviews, through ``serving_default`` on the raw text."""
    fn = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    texts, labels = load(data_dir)["test"]
    correct = 0
    for start in range(0, len(texts), 1024):
        p = fn(review=tf.constant(texts[start : start + 1024].astype(str)))["probability"].numpy()[:, 0]
        correct += int(((p >= 0.5) == (labels[start : start + 1024] == 1)).sum())
    return {"test_accuracy": round(correct / len(texts), 4)}
