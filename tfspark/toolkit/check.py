"""``python -m python_trainer check DIR``: will this SavedModel run under TF Java and TF Serving?

Python's ``tf.saved_model.load`` is more forgiving than the loader that TF Java and TF Serving use.
A Keras 3 model saved with ``tf.saved_model.save``, or a ``tf.Module`` that wraps a Keras 3 model
without tracking its variables, loads and runs in Python but fails in the JVM at the first batch
with "Could not find variable ...". This check loads ``DIR`` with TF's graph-mode SavedModel loader
(``tf.compat.v1.saved_model.loader.load`` in a fresh ``tf.Graph`` and ``tf.compat.v1.Session``), which
restores variables the way TF's C++ ``LoadSavedModel`` does, and then warms up every signature
through that session, feeding the SignatureDef's tensor names as the JVM does.

The warm-up of each signature uses the first source that has data for it:

1. TF Serving's ``assets.extra/tf_serving_warmup_requests`` (its ``predict_log`` requests);
2. our golden vectors, ``assets.extra/golden.json`` (outputs compared within their tolerance);
3. one synthetic row: batch dimension 1, other unknown dimensions 1, zeros, ``False`` or ``b""``.

A synthetic row may be invalid data for the model (``b""`` is no JPEG): such a data error skips that
signature's warm-up with a note and does not fail the check. A failure that shows unrestored
variables always fails it, and the report then carries the diagnosis (the cause and the fix) that
the JVM also gives.

Exit codes of the command: 0 the model runs, 1 it fails to load or to warm up, 2 usage error.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from python_trainer.errors import TrainerError, diagnosis
from tfspark.toolkit.golden import GOLDEN_FILE, load_golden
from tfspark.toolkit.layout import layout_problem, validate_saved_model_dir
from tfspark.toolkit.warmup import read_warmup_requests, warmup_path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# check reports what the JVM would: its class, and the causes and fixes of the error registry
# (tfspark/error-classes.json, MODEL_LOAD_FAILED's diagnoses), which the JVM's messages name too.
ERROR_CLASS = "MODEL_LOAD_FAILED"
UNRESTORED_CAUSE, UNRESTORED_FIX = diagnosis(ERROR_CLASS, "variablesNotRestored")
# A version published non-atomically (saved_model.pb first, variables/ later) fails like the Keras trap;
# the JVM words the same diagnosis (tfspark.model.ModelDiagnosis), and both check the files first.
INCOMPLETE_CAUSE_SUFFIX, INCOMPLETE_FIX = diagnosis(ERROR_CLASS, "incompleteVersion")
# What TF 2.18 says when a resource variable was never restored (FailedPreconditionError), and what
# TF1-style reference variables say; the first is the one seen with Keras 3 exports.
UNRESTORED_MARKERS = (
    "Could not find variable",
    "uninitialized value",
    "Container localhost does not exist",
    "Resource localhost/",
)

SOURCE_WARMUP = "warmup_requests"
SOURCE_GOLDEN = "golden"
SOURCE_SYNTHETIC = "synthetic"
_SOURCE_WORDS = {
    SOURCE_WARMUP: "tf_serving_warmup_requests",
    SOURCE_GOLDEN: "golden vectors",
    SOURCE_SYNTHETIC: "a synthetic row",
}
_MAX_SYNTHETIC_ELEMENTS = 50_000_000


@dataclass
class TensorSpecInfo:
    """A SignatureDef input or output: its key, graph tensor name, dtype and shape (None: unknown rank)."""

    key: str
    name: str
    dtype: str
    shape: list[int] | None


@dataclass
class SignatureResult:
    """The warm-up of one signature.

    Attributes
    ----------
    signature : str
        The SignatureDef key.
    status : str
        ``"ok"``, ``"skipped"`` (a synthetic row that the model rejects as data) or ``"failed"``.
    source : str or None
        ``"warmup_requests"``, ``"golden"`` or ``"synthetic"``; None when nothing could run.
    runs : int
        How many ``Session.run`` calls succeeded.
    message : str
        Why it was skipped or failed (empty when ok).
    max_abs_diff : float or None
        The largest difference from the golden outputs, when golden vectors were used.
    inputs, outputs : list of TensorSpecInfo
        The signature as the SignatureDef declares it.
    """

    signature: str
    status: str
    source: str | None
    runs: int = 0
    message: str = ""
    max_abs_diff: float | None = None
    inputs: list[TensorSpecInfo] = field(default_factory=list)
    outputs: list[TensorSpecInfo] = field(default_factory=list)

    def line(self) -> str:
        """One human-readable line, e.g. ``serving_default: ok (warm-up from golden vectors, 3 cases)``."""
        where = _SOURCE_WORDS.get(self.source or "", "nothing")
        if self.source == SOURCE_WARMUP:
            where += f", {self.runs} request{'s' if self.runs != 1 else ''}"
        elif self.source == SOURCE_GOLDEN:
            where += f", {self.runs} case{'s' if self.runs != 1 else ''}"
            if self.max_abs_diff is not None:
                where += f", max |diff| {self.max_abs_diff:.3g}"
        if self.status == "ok":
            return f"{self.signature}: ok (warm-up from {where})"
        if self.status == "skipped":
            return f"{self.signature}: warm-up skipped: {self.message}"
        if self.source is None:
            return f"{self.signature}: FAILED: {self.message}"
        return f"{self.signature}: FAILED (warm-up from {where}): {self.message}"


@dataclass
class Diagnosis:
    """A known cause of failure and its fix, worded as the JVM words them."""

    cause: str
    fix: str


@dataclass
class CheckReport:
    """What ``check_saved_model`` found.

    Attributes
    ----------
    path : str
        The SavedModel directory, as given.
    ok : bool
        True when the model loaded and no signature failed (skipped ones do not count).
    signatures : list of SignatureResult
        One per SignatureDef (keys starting with ``__`` excluded), plus one per warm-up request or
        golden case that names a signature the model does not have.
    load_error : str or None
        Why the loader failed, if it did.
    diagnosis : Diagnosis or None
        The known cause and its fix, when the failure is a known one.
    error_class : str or None
        ``"MODEL_LOAD_FAILED"`` when not ok, as the JVM reports it.
    notes : list of str
        Anything else worth saying (skipped warm-up records, the sources used).
    tensorflow : str
        The TF version that ran the check.
    """

    path: str
    ok: bool
    signatures: list[SignatureResult] = field(default_factory=list)
    load_error: str | None = None
    diagnosis: Diagnosis | None = None
    error_class: str | None = None
    notes: list[str] = field(default_factory=list)
    tensorflow: str = ""
    layout_error: str | None = None

    def signature(self, key: str) -> SignatureResult:
        """The result of signature ``key``; raises KeyError when there is none."""
        for result in self.signatures:
            if result.signature == key:
                return result
        raise KeyError(key)

    def lines(self) -> list[str]:
        """The human-readable report: one line per signature, then the verdict (and the diagnosis)."""
        out = [f"checking {self.path} with TensorFlow {self.tensorflow}'s SavedModel loader (as TF Java, TF Serving)"]
        if self.load_error:
            out.append(f"load: FAILED: {self.load_error}")
        out += [r.line() for r in self.signatures]
        out += [f"note: {n}" for n in self.notes]
        if self.layout_error:
            out.append(f"layout: FAILED: {self.layout_error}")
        if self.ok:
            ran = sum(1 for r in self.signatures if r.status == "ok")
            skipped = len(self.signatures) - ran
            tail = f", {skipped} warm-up{'s' if skipped != 1 else ''} skipped" if skipped else ""
            out.append(f"verdict: OK: the model loads and {ran} of {len(self.signatures)} signatures run{tail}")
        else:
            why = "the model fails to load or to warm up as TF Java / TF Serving run it"
            if self.layout_error and not self.load_error and all(r.status != "failed" for r in self.signatures):
                why = "the folder is not laid out as <repository>/<name>/<version>/saved_model.pb"
            out.append(f"verdict: FAILED [{self.error_class}]: {why}")
            if self.diagnosis:
                out.append(f"cause: {self.diagnosis.cause}")
                out.append(f"fix: {self.diagnosis.fix}")
        return out

    def to_json(self) -> dict:
        """The report as plain JSON-serializable data."""
        return asdict(self)


def check_saved_model(path: Path | str) -> CheckReport:
    """Loads a SavedModel as TF Java and TF Serving do, and warms up every signature.

    Parameters
    ----------
    path : Path or str
        A SavedModel directory (``saved_model.pb``, ``variables/``, ...). Symbolic links are followed.

    Returns
    -------
    CheckReport
        ``ok`` is False when the model fails to load or any signature's warm-up fails;
        ``diagnosis`` names the cause and the fix for the known Keras 3 failure.

    Raises
    ------
    NotASavedModelError
        When ``path`` does not exist, is not a directory, or has no ``saved_model.pb``.
    """
    import tensorflow as tf

    path = validate_saved_model_dir(Path(path))
    report = CheckReport(path=str(path), ok=True, tensorflow=tf.__version__)
    plan, tolerance = _warmup_plan(path, report)  # eager: before the graph-mode session
    graph = tf.Graph()
    with _quiet_tf_logging(), graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        try:
            meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(path))
        except Exception as e:  # the loader raises RuntimeError, OSError and tf.errors.* alike
            report.load_error = _summarize(e)
            _fail(report, e)
            return report
        python_only = python_only_op(meta_graph)
        if python_only:  # the JVM refuses it at load (tfspark.model.PythonOnlyOps): so does check
            op, where = python_only
            report.load_error = f"it contains op {op} ({where}), which calls back into the Python interpreter"
            report.ok, report.error_class = False, ERROR_CLASS
            cause = PYTHON_ONLY_CAUSE.replace("<op>", op).replace("<where>", where)
            report.diagnosis = Diagnosis(cause=cause, fix=PYTHON_ONLY_FIX)
            return report
        signatures = {
            key: _signature_specs(sd)
            for key, sd in sorted(meta_graph.signature_def.items())
            if not key.startswith("__")
        }
        if not signatures:
            report.load_error = "the SavedModel has no signatures to serve (only internal ones)"
            _fail(report, None)
            return report
        for key, (inputs, outputs) in signatures.items():
            source, cases = plan.get(key, (SOURCE_SYNTHETIC, []))
            result = SignatureResult(signature=key, status="ok", source=source, inputs=inputs, outputs=outputs)
            report.signatures.append(result)
            if source == SOURCE_SYNTHETIC:
                feed, reason = _synthetic_feed(inputs)
                if feed is None:
                    result.status, result.message = "skipped", reason
                    continue
                cases = [("the synthetic row", feed, None)]
            error = _run_cases(session, result, cases, tolerance)
            if result.status == "failed":
                _fail(report, error)
        for key, (source, cases) in plan.items():
            if key not in signatures:
                entries = f"{len(cases)} {'entries' if len(cases) != 1 else 'entry'} of {_SOURCE_WORDS[source]}"
                message = f"{entries} name this signature; the model has {', '.join(signatures)}"
                report.signatures.append(
                    SignatureResult(signature=key, status="failed", source=source, message=message)
                )
                _fail(report, None)
    return report


# Ops that call back into the Python interpreter that exported the model (tf.py_function,
# tf.numpy_function): a JVM has none. The JVM's list and words: tfspark.model.PythonOnlyOps.
PYTHON_ONLY_OPS = ("PyFunc", "EagerPyFunc", "PyFuncStateless")
PYTHON_ONLY_CAUSE, PYTHON_ONLY_FIX = diagnosis(ERROR_CLASS, "pythonOnlyOp")  # the cause names <op> and <where>


def python_only_op(meta_graph) -> tuple[str, str] | None:
    """The first op of ``meta_graph`` (its graph, then its function library) that needs Python, with
    where it sits ("in its graph" or "in function NAME"); None when there is none."""
    for node in meta_graph.graph_def.node:
        if node.op in PYTHON_ONLY_OPS:
            return node.op, "in its graph"
    for function in meta_graph.graph_def.library.function:
        for node in function.node_def:
            if node.op in PYTHON_ONLY_OPS:
                return node.op, f"in function {function.signature.name}"
    return None


def _fail(report: CheckReport, error: BaseException | None) -> None:
    report.ok = False
    report.error_class = ERROR_CLASS
    if error is None or report.diagnosis is not None:
        return
    problem = variables_problem(Path(report.path))
    if problem:  # what happened to the files comes before the most common cause
        report.diagnosis = Diagnosis(cause=f"{problem}; {INCOMPLETE_CAUSE_SUFFIX}", fix=INCOMPLETE_FIX)
    elif _is_unrestored_variables(error):
        report.diagnosis = Diagnosis(cause=UNRESTORED_CAUSE, fix=UNRESTORED_FIX)


def variables_problem(path: Path) -> str | None:
    """Why the SavedModel's variables are missing or incomplete, naming the files; None when complete.

    Checks, as the JVM does: ``variables/`` exists, holds ``variables.index``, the index is a readable
    tensor-bundle table, and every data shard it names exists and is as long as its entries need.
    """
    variables = Path(path) / "variables"
    index = variables / "variables.index"
    if not variables.is_dir():
        return "its variables/ folder is missing"
    if not index.is_file():
        present = sorted(p.name for p in variables.iterdir())
        return f"variables/variables.index is missing (variables/ holds {', '.join(present[:5]) or 'nothing'})"
    try:
        shards, needed = _read_bundle_index(index.read_bytes())
    except ValueError as e:
        return f"variables/variables.index is unreadable ({e})"
    problems = []
    for i in range(shards):
        name = f"variables.data-{i:05d}-of-{shards:05d}"
        shard = variables / name
        if not shard.is_file():
            problems.append(
                f"variables/{name} is missing (the index names {shards} data shard{'' if shards == 1 else 's'})"
            )
        elif shard.stat().st_size < needed.get(i, 0):
            problems.append(
                f"variables/{name} is truncated: {shard.stat().st_size} bytes where the index needs {needed[i]}"
            )
    return "; ".join(problems[:5]) or None


def _read_bundle_index(data: bytes) -> tuple[int, dict[int, int]]:
    """(number of data shards, {shard: bytes its entries need}) of a TF tensor-bundle index (a LevelDB table)."""
    from tensorflow.core.protobuf import tensor_bundle_pb2

    if len(data) < 48:
        raise ValueError(f"{len(data)} bytes, shorter than a table footer")
    if int.from_bytes(data[-8:], "little") != 0xDB4775248B80FB57:
        raise ValueError(f"{len(data)} bytes, no table footer: truncated or not an index")

    def varint(buf: bytes, pos: int) -> tuple[int, int]:
        result = shift = 0
        while True:
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result, pos

    def block(offset: int, size: int):
        raw = data[offset : offset + size]
        kind = data[offset + size]
        if kind != 0:  # TF's bundle writer does not compress
            raise ValueError(f"block compression {kind}")
        restarts = int.from_bytes(raw[-4:], "little")
        limit = len(raw) - 4 * (restarts + 1)
        pos, key = 0, b""
        while pos < limit:
            shared, pos = varint(raw, pos)
            non_shared, pos = varint(raw, pos)
            length, pos = varint(raw, pos)
            key = key[:shared] + raw[pos : pos + non_shared]
            pos += non_shared
            yield key, raw[pos : pos + length]
            pos += length

    try:
        pos = len(data) - 48
        _, pos = varint(data, pos)
        _, pos = varint(data, pos)
        index_offset, pos = varint(data, pos)
        index_size, pos = varint(data, pos)
        shards, needed = 1, dict[int, int]()
        for _, handle in block(index_offset, index_size):
            offset, p = varint(handle, 0)
            size, _ = varint(handle, p)
            for key, value in block(offset, size):
                if not key:
                    shards = max(1, tensor_bundle_pb2.BundleHeaderProto.FromString(value).num_shards)
                else:
                    entry = tensor_bundle_pb2.BundleEntryProto.FromString(value)
                    if not entry.slices:
                        needed[entry.shard_id] = max(needed.get(entry.shard_id, 0), entry.offset + entry.size)
        return shards, needed
    except IndexError as e:
        raise ValueError(f"{len(data)} bytes: {type(e).__name__}") from e
    except Exception as e:  # protobuf's DecodeError
        if type(e).__name__ == "DecodeError":
            raise ValueError(f"{len(data)} bytes: DecodeError") from e
        raise


def _is_unrestored_variables(error: BaseException) -> bool:
    text = str(error)
    return any(marker in text for marker in UNRESTORED_MARKERS)


def _always_fatal(error: BaseException) -> bool:
    import tensorflow as tf

    return isinstance(error, tf.errors.FailedPreconditionError) or _is_unrestored_variables(error)


def _summarize(error: BaseException) -> str:
    """The error's class and its first meaningful line (TF prefixes 'Graph execution error:')."""
    text = getattr(error, "message", None) or str(error)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and ln.strip() != "Graph execution error:"]
    first = lines[0] if lines else ""
    if len(first) > 400:
        first = first[:400] + "..."
    return f"{type(error).__name__}: {first}"


