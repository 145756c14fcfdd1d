"""The book's chapter 6-7 linear regression: the model that Spark Scala calls.

Data: n=800, X ~ U[-10, 10]^2, Y = X @ [2, -1] + 3 + N(0, 2). Model: ``Dense(1)`` with rmsprop on
mse, batch 8, 100 epochs. Export: ``serving_default`` takes ``features`` float32 [-1, 2] and returns
``prediction`` float32 [-1, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from python_trainer.seeding import make_deterministic
from python_trainer.workflows.common import Stopwatch, TrainConfig, TrainResult, finish_export
from tfspark.toolkit import export, golden

NAME = "linear"
DEFAULT_EPOCHS = 100
DEFAULT_SEED = 42
N_SAMPLES = 800
TRUE_W = np.array([[2.0], [-1.0]], dtype=np.float32)
TRUE_B = 3.0
NOISE_STDDEV = 2.0
BOOK_EXAMPLES = np.array([[1, 2], [3, 5], [6, 7], [8, 3]], dtype=np.float32)


def make_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The book's synthetic regression data, from a seeded NumPy generator."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-10.0, 10.0, size=(N_SAMPLES, 2)).astype(np.float32)
    noise = rng.normal(0.0, NOISE_STDDEV, size=(N_SAMPLES, 1)).astype(np.float32)
    y = x @ TRUE_W + TRUE_B + noise
    return x, y


def build_model() -> tf.keras.Model:
    inputs = tf.keras.Input(shape=(2,), name="features")
    outputs = tf.keras.layers.Dense(1, name="prediction")(inputs)
    return tf.keras.Model(inputs=inputs, outputs=outputs, name="linear")


class LinearServing(export.ServingModule):
    """The exported module: one ``serving_default`` signature with chosen tensor keys."""

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="features")])
    def serve(self, features):
        return {"prediction": self.model(features, training=False)}


def golden_cases(seed: int) -> list[golden.GoldenCase]:
    """Generated inputs that cover the edges: zeros, ±1e6, tiny and subnormal values, one row."""
    rng = np.random.default_rng(seed + 1)
    f32 = np.float32
    cases = {
        "book_examples": BOOK_EXAMPLES,
        "batch_of_one": np.array([[0.5, -0.25]], dtype=f32),
        "zeros": np.zeros((2, 2), dtype=f32),
        "plus_minus_1e6": np.array([[1e6, -1e6], [-1e6, 1e6], [1e6, 1e6]], dtype=f32),
        "tiny": np.array([[1e-30, -1e-30], [1.4e-45, -1.4e-45], [1e-7, 1e-7]], dtype=f32),
        "uniform_random": rng.uniform(-10.0, 10.0, size=(16, 2)).astype(f32),
    }
    return [golden.GoldenCase(name, "serving_default", {"features": x}) for name, x in cases.items()]


def train(config: TrainConfig) -> TrainResult:
    """Trains, exports ``<out_root>/linear/<version>/`` and writes golden vectors and the report.

    ``config.data_dir`` is ignored: this workflow generates its data. ``config.smoke`` changes
    nothing here: the full training takes seconds.
    """
    config = config.resolved(DEFAULT_EPOCHS, DEFAULT_SEED)
    clock = Stopwatch()
    make_deterministic(config.seed)
    x, y = make_data(config.seed)
    model = build_model()
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=8, epochs=config.epochs, verbose=config.verbose, shuffle=True)

    kernel, bias = (v.numpy() for v in model.layers[-1].weights)
    metrics = {
        "final_loss_mse": float(history.history["loss"][-1]),
        "final_mae": float(history.history["mae"][-1]),
        "learned_w": kernel.reshape(-1).tolist(),
        "learned_b": float(bias.reshape(-1)[0]),
        "true_w": TRUE_W.reshape(-1).tolist(),
        "true_b": TRUE_B,
    }
    module = LinearServing(model)
    return finish_export(
        module,
        {"serving_default": module.serve},
        name=NAME,
        config=config,
        clock=clock,
        cases=golden_cases(config.seed),
        atol=1e-5,
        rtol=1e-6,
        history=history.history,
        curves=["loss", "mae"],
        metrics=metrics,
        card={
            "description": __doc__.strip().split("\n")[0],
            "data": f"synthetic: n={N_SAMPLES}, X~U[-10,10]^2, Y = X@[2,-1] + 3 + N(0,{NOISE_STDDEV})",
            "split": "none: the book's chapter 6-7 fits all rows and reports w and b",
        },
    )


def evaluate(export_dir: Path, data_dir=None) -> dict:
    """MSE of an export on freshly generated data (seed 7), through ``serving_default``."""
    del data_dir
    fn = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    x, y = make_data(7)
    return {"mse_on_fresh_data": round(float(np.mean((fn(features=tf.constant(x))["prediction"].numpy() - y) ** 2)), 4)}
