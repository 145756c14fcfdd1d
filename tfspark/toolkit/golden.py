"""Golden vectors: generated inputs and the outputs that Python TF computed for them.

They live in ``<export>/assets.extra/golden.json`` and are read by both halves: pytest replays them
through Python TF, and ScalaTest through TF Java, within the recorded tolerance. Format (version 1)::

    {"format": 1, "model": "linear", "version": 1, "tensorflow": "2.18.1",
     "tolerance": {"atol": 1e-5, "rtol": 1e-6},
     "cases": [{"name": "book_examples", "signature": "serving_default",
                "inputs":  {"features":   {"dtype": "float32", "shape": [4, 2], "data": [...]}},
                "outputs": {"prediction": {"dtype": "float32", "shape": [4, 1], "data": [...]}}}]}

``data`` is the tensor flattened in row-major order. Non-finite floats are written as the JSON
extensions ``NaN``/``Infinity``. String tensors carry ``"encoding"``: ``"utf-8"`` (text) when every
element is valid UTF-8, else ``"base64"`` (encoded images). Every numeric dtype is written by its
numpy/TF name (``uint8``, ``uint64``, ``float16``, ``bfloat16`` via ``ml_dtypes``...) with plain JSON
numbers: half-precision values as the floats they hold exactly, uint64 values up to 2**64 - 1.

A ragged input (a ``tf.RaggedTensor``, fed to a ``RaggedTensorSpec`` signature input) carries
``"ragged": true``; its ``shape`` is the bounding shape with ``null`` for each ragged dimension,
``data`` its flat values, and ``row_splits`` one list per ragged dimension, outermost first
(``nested_row_splits``)::

    {"dtype": "float32", "ragged": true, "shape": [3, null], "row_splits": [[0, 2, 2, 3]], "data": [1, 2, 3]}

In the SignatureDef such an input is its components: ``x`` (the flat values), ``x_1``... (the row
splits, outermost first), which :func:`signature_feed` builds.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import ml_dtypes  # noqa: F401  (registers numpy's "bfloat16" dtype name, which golden files use)
import numpy as np
import tensorflow as tf

from python_trainer.errors import GoldenMismatchError, GoldenVectorsMissingError
from tfspark.toolkit.layout import validate_saved_model_dir

GOLDEN_FILE = "golden.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class GoldenCase:
    """One call of one signature: named input arrays and the outputs TF returned for them."""

    name: str
    signature: str
    inputs: Mapping[str, np.ndarray]
    outputs: Mapping[str, np.ndarray] = field(default_factory=dict)


def _encode(array) -> dict:
    if isinstance(array, tf.RaggedTensor):
        flat = _encode(array.flat_values)
        shape = [int(array.nrows())] + [None] * array.ragged_rank + flat["shape"][1:]
        splits = [s.numpy().tolist() for s in array.nested_row_splits]
        return {**flat, "ragged": True, "shape": shape, "row_splits": splits}
    array = np.asarray(array)
    if array.dtype.kind in ("S", "O", "U"):
        raw = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in array.reshape(-1)]
        try:
            data, encoding = [b.decode("utf-8") for b in raw], "utf-8"
        except UnicodeDecodeError:
            data, encoding = [base64.b64encode(b).decode("ascii") for b in raw], "base64"
        return {"dtype": "string", "encoding": encoding, "shape": list(array.shape), "data": data}
    else:
        flat = array.reshape(-1)
        numbers: list = [float(v) for v in flat] if array.dtype == ml_dtypes.bfloat16 else flat.tolist()
        data = numbers  # floats and ints (the string branch above has str)
        dtype = array.dtype.name
    return {"dtype": dtype, "shape": list(array.shape), "data": data}


def _decode(entry: Mapping):
    if entry.get("ragged"):
        inner = entry["shape"][1 + len(entry["row_splits"]) :]
        flat = _decode({**entry, "ragged": False, "shape": [-1, *inner]})
        return tf.RaggedTensor.from_nested_row_splits(flat, [np.array(s, np.int64) for s in entry["row_splits"]])
    if entry["dtype"] == "string":
        decode = base64.b64decode if entry.get("encoding") == "base64" else (lambda s: s.encode("utf-8"))
        flat = np.array([decode(s) for s in entry["data"]], dtype=object)
    else:
        flat = np.array(entry["data"], dtype=tf.as_dtype(entry["dtype"]).as_numpy_dtype)
    return flat.reshape(entry["shape"])


def signature_feed(inputs: Mapping) -> dict:
    """A case's inputs keyed as the SignatureDef's inputs: a ragged input ``x`` becomes its components
    ``x`` (flat values) and ``x_1``, ``x_2``... (row splits, outermost first), as ``tf.saved_model.save``
    names them."""
    feed = {}
    for key, value in inputs.items():
        if isinstance(value, tf.RaggedTensor):
            feed[key] = value.flat_values
            for i, splits in enumerate(value.nested_row_splits, start=1):
                feed[f"{key}_{i}"] = splits
        else:
            feed[key] = value
    return feed


def compute_outputs(loaded, case: GoldenCase) -> dict[str, np.ndarray]:
    """Runs ``case`` through ``loaded.signatures[case.signature]`` and returns numpy outputs."""
    fn = loaded.signatures[case.signature]
    result = fn(**{k: tf.constant(v) for k, v in signature_feed(case.inputs).items()})
    return {k: v.numpy() for k, v in result.items()}


def write_golden(
    export_dir: Path, *, model: str, version: int, cases: list[GoldenCase], atol: float, rtol: float
) -> Path:
    """Computes every case's outputs with the *saved* model (not the Keras object) and writes them."""
    loaded = tf.saved_model.load(str(export_dir))
    records = []
    for case in cases:
        outputs = compute_outputs(loaded, case)
        records.append(
            {
                "name": case.name,
                "signature": case.signature,
                "inputs": {k: _encode(v) for k, v in case.inputs.items()},
                "outputs": {k: _encode(v) for k, v in outputs.items()},
            }
        )
    doc = {
        "format": FORMAT_VERSION,
        "model": model,
        "version": version,
        "tensorflow": tf.__version__,
        "tolerance": {"atol": atol, "rtol": rtol},
        "cases": records,
    }
    path = golden_path(export_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path


def golden_path(export_dir: Path) -> Path:
    """Where an export's golden vectors live: ``<export>/assets.extra/golden.json``."""
    return Path(export_dir) / "assets.extra" / GOLDEN_FILE


def load_golden(export_dir: Path) -> tuple[dict, list[GoldenCase]]:
    """Reads ``golden.json``; returns the document's header and its cases as numpy arrays.

    Raises :class:`GoldenVectorsMissingError` (saying how to make them) when the export has none.
    """
    path = golden_path(export_dir)
    if not path.is_file():
        raise GoldenVectorsMissingError(
            f"{export_dir} has no golden vectors ({path.relative_to(export_dir)}); make them from a few real "
            f"input rows: python -m python_trainer golden {export_dir} --sample inputs.csv (or .json, .npz, a "
            "folder of images), or export with tfspark.toolkit.export.export_keras(model, DIR, sample_inputs=...) "
            "or python -m python_trainer export --keras MODEL.keras --sample inputs.csv --out DIR",
            path=str(path),
        )
    doc = json.loads(path.read_text(encoding="utf-8"))
    cases = [
        GoldenCase(
            name=c["name"],
            signature=c["signature"],
            inputs={k: _decode(v) for k, v in c["inputs"].items()},
            outputs={k: _decode(v) for k, v in c["outputs"].items()},
        )
        for c in doc["cases"]
    ]
    return doc, cases


def verify_golden(export_dir: Path) -> float:
    """Replays every golden case through Python TF.

    Returns the largest absolute difference seen. Raises :class:`GoldenMismatchError` naming the
    case, output and element when any value is off by more than ``atol + rtol * |expected|``,
    :class:`~python_trainer.errors.NotASavedModelError` when ``export_dir`` is not a SavedModel,
    and :class:`GoldenVectorsMissingError` when it has no golden vectors.
    """
    export_dir = validate_saved_model_dir(Path(export_dir))
    doc, cases = load_golden(export_dir)
    atol, rtol = doc["tolerance"]["atol"], doc["tolerance"]["rtol"]
    loaded = tf.saved_model.load(str(export_dir))
    worst = 0.0
    for case in cases:
        got = compute_outputs(loaded, case)
        for key, expected in case.outputs.items():
            actual = got[key]
            if expected.dtype == object:
                if actual.reshape(-1).tolist() != expected.reshape(-1).tolist():
                    raise GoldenMismatchError(f"case '{case.name}' output '{key}' differs", case=case.name, output=key)
                continue
            if actual.shape != expected.shape:
                raise GoldenMismatchError(
                    f"case '{case.name}' output '{key}': expected shape {expected.shape}, got {actual.shape}",
                    case=case.name,
                    output=key,
                    expected=expected.shape,
                    got=actual.shape,
                )
            if expected.dtype.kind in "iub":
                if not np.array_equal(actual, expected):
                    raise GoldenMismatchError(
                        f"case '{case.name}' output '{key}': expected {expected.tolist()}, got {actual.tolist()}",
                        case=case.name,
                        output=key,
                    )
                continue
            diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
            bound = atol + rtol * np.abs(expected.astype(np.float64))
            same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))  # equal infinities included
            bad = np.argwhere(~(diff <= bound) & ~same)
            if bad.size:
                idx = tuple(bad[0])
                raise GoldenMismatchError(
                    f"case '{case.name}' output '{key}' at {idx}: expected {expected[idx]}, "
                    f"got {actual[idx]} (atol={atol}, rtol={rtol})",
                    case=case.name,
                    output=key,
                    expected=float(expected[idx]),
                    got=float(actual[idx]),
                )
            finite = np.isfinite(diff)
            if finite.any():
                worst = max(worst, float(diff[finite].max()))
    return worst
