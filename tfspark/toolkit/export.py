"""Export with named signatures in the TF Serving layout: ``<out>/<name>/<version>/``.

:func:`export_keras` exports a model you trained yourself (Keras 3, a ``tf.function`` or a
``tf.Module``); :func:`save_module` is what the book's workflows use. Either way the directory is
written to a hidden sibling first and renamed into place, so a failed export never leaves a
half-written version that the JVM side would pick up as the latest.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from python_trainer.errors import (
    ExportError,
    ExportNotLoadableError,
    OutputExistsError,
    SampleInputError,
    VersionExistsError,
)
from tfspark.toolkit import golden
from tfspark.toolkit.check import check_saved_model
from tfspark.toolkit.endpoints import AUTO_GENERATED_NAME, LOWER_SNAKE_NAME, build_endpoints
from tfspark.toolkit.layout import validate_saved_model_dir
from tfspark.toolkit.sample_inputs import read_sample_inputs

SAMPLE_CASE = "sample_inputs"


@dataclass(frozen=True)
class TensorInfo:
    """A signature input or output as the JVM side sees it in the SignatureDef."""

    key: str
    dtype: str
    shape: tuple[int | None, ...] | None  # None: unknown rank (a TF1 placeholder without a shape)


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


def existing_versions(model_root: Path) -> list[int]:
    """The version numbers under ``<repository>/<name>/`` (folders named by a positive integer), ascending."""
    root = Path(model_root)
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit() and int(p.name) > 0)


def ensure_version_free(
    final: Path, *, overwrite: bool, how: str = "export to {next_dir}, or pass overwrite=True to replace it"
) -> None:
    """Raises :class:`VersionExistsError` when ``final`` (``<repository>/<name>/<version>``) already holds
    files and ``overwrite`` is False. The message names the folder, the next free version, and
    ``how`` to proceed (formatted with ``next`` and ``next_dir``)."""
    final = Path(final)
    if overwrite or not final.exists() or (final.is_dir() and not any(final.iterdir())):
        return
    free = max(existing_versions(final.parent) + [int(final.name) if final.name.isdigit() else 0]) + 1
    advice = how.format(next=free, next_dir=final.parent / str(free))
    raise VersionExistsError(
        f"{final} already exists; the next free version is {free}: {advice}",
        path=str(final),
        next_version=free,
    )


def parse_version_dir(out_dir: Path) -> tuple[str, int]:
    """``<repository>/<name>/<version>`` → (name, version); raises :class:`ExportError` for another shape."""
    out_dir = Path(out_dir)
    if not out_dir.name.isdigit() or int(out_dir.name) < 1 or not out_dir.parent.name:
        raise ExportError(
            f"{out_dir} is not a version folder; expected <repository>/<name>/<version> with a positive "
            f"integer version (e.g. {out_dir / '1'}), the TF Serving layout that tfspark reads",
            got=str(out_dir),
        )
    return out_dir.parent.name, int(out_dir.name)


def save_module(
    module: tf.Module, signatures: dict, *, out_root: Path, name: str, version: int, overwrite: bool = True
) -> Path:
    """Saves ``module`` with ``signatures`` (key → concrete or input-signed tf.function).

    Returns the final export directory. Raises :class:`ExportError` if a key is auto-generated or
    not lower_snake, and :class:`VersionExistsError` if the version exists and ``overwrite`` is
    False (with True, the default, it is replaced).
    """
    if version < 1:
        raise ExportError(f"version must be a positive integer, got {version}", got=version)
    final = export_dir(out_root, name, version)
    ensure_version_free(final, overwrite=overwrite)
    staging = _staging_dir(final)
    tf.saved_model.save(module, str(staging), signatures=signatures)
    try:
        _check_signature_keys(staging)
    except ExportError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _publish(staging, final)
    return final


def export_keras(
    model,
    out_dir: str | os.PathLike,
    *,
    sample_inputs: str | os.PathLike | Mapping,
    signatures: Mapping[str, Callable] | None = None,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    overwrite: bool = False,
    atol: float = 1e-5,
    rtol: float = 1e-6,
) -> Path:
    """Exports a model you trained yourself as a SavedModel that tfspark, TF Java and TF Serving run.

    Writes ``out_dir`` (``<repository>/<name>/<version>``) with named signatures, golden vectors
    computed by the *saved* model on ``sample_inputs`` (``assets.extra/golden.json``, which the JVM
    replays at load time and ``python -m python_trainer verify`` replays in Python), after checking
    that TF's C++ loader restores and runs it. The export is staged beside ``out_dir`` and renamed
    into place only when all of that passed.

    Parameters
    ----------
    model : keras.Model, tf.function or tf.Module
        A Keras 3 model built from named ``keras.Input``s (functional or Sequential); a
        ``tf.function`` with an ``input_signature``; or a ``tf.Module`` whose ``__call__`` is one
        (or give ``signatures``).
    out_dir : path
        The version folder to create, e.g. ``"models/churn/1"``.
    sample_inputs : mapping or path
        A few real input rows, ``{input name: array-like}`` (names as the signature's keys or as
        your ``Input`` names, any case), or a ``.npz``/``.json``/``.csv`` file or a folder of
        images (see :mod:`tfspark.toolkit.sample_inputs`). For several signatures, a mapping of
        signature key to such a mapping; each signature without samples is warmed up with a
        synthetic row instead.
    signatures : mapping, optional
        Signature key → ``tf.function`` with an ``input_signature``: more endpoints beside a Keras
        model's ``serving_default``, or the endpoints of a ``tf.Module``. One must be
        ``serving_default``.
    input_names, output_names : sequence of str, optional
        Keys for ``serving_default``'s inputs and outputs, in order, instead of the defaults: the ``Input`` names (or
        the ``TensorSpec``/parameter names), and the dict keys or layer names of the outputs
        (``prediction`` for one output of an unnamed layer), in lower_snake.
    overwrite : bool
        Replace an existing ``out_dir`` (default: refuse).
    atol, rtol : float
        The golden vectors' tolerance, used by ``verify``, ``check`` and the JVM's warm-up.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    VersionExistsError
        ``out_dir`` exists and ``overwrite`` is False (names the next free version).
    ExportError
        ``out_dir`` is not ``<repository>/<name>/<version>``, or a key is auto-generated or not lower_snake.
    ModelNotExportableError
        ``model`` is not a supported kind, or lacks named inputs or an input signature.
    SampleInputError
        ``sample_inputs`` do not fit the signature (or the model fails on them).
    ExportNotLoadableError
        TF's C++ loader cannot restore or run the export; nothing is published.

    Examples
    --------
    >>> import keras, numpy as np
    >>> inputs = keras.Input(shape=(3,), name="features")
    >>> model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="churn")(inputs))
    >>> x_test = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    >>> export_keras(model, "models/churn/1", sample_inputs={"features": x_test[:16]})
    PosixPath('models/churn/1')
    >>> sorted(read_signatures("models/churn/1"))
    ['serving_default']
    """
    import keras

    out_dir = Path(out_dir)
    name, version = parse_version_dir(out_dir)
    ensure_version_free(out_dir, overwrite=overwrite)
    tracked, endpoints = build_endpoints(
        model, signatures=signatures, input_names=input_names, output_names=output_names
    )
    per_signature = _samples_by_signature(sample_inputs, [e.key for e in endpoints])
    staging = _staging_dir(out_dir)
    try:
        archive = keras.export.ExportArchive()
        for obj in tracked:
            archive.track(obj)
        for endpoint in endpoints:
            archive.add_endpoint(endpoint.key, endpoint.call, input_signature=endpoint.input_signature())
        archive.write_out(str(staging), verbose=False)
        _check_signature_keys(staging)
        aliases = {e.key: {i.key: i.given_name for i in e.inputs} for e in endpoints}
        _write_sample_golden(staging, per_signature, model=name, version=version, aliases=aliases, atol=atol, rtol=rtol)
        _check_with_cpp_loader(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _publish(staging, out_dir)
    return out_dir


def add_golden_vectors(
    export_dir: str | os.PathLike,
    *,
    sample_inputs: str | os.PathLike | Mapping,
    overwrite: bool = False,
    atol: float = 1e-5,
    rtol: float = 1e-6,
) -> Path:
    """Writes ``assets.extra/golden.json`` into an existing SavedModel from sample inputs.

    For a model exported some other way (``model.export``, ``tf.saved_model.save``). The outputs
    are computed by the saved model; ``sample_inputs`` are as for :func:`export_keras`.

    Returns the path of ``golden.json``. Raises :class:`NotASavedModelError`,
    :class:`SampleInputError`, and :class:`OutputExistsError` when the model has golden vectors and
    ``overwrite`` is False.
    """
    export_dir = validate_saved_model_dir(Path(export_dir))
    path = export_dir / "assets.extra" / golden.GOLDEN_FILE
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; replace it with --force (overwrite=True)", path=str(path))
    keys = list(tf.saved_model.load(str(export_dir)).signatures)
    per_signature = _samples_by_signature(sample_inputs, keys)
    name, version = export_dir.parent.name, int(export_dir.name) if export_dir.name.isdigit() else 0
    return _write_sample_golden(
        export_dir, per_signature, model=name, version=version, aliases={}, atol=atol, rtol=rtol
    )


def _samples_by_signature(sample_inputs, keys: list[str]) -> dict:
    """Signature key → its samples; a flat mapping or a file belongs to ``serving_default``."""
    if (
        isinstance(sample_inputs, Mapping)
        and sample_inputs
        and all(isinstance(v, Mapping) for v in sample_inputs.values())
    ):
        unknown = sorted(set(sample_inputs) - set(keys))
        if unknown:
            raise SampleInputError(
                f"sample_inputs name signatures {unknown} that the model does not have ({keys})", got=unknown
            )
        return dict(sample_inputs)
    if sample_inputs is None or (isinstance(sample_inputs, Mapping) and not sample_inputs):
        raise SampleInputError(
            "sample_inputs are required: a few real input rows, from which the golden vectors are made",
            expected="serving_default",
        )
    return {"serving_default": sample_inputs}


def _write_sample_golden(
    export_dir: Path, per_signature: dict, *, model: str, version: int, aliases: dict, atol: float, rtol: float
) -> Path:

    signatures = read_signatures(export_dir)
    cases = []
    for key, source in per_signature.items():
        inputs = read_sample_inputs(source, signatures[key]["inputs"], aliases=aliases.get(key))
        cases.append(
            golden.GoldenCase(SAMPLE_CASE if key == "serving_default" else f"{key}_{SAMPLE_CASE}", key, inputs)
        )
    try:
        return golden.write_golden(export_dir, model=model, version=version, cases=cases, atol=atol, rtol=rtol)
    except (tf.errors.OpError, ValueError, TypeError) as e:
        message = getattr(e, "message", None) or str(e)
        raise SampleInputError(
            f"the model fails on the sample inputs: {type(e).__name__}: {message.strip().splitlines()[0]}",
            got=type(e).__name__,
        ) from e


def _check_with_cpp_loader(staging: Path, out_dir: Path) -> None:
    """Runs :func:`tfspark.toolkit.check.check_saved_model` on the staged export; raises
    :class:`ExportNotLoadableError` with its findings when TF's C++ loader cannot run it."""

    report = check_saved_model(staging)
    if report.ok:
        return
    failed = [r.line() for r in report.signatures if r.status == "failed"]
    detail = report.load_error or "; ".join(failed)
    fix = f" Fix: {report.diagnosis.fix}." if report.diagnosis else ""
    raise ExportNotLoadableError(
        f"the export for {out_dir} does not run under TF's C++ loader (TF Java, TF Serving): {detail}.{fix} "
        "Nothing was written.",
        path=str(out_dir),
        got=detail,
    )