def _signature_specs(signature_def) -> tuple[list[TensorSpecInfo], list[TensorSpecInfo]]:
    import tensorflow as tf

    def spec(key, info):
        shape = None if info.tensor_shape.unknown_rank else [int(d.size) for d in info.tensor_shape.dim]
        return TensorSpecInfo(key=key, name=info.name, dtype=tf.as_dtype(info.dtype).name, shape=shape)

    return (
        [spec(k, v) for k, v in sorted(signature_def.inputs.items())],
        [spec(k, v) for k, v in sorted(signature_def.outputs.items())],
    )


def _warmup_plan(path: Path, report: CheckReport) -> tuple[dict, dict | None]:
    """Signature → (source, [(case label, {input key: array}, {output key: array} or None)]), and the tolerance.

    Warm-up requests come first; golden cases fill in the signatures that no request names.
    """

    plan: dict = {}
    tolerance = None
    requests_file = warmup_path(path)
    if requests_file.is_file():
        try:
            requests, notes = read_warmup_requests(requests_file)
        except TrainerError as e:
            report.signatures.append(
                SignatureResult(
                    signature="tf_serving_warmup_requests", status="failed", source=SOURCE_WARMUP, message=str(e)
                )
            )
            _fail(report, None)
            requests, notes = [], []
        report.notes.extend(notes)
        for request in requests:
            plan.setdefault(request.signature, (SOURCE_WARMUP, []))[1].append(
                (f"warm-up request {request.index}", request.inputs, None)
            )
    golden_file = path / "assets.extra" / GOLDEN_FILE
    if golden_file.is_file():
        try:
            doc, cases = load_golden(path)
        except (ValueError, KeyError, TypeError) as e:  # not JSON, or not golden.json's format
            message = f"assets.extra/{GOLDEN_FILE} is not a golden-vector file ({type(e).__name__}: {e})"
            report.signatures.append(
                SignatureResult(signature=GOLDEN_FILE, status="failed", source=None, message=message)
            )
            _fail(report, None)
            doc, cases = {}, []
        tolerance = doc.get("tolerance")
        for case in cases:
            source, entries = plan.setdefault(case.signature, (SOURCE_GOLDEN, []))
            if source == SOURCE_GOLDEN:
                entries.append((f"golden case '{case.name}'", case.inputs, case.outputs))
    return plan, tolerance


