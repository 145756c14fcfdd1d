"""SavedModels into the MLflow model registry, in one call, for tfspark and ``mlflow.pyfunc`` alike.

>>> from tfspark.mlflow import log_model                                      # doctest: +SKIP
>>> info = log_model("models/titanic/1", registered_model_name="titanic")    # doctest: +SKIP

Then ``tfpredict('models:/titanic/1', ...)`` (or ``@alias``) scores it inside Spark's JVM, and
``mlflow.pyfunc.load_model(info.model_uri)`` in Python, from the same files: the SavedModel is the
model version's artifact ``saved_model`` (with its ``assets.extra/``: golden vectors, warm-up
requests, training report), and ``tfspark/mlflow_pyfunc.py`` is its pyfunc code.

MLflow's own TensorFlow flavor logs a Keras 3 model as a ``.keras`` file, which TensorFlow's C++
loader (and so tfspark) cannot restore; export a SavedModel first (``model.export(DIR)``) and log
that folder here. Needs the ``mlflow`` (or ``mlflow-skinny``) package; the tracking server is
``tracking_uri``, else MLflow's own setting (``MLFLOW_TRACKING_URI``).
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path

from tfspark.errors import TFSparkClientError

PYFUNC_CODE = Path(__file__).with_name("mlflow_pyfunc.py")

# The SavedModel's files that describe its training: logged to the run as well, so MLflow's UI shows them.
_TRAINING_FILES = ("training_report.json", "metrics.json", "model_card.md", "training_curves.png")


def log_model(
    export_dir: str | os.PathLike,
    *,
    registered_model_name: str | None = None,
    name: str = "model",
    signature: str = "serving_default",
    tracking_uri: str | None = None,
    alias: str | None = None,
):
    """Logs the SavedModel in ``export_dir`` as an MLflow model, and registers it when asked.

    It runs in the active MLflow run, else in a new one that it ends. The run gets the SavedModel's
    numeric metrics (``assets.extra/metrics.json``, as the book's trainers write it) and its training
    report files as artifacts under ``training/``. With ``registered_model_name`` the model becomes
    that registered model's next version, and with ``alias`` too (e.g. ``champion``) the alias is
    moved to it. Returns MLflow's ``ModelInfo`` (``model_uri``, ``registered_model_version``).

    Raises :class:`TFSparkClientError` ``INVALID_ARGUMENT`` when ``export_dir`` is not a SavedModel
    folder, ``alias`` is given without ``registered_model_name``, or mlflow is not installed.
    """
    folder = _saved_model_folder(export_dir)
    if alias is not None and registered_model_name is None:
        raise TFSparkClientError.from_template(
            "INVALID_ARGUMENT",
            what="alias",
            got=f"'{alias}' without registered_model_name",
            expected="registered_model_name as well",
        )
    mlflow = _mlflow()
    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
    own_run = mlflow.active_run() is None
    if own_run:
        mlflow.start_run()
    try:
        extra = folder / "assets.extra"
        metrics = _numeric_metrics(extra / "metrics.json")
        if metrics:
            mlflow.log_metrics(metrics)
        mlflow.log_params({"tfspark.export_dir": str(folder.resolve()), "tfspark.signature": signature})
        for file in _TRAINING_FILES:
            if (extra / file).is_file():
                mlflow.log_artifact(str(extra / file), artifact_path="training")
        info = mlflow.pyfunc.log_model(
            name=name, registered_model_name=registered_model_name, **_pyfunc_model(folder, signature)
        )
    finally:
        if own_run:
            mlflow.end_run()
    if alias is not None and registered_model_name is not None:
        version = str(info.registered_model_version)
        mlflow.MlflowClient().set_registered_model_alias(registered_model_name, alias, version)
    return info


def save_model(export_dir: str | os.PathLike, path: str | os.PathLike, *, signature: str = "serving_default") -> None:
    """Writes the MLflow model :func:`log_model` logs into the folder ``path`` instead, with no tracking
    server: for ``mlflow.pyfunc.load_model(path)`` and ``mlflow.pyfunc.spark_udf(spark, path)``.

    Raises :class:`TFSparkClientError` ``INVALID_ARGUMENT`` as :func:`log_model` does."""
    folder = _saved_model_folder(export_dir)
    mlflow = _mlflow()
    mlflow.pyfunc.save_model(str(path), **_pyfunc_model(folder, signature))


def _pyfunc_model(folder: Path, signature: str) -> dict:
    """The arguments of ``mlflow.pyfunc.log_model`` and ``save_model`` that make ``folder`` an MLflow model."""
    return {
        "python_model": str(PYFUNC_CODE),
        "artifacts": {"saved_model": str(folder)},
        "model_config": {"signature": signature},
        "signature": _model_signature(folder, signature),
        "input_example": _input_example(folder, signature),
        "pip_requirements": _requirements(),
    }


def _input_example(folder: Path, signature: str):
    """The rows of the SavedModel's first golden case for ``signature`` (``assets.extra/golden.json``) as a
    DataFrame, one column per input, for MLflow's model page and its serving example. None without golden
    vectors, or when an input is bytes (base64 in the file), which an example cannot hold as text."""
    import numpy as np
    import pandas as pd

    golden = folder / "assets.extra" / "golden.json"
    if not golden.is_file():
        return None
    cases = [
        c for c in json.loads(golden.read_text(encoding="utf-8")).get("cases", []) if c.get("signature") == signature
    ]
    if not cases or any(spec.get("encoding") not in (None, "utf-8") for spec in cases[0]["inputs"].values()):
        return None
    columns = {}
    for key, spec in cases[0]["inputs"].items():
        values = np.asarray(spec["data"], dtype=object if spec["dtype"] == "string" else spec["dtype"]).reshape(
            spec["shape"]
        )
        columns[key] = list(values) if values.ndim > 1 else values
    return pd.DataFrame(columns)


# TensorFlow dtypes as MLflow's column types; a signature with another dtype is logged without an MLflow signature.
_COLUMN_TYPES = {
    "float32": "float",
    "float16": "float",
    "float64": "double",
    "int8": "integer",
    "int16": "integer",
    "int32": "integer",
    "uint8": "integer",
    "uint16": "integer",
    "int64": "long",
    "bool": "boolean",
    "string": "string",
}


def _model_signature(folder: Path, key: str):
    """The MLflow signature of the SavedModel's signature ``key``: one column per output, a tensor of rank
    ``r`` (batch included) an array nested ``r - 1`` deep (a unit output, ``[batch, 1]``, a plain value),
    so that ``mlflow.pyfunc.spark_udf`` knows the result types. None when an output's dtype has no MLflow
    column type or its rank is unknown.

    Raises :class:`TFSparkClientError` ``INVALID_ARGUMENT`` when the SavedModel has no signature ``key``."""
    import tensorflow as tf
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, DataType, Schema

    signatures = tf.saved_model.load(str(folder)).signatures
    if key not in signatures:
        raise TFSparkClientError.from_template(
            "INVALID_ARGUMENT",
            what="signature",
            got=f"'{key}' (not a signature of {folder})",
            expected=f"one of {', '.join(sorted(signatures))}",
        )
    function = signatures[key]

    def columns(specs) -> list | None:
        found = []
        for name, spec in sorted(specs.items()):
            kind = _COLUMN_TYPES.get(spec.dtype.name)
            if kind is None or spec.shape.rank is None:
                return None
            column_type: DataType | Array = DataType[kind]
            dims = spec.shape.as_list()[1:]
            nested = 0 if all(d == 1 for d in dims) else len(dims)  # a unit output is one value per row
            for _ in range(nested):
                column_type = Array(column_type)
            found.append(ColSpec(column_type, name))
        return found

    # Outputs only: MLflow would refuse float64 rows for a float32 input ("cannot safely convert"), and cannot tell
    # text from bytes in a string input; the pyfunc model casts each column to its input's dtype itself.
    outputs = columns(function.structured_outputs)
    return None if outputs is None else ModelSignature(inputs=None, outputs=Schema(outputs))


def _saved_model_folder(export_dir: str | os.PathLike) -> Path:
    """``export_dir`` with its links resolved: MLflow refuses to log a folder reached through a symbolic link
    ("resolved path is outside the artifact directory"), as repositories laid out through links have them."""
    folder = Path(export_dir)
    if not (folder / "saved_model.pb").is_file():
        raise TFSparkClientError.from_template(
            "INVALID_ARGUMENT",
            what="export_dir",
            got=f"'{folder}' (no saved_model.pb there)",
            expected="a SavedModel folder, e.g. models/titanic/1 (for a Keras 3 model: model.export(DIR) first)",
        )
    return folder.resolve()


def _mlflow():
    try:
        import mlflow
    except ImportError as e:
        raise TFSparkClientError.from_template(
            "INVALID_ARGUMENT",
            what="tfspark.mlflow",
            got=f"no mlflow package ({e})",
            expected="pip install mlflow (or mlflow-skinny)",
        ) from e
    return mlflow


def _numeric_metrics(path: Path) -> dict[str, float]:
    if not path.is_file():
        return {}
    values = json.loads(path.read_text(encoding="utf-8"))
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _requirements() -> list[str]:
    """What ``mlflow.pyfunc`` needs to load the model: TensorFlow (CPU or full, as installed), pandas, numpy."""
    wanted = []
    for options in (("tensorflow-cpu", "tensorflow"), ("pandas",), ("numpy",)):
        for dist in options:
            try:
                wanted.append(f"{dist}=={metadata.version(dist)}")
                break
            except metadata.PackageNotFoundError:
                continue
    return wanted
