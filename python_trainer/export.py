"""Export with named signatures in the TF Serving layout: ``<out>/<name>/<version>/``.

The directory is written to a temporary sibling first and renamed into place, so a failed export
never leaves a half-written version that the JVM side would pick up as the latest.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from python_trainer.errors import ExportError

_AUTO_NAME = re.compile(r"^(keras_tensor(_\d+)?|output_\d+|input_\d+|args_\d+)$")
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class TensorInfo:
    """A signature input or output as the JVM side sees it in the SignatureDef."""

    key: str
    dtype: str
    shape: tuple[int | None, ...]


class _Untracked:
    """Holds an object without making it part of a ``tf.Module``'s saved object graph."""

    def __init__(self, value) -> None:
        self.value = value


class ServingModule(tf.Module):
    """Base of every exported module: the Keras model to call, and the variables to save.

    Only the model's variables are tracked, not the Keras model object itself. Tracking the model
    would save its optimizer's slots (3x the weights for Adam) and a second copy of each weight.
    Tracking the underlying ``tf.Variable`` objects is also what the C++ SavedModel loader (TF Java,
    TF Serving) needs: Keras 3 variables reachable only through the model load in Python but fail
    there with "Could not find variable prediction/kernel".
    """

    def __init__(self, model: tf.keras.Model) -> None:
        super().__init__()
        self._keras_model = _Untracked(model)
        self.model_variables = [getattr(v, "value", v) for v in model.variables]

    @property
    def model(self) -> tf.keras.Model:
        return self._keras_model.value


def export_dir(out_root: Path, name: str, version: int) -> Path:
    return Path(out_root) / name / str(version)


def save_module(module: tf.Module, signatures: dict, *, out_root: Path, name: str, version: int) -> Path:
    """Saves ``module`` with ``signatures`` (key → concrete or input-signed tf.function).

    Returns the final export directory. Raises :class:`ExportError` if a key is auto-generated or
    not lower_snake, and replaces an existing directory of the same version.
    """
    if version < 1:
        raise ExportError(f"version must be a positive integer, got {version}", got=version)
    final = export_dir(out_root, name, version)
    staging = final.parent / f".{final.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    tf.saved_model.save(module, str(staging), signatures=signatures)
    for key, infos in read_signatures(staging).items():
        for info in infos["inputs"] + infos["outputs"]:
            if _AUTO_NAME.match(info.key) or not _SNAKE.match(info.key):
                shutil.rmtree(staging, ignore_errors=True)
                raise ExportError(
                    f"signature '{key}' has tensor key '{info.key}'; expected a chosen lower_snake name",
                    signature=key,
                    got=info.key,
                )
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    return final


def read_signatures(path: Path) -> dict[str, dict[str, list[TensorInfo]]]:
    """Reads every signature's input and output keys, dtypes and shapes from a SavedModel."""
    loaded = tf.saved_model.load(str(path))
    out = {}
    for key, fn in loaded.signatures.items():
        _, kwargs = fn.structured_input_signature
        inputs = [TensorInfo(k, spec.dtype.name, tuple(spec.shape.as_list())) for k, spec in sorted(kwargs.items())]
        outputs = [
            TensorInfo(k, spec.dtype.name, tuple(spec.shape.as_list()))
            for k, spec in sorted(fn.structured_outputs.items())
        ]
        out[key] = {"inputs": inputs, "outputs": outputs}
    return out