def _run_cases(session, result: SignatureResult, cases: list, tolerance: dict | None) -> BaseException | None:
    """Feeds each case through the session; sets ``result``'s status, and returns the error that failed it."""
    import tensorflow as tf

    names_in = {t.key: t.name for t in result.inputs}
    names_out = {t.key: t.name for t in result.outputs}
    worst = None
    for label, inputs, expected in cases:
        unknown = sorted(set(inputs) - set(names_in))
        missing = sorted(set(names_in) - set(inputs))
        if unknown or missing:
            result.status = "failed"
            result.message = (
                f"{label} does not match the signature's inputs {sorted(names_in)}"
                + (f": unknown {unknown}" if unknown else "")
                + (f": missing {missing}" if missing else "")
            )
            return None
        feed = {names_in[k]: v for k, v in inputs.items()}
        try:
            got = session.run(names_out, feed_dict=feed)
        except (tf.errors.OpError, ValueError, TypeError) as e:
            if result.source == SOURCE_SYNTHETIC and not _always_fatal(e):
                result.status = "skipped"
                result.message = f"the model rejects {label} as data ({_summarize(e)})"
                return None
            result.status = "failed"
            result.message = f"{label}: {_summarize(e)}"
            return e
        result.runs += 1
        if expected:
            diff, problem = _compare(got, expected, tolerance or {"atol": 1e-5, "rtol": 1e-6})
            if problem:
                result.status, result.message = "failed", f"{label}: {problem}"
                return None
            worst = diff if worst is None else max(worst, diff)
    result.max_abs_diff = worst
    return None