def _staging_dir(final: Path) -> Path:
    """A hidden sibling of ``final`` (not a version folder: its name is not a number)."""
    staging = final.parent / f".{final.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    return staging


def _publish(staging: Path, final: Path) -> None:
    """Renames ``staging`` to ``final``; an existing ``final`` is moved aside first, then deleted."""
    old = None
    if final.exists() or final.is_symlink():
        old = final.parent / f".{final.name}.replaced-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    staging.rename(final)
    if old is not None:
        if old.is_symlink() or old.is_file():
            old.unlink()
        else:
            shutil.rmtree(old, ignore_errors=True)


def _check_signature_keys(path: Path) -> None:
    for key, infos in read_signatures(path).items():
        for info in infos["inputs"] + infos["outputs"]:
            if AUTO_GENERATED_NAME.match(info.key) or not LOWER_SNAKE_NAME.match(info.key):
                raise ExportError(
                    f"signature '{key}' has tensor key '{info.key}'; expected a chosen lower_snake name",
                    signature=key,
                    got=info.key,
                )


def _shape(spec) -> tuple[int | None, ...] | None:
    return None if spec.shape.rank is None else tuple(spec.shape.as_list())


def read_signatures(path: Path) -> dict[str, dict[str, list[TensorInfo]]]:
    """Reads every signature's input and output keys, dtypes and shapes from a SavedModel."""
    loaded = tf.saved_model.load(str(path))
    out = {}
    for key, fn in loaded.signatures.items():
        _, kwargs = fn.structured_input_signature
        inputs = [TensorInfo(k, spec.dtype.name, _shape(spec)) for k, spec in sorted(kwargs.items())]
        outputs = [TensorInfo(k, spec.dtype.name, _shape(spec)) for k, spec in sorted(fn.structured_outputs.items())]
        out[key] = {"inputs": inputs, "outputs": outputs}
    return out
