"""Book chapter 1-2: CIFAR2 (airplane vs automobile) from encoded image bytes.

``serving_default`` takes ``image_bytes`` string ``[-1]``: encoded JPEG, PNG, GIF or BMP of any size
and 1, 3 or 4 channels, decoded to RGB and resized to 32×32 in the graph. It returns
``probability`` float32 ``[-1,1]`` (of automobile) and ``label`` string ``[-1]``
("airplane"/"automobile"). The ``pixels`` signature takes float32 ``[-1,32,32,3]`` in [0,1].

Bytes that are not a decodable image fail the call with ``InvalidArgumentError`` (TF's
"Unknown image file format"); an empty batch returns empty outputs.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import tensorflow as tf

from python_trainer.data_dir import resolve_data_file
from python_trainer.errors import DataNotFoundError
from python_trainer.seeding import make_deterministic
from python_trainer.workflows.common import Stopwatch, TrainConfig, TrainResult, finish_export
from tfspark.toolkit import golden
from tfspark.toolkit.export import ServingModule

NAME = "cifar2"
DEFAULT_EPOCHS = 8
DEFAULT_SEED = 42
ACCURACY_BAR = 0.94
CLASSES = ["airplane", "automobile"]
SIZE = 32


def list_files(split: str, data_dir=None) -> tuple[list[str], np.ndarray]:
    """Sorted ``cifar2/<split>/<class>/*.jpg`` paths and labels (automobile = 1)."""
    root = resolve_data_file(f"cifar2/{split}", data_dir=data_dir)
    paths, labels = [], []
    for label, cls in enumerate(CLASSES):
        files = sorted(str(p) for p in (root / cls).glob("*.jpg"))
        if not files:
            raise DataNotFoundError(f"no JPEG files in {root / cls}", expected=f"{root / cls}/*.jpg")
        paths += files
        labels += [label] * len(files)
    return paths, np.array(labels, np.float32)


def decode(image_bytes: tf.Tensor) -> tf.Tensor:
    """One encoded image -> float32 [32,32,3] in [0,1]."""
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    image = tf.image.resize(tf.image.convert_image_dtype(image, tf.float32), [SIZE, SIZE])
    return tf.ensure_shape(tf.clip_by_value(image, 0.0, 1.0), [SIZE, SIZE, 3])


def dataset(paths, labels, *, batch: int, shuffle_seed: int | None) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(paths), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda p, y: (decode(tf.io.read_file(p)), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch).prefetch(tf.data.AUTOTUNE)


def build_model() -> tf.keras.Model:
    """3 blocks of two Conv-BN-ReLU and max-pool (32/64/128), global average pooling, dropout 0.3."""
    inputs = tf.keras.Input(shape=(SIZE, SIZE, 3), name="pixels")
    x = tf.keras.layers.RandomFlip("horizontal", seed=DEFAULT_SEED)(inputs)
    for filters in (32, 64, 128):
        for _ in range(2):
            x = tf.keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = tf.keras.layers.BatchNormalization()(x)
            x = tf.keras.layers.ReLU()(x)
        x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dropout(0.3)(x)
    outputs = tf.keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    return tf.keras.Model(inputs, outputs, name="cifar2")


class Cifar2Serving(ServingModule):
    def predict_pixels(self, pixels):
        # oneDNN's Conv2D on a 0-row batch returns its input shape and the next layer fails:
        # answer an empty batch without running the network.
        return tf.cond(
            tf.shape(pixels)[0] > 0,
            lambda: self.model(pixels, training=False),
            lambda: tf.zeros([0, 1], tf.float32),
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve(self, image_bytes):
        pixels = tf.map_fn(decode, image_bytes, fn_output_signature=tf.TensorSpec([SIZE, SIZE, 3], tf.float32))
        probability = self.predict_pixels(pixels)
        label = tf.where(probability[:, 0] >= 0.5, CLASSES[1], CLASSES[0])
        return {"probability": probability, "label": label}

    @tf.function(input_signature=[tf.TensorSpec([None, SIZE, SIZE, 3], tf.float32, name="pixels")])
    def serve_pixels(self, pixels):
        return {"probability": self.predict_pixels(pixels)}


def _encode(array: np.ndarray, fmt: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def golden_cases(seed: int, sample_bytes: list[bytes]) -> list[golden.GoldenCase]:
    """Generated images: PNG, grayscale, 64×48, 1×1, RGBA, plus two JPEGs of the test set's shape."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    sky = np.zeros((32, 32, 3), np.uint8)
    sky[..., 2] = 200
    sky[14:18, 4:28] = 90  # a wing-like bar on blue
    images = {
        "png_rgb_32x32": _encode(rgb, "PNG"),
        "jpeg_sky_32x32": _encode(sky, "JPEG"),
        "png_grayscale_32x32": _encode(rng.integers(0, 256, size=(32, 32), dtype=np.uint8), "PNG"),
        "jpeg_64x48": _encode(rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8), "JPEG"),
        "png_1x1": _encode(np.array([[[255, 0, 0]]], np.uint8), "PNG"),
        "png_rgba_40x40": _encode(rng.integers(0, 256, size=(40, 40, 4), dtype=np.uint8), "PNG"),
    }
    batch = np.array(list(images.values()) + sample_bytes, dtype=object)
    pixels = rng.uniform(0, 1, size=(3, SIZE, SIZE, 3)).astype(np.float32)
    return [
        golden.GoldenCase("mixed_formats_and_sizes", "serving_default", {"image_bytes": batch}),
        golden.GoldenCase("batch_of_one_png", "serving_default", {"image_bytes": batch[:1]}),
        golden.GoldenCase("empty_batch", "serving_default", {"image_bytes": np.zeros((0,), dtype=object)}),
        golden.GoldenCase("pixels_uniform", "pixels", {"pixels": pixels}),
        golden.GoldenCase("pixels_empty_batch", "pixels", {"pixels": np.zeros((0, SIZE, SIZE, 3), np.float32)}),
    ]


def _accuracy(model, ds) -> float:
    metric = tf.keras.metrics.BinaryAccuracy()
    for x, y in ds:
        metric.update_state(y, model(x, training=False))
    return float(metric.result().numpy())


def train(config: TrainConfig) -> TrainResult:
    """Trains on ``cifar2/train``, measures accuracy on ``cifar2/test``, exports ``<out_root>/cifar2/<version>/``."""
    config = config.resolved(DEFAULT_EPOCHS, DEFAULT_SEED)
    clock = Stopwatch()
    make_deterministic(config.seed)
    train_paths, train_y = list_files("train", config.data_dir)
    test_paths, test_y = list_files("test", config.data_dir)
    if config.smoke:
        pick = np.random.default_rng(config.seed).permutation(len(train_paths))[:64]
        train_paths, train_y = [train_paths[i] for i in pick], train_y[pick]
        test_paths, test_y = test_paths[::50], test_y[::50]
    train_ds = dataset(train_paths, train_y, batch=64, shuffle_seed=config.seed)
    test_ds = dataset(test_paths, test_y, batch=256, shuffle_seed=None)

    model = build_model()
    steps = max(1, config.epochs * int(np.ceil(len(train_paths) / 64)))
    schedule = tf.keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps)
    model.compile(optimizer=tf.keras.optimizers.Adam(schedule), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(train_ds, epochs=config.epochs, validation_data=test_ds, verbose=config.verbose)
    accuracy = _accuracy(model, test_ds)
    metrics = {
        "test_accuracy": round(accuracy, 4),
        "bar": ACCURACY_BAR,
        "meets_bar": accuracy >= ACCURACY_BAR,
        "book_val_accuracy": 0.9345,
    }
    sample_bytes = [Path(test_paths[0]).read_bytes(), Path(test_paths[-1]).read_bytes()]
    module = Cifar2Serving(model)
    return finish_export(
        module,
        {"serving_default": module.serve, "pixels": module.serve_pixels},
        name=NAME,
        config=config,
        clock=clock,
        cases=golden_cases(config.seed, sample_bytes),
        atol=1e-5,
        rtol=1e-4,
        history=history.history,
        curves=["loss", "accuracy"],
        metrics=metrics,
        card={
            "description": __doc__.strip().split("\n")[0],
            "data": f"cifar2/train ({len(train_paths)} JPEGs) for training, cifar2/test ({len(test_paths)}) held out",
            "split": "the data set's own train/test folders",
        },
    )


def evaluate(export_dir: Path, data_dir=None) -> dict:
    """Test accuracy of an export, through its ``serving_default`` signature on the JPEG bytes."""
    fn = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    paths, labels = list_files("test", data_dir)
    correct = 0
    for start in range(0, len(paths), 256):
        batch = tf.constant([Path(p).read_bytes() for p in paths[start : start + 256]])
        predicted = fn(image_bytes=batch)["label"].numpy() == CLASSES[1].encode()
        correct += int((predicted == (labels[start : start + 256] == 1)).sum())
    return {"test_accuracy": round(correct / len(paths), 4)}