def _compare(got: dict, expected: dict, tolerance: dict) -> tuple[float, str | None]:
    """Largest |diff| over the expected outputs, and a description of the first mismatch (None if all agree)."""
    atol, rtol = float(tolerance["atol"]), float(tolerance["rtol"])
    worst = 0.0
    for key, want in expected.items():
        if key not in got:
            return worst, f"golden output '{key}' is not an output of the signature ({sorted(got)})"
        have = np.asarray(got[key])
        if have.shape != want.shape:
            return worst, f"output '{key}': expected shape {list(want.shape)}, got {list(have.shape)}"
        if want.dtype == object or want.dtype.kind in "SU":
            if have.reshape(-1).tolist() != want.reshape(-1).tolist():
                return worst, f"output '{key}' differs from the golden strings"
            continue
        if want.dtype.kind in "iub":
            if not np.array_equal(have, want):
                return worst, f"output '{key}': expected {want.tolist()}, got {have.tolist()}"
            continue
        a, b = have.astype(np.float64), want.astype(np.float64)
        diff = np.abs(a - b)
        same_nan = np.isnan(a) & np.isnan(b)
        bad = np.argwhere(~(diff <= atol + rtol * np.abs(b)) & ~same_nan & ~(a == b))
        if bad.size:
            idx = tuple(int(i) for i in bad[0])
            return worst, f"output '{key}' at {list(idx)}: expected {b[idx]}, got {a[idx]} (atol={atol}, rtol={rtol})"
        finite = diff[np.isfinite(diff)]
        if finite.size:
            worst = max(worst, float(finite.max()))
    return worst, None


def _synthetic_feed(inputs: list[TensorSpecInfo]) -> tuple[dict | None, str]:
    """One synthetic row per input, or (None, reason) when the shapes or dtypes allow none.

    The batch size is 1, unless every input whose first dimension is fixed fixes the same size:
    then the unknown first dimensions take that size, so that all inputs agree. Other unknown
    dimensions are 1, an input of unknown rank gets a batch of one (shape ``[1]``), and a scalar
    input (``()``) gets a scalar.
    """
    import tensorflow as tf

    fixed_first = {t.shape[0] for t in inputs if t.shape and t.shape[0] >= 0}
    batch = fixed_first.pop() if len(fixed_first) == 1 else 1
    feed = {}
    for t in inputs:
        dtype = tf.as_dtype(t.dtype)
        if dtype in (tf.resource, tf.variant) or dtype.is_quantized:
            return None, f"input '{t.key}' has dtype {t.dtype}, which has no synthetic value"
        if t.shape is None:
            shape = [1]
        else:
            shape = [(batch if i == 0 else 1) if d < 0 else d for i, d in enumerate(t.shape)]
        if math.prod(shape) > _MAX_SYNTHETIC_ELEMENTS:
            return None, f"input '{t.key}' of shape {t.shape} is too large for a synthetic row"
        if dtype == tf.string:
            feed[t.key] = np.full(shape, b"", dtype=object)
        elif dtype == tf.bool:
            feed[t.key] = np.zeros(shape, dtype=bool)
        else:
            feed[t.key] = np.zeros(shape, dtype=dtype.as_numpy_dtype)
    return feed, ""


@contextlib.contextmanager
def _quiet_tf_logging():
    """Hides the v1 loader's deprecation warning and its INFO lines while the check runs."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def main_check(path: str, as_json: bool = False) -> int:
    """The ``check`` sub-command: prints the report; returns 0 ok, 1 the model fails or is misplaced.

    The folder's layout is diagnosed first (:func:`tfspark.toolkit.layout.layout_problem`, as the JVM does):
    a SavedModel outside a version folder, a version folder without ``saved_model.pb`` and a model folder
    without versions are ``MODEL_LOAD_FAILED`` (exit 1).

    Usage errors raise :class:`NotASavedModelError` (the CLI turns them into exit code 2).
    """
    problem = layout_problem(path)
    if problem and not (Path(path) / "saved_model.pb").is_file():  # nothing to load: the layout is the answer
        report = CheckReport(path=str(path), ok=False, error_class=ERROR_CLASS, layout_error=problem)
    else:
        report = check_saved_model(path)
        if problem:
            report.ok, report.error_class, report.layout_error = False, ERROR_CLASS, problem
    if as_json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1
