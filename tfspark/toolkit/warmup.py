"""TF Serving's warm-up file, read without tensorflow-serving-api.

TF Serving runs the requests in ``<export>/assets.extra/tf_serving_warmup_requests`` when it loads a
model, and fails the load when one fails. The file is a TFRecord file of
``tensorflow.serving.PredictionLog`` protos. This module decodes the part of that schema that a
warm-up needs straight from the protobuf wire format, since tensorflow-serving-api is not a
dependency::

    PredictionLog  { 6: PredictLog predict_log }         (2 classify, 3 regress, 4 multi_inference,
                                                          5 session_run: skipped with a note)
    PredictLog     { 1: PredictRequest request }
    PredictRequest { 1: ModelSpec model_spec, 2: map<string, TensorProto> inputs }
    ModelSpec      { 3: string signature_name }          (empty means "serving_default")
    map entry      { 1: string key, 2: TensorProto value }
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from python_trainer.errors import TrainerError

WARMUP_FILE = "tf_serving_warmup_requests"
DEFAULT_SIGNATURE = "serving_default"

_OTHER_LOGS = {2: "classify_log", 3: "regress_log", 4: "multi_inference_log", 5: "session_run_log"}


class WarmupFormatError(TrainerError, ValueError):
    """A warm-up record that is not a well-formed PredictionLog."""

    error_class = "WARMUP_FORMAT"


@dataclass(frozen=True)
class WarmupRequest:
    """One ``predict_log`` request of the warm-up file: the signature and its named input arrays."""

    index: int
    signature: str
    inputs: dict[str, np.ndarray] = field(default_factory=dict)


def warmup_path(export_dir: Path) -> Path:
    """Where TF Serving looks for the warm-up file of ``export_dir``."""
    return Path(export_dir) / "assets.extra" / WARMUP_FILE


def read_warmup_requests(path: Path) -> tuple[list[WarmupRequest], list[str]]:
    """Reads a TF Serving warm-up file.

    Parameters
    ----------
    path : Path
        A TFRecord file of ``tensorflow.serving.PredictionLog`` protos.

    Returns
    -------
    tuple of (list of WarmupRequest, list of str)
        The ``predict_log`` requests in file order, and one note per record that was skipped
        (classify, regress, multi-inference and session-run logs).

    Raises
    ------
    WarmupFormatError
        When a record is not a well-formed PredictionLog, or the file is not a TFRecord file.
    """
    import tensorflow as tf

    requests, notes = [], []
    try:
        records = [r.numpy() for r in tf.data.TFRecordDataset(str(path))]
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
        raise WarmupFormatError(f"{path} is not a TFRecord file: {e.message}", path=str(path)) from e
    for index, record in enumerate(records):
        request = decode_prediction_log(record, index)
        if isinstance(request, str):
            notes.append(request)
        else:
            requests.append(request)
    return requests, notes


def decode_prediction_log(record: bytes, index: int = 0) -> WarmupRequest | str:
    """Decodes one serialized PredictionLog.

    Returns
    -------
    WarmupRequest or str
        The request of a ``predict_log``, or a note saying why the record was skipped.
    """
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2

    predict_log, other = None, None
    for number, value in _bytes_fields(record, f"record {index}", want_bytes={1, 2, 3, 4, 5, 6}):
        if number == 6:
            predict_log = value
        elif number in _OTHER_LOGS:
            other = _OTHER_LOGS[number]
    if predict_log is None:
        kind = other or "no log"
        return f"warm-up record {index} holds a {kind}, not a predict_log: skipped"
    request = b""
    for number, value in _bytes_fields(predict_log, f"record {index} predict_log", want_bytes={1, 2}):
        if number == 1:
            request = value
    signature, inputs = "", {}
    for number, value in _bytes_fields(request, f"record {index} request", want_bytes={1, 2}):
        if number == 1:
            for n, v in _bytes_fields(value, f"record {index} model_spec", want_bytes={1, 3, 4}):
                if n == 3:
                    signature = v.decode("utf-8")
        elif number == 2:
            key, tensor = "", b""
            for n, v in _bytes_fields(value, f"record {index} inputs entry", want_bytes={1, 2}):
                if n == 1:
                    key = v.decode("utf-8")
                elif n == 2:
                    tensor = v
            try:
                inputs[key] = tf.make_ndarray(tensor_pb2.TensorProto.FromString(tensor))
            except Exception as e:  # a TensorProto that does not parse, or has an unsupported dtype
                raise WarmupFormatError(
                    f"warm-up record {index}: input '{key}' is not a valid TensorProto ({e})", record=index, input=key
                ) from e
    return WarmupRequest(index=index, signature=signature or DEFAULT_SIGNATURE, inputs=inputs)


def _varint(buf: bytes, pos: int, where: str) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise WarmupFormatError(f"warm-up {where}: truncated varint", where=where)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WarmupFormatError(f"warm-up {where}: varint too long", where=where)


def _bytes_fields(buf: bytes, where: str, want_bytes: set[int]) -> Iterator[tuple[int, bytes]]:
    """Yields (field number, value) of the fields numbered in ``want_bytes``, each length-delimited
    (:func:`_fields` raises for one that is not); the message's other fields are read past."""
    for number, _, value in _fields(buf, where, want_bytes):
        if number in want_bytes and isinstance(value, bytes):
            yield number, value


def _fields(buf: bytes, where: str, want_bytes: set[int]) -> Iterator[tuple[int, int, bytes | int]]:
    """Yields (field number, wire type, value) of one message; length-delimited values are bytes."""
    pos = 0
    value: bytes | int
    while pos < len(buf):
        key, pos = _varint(buf, pos, where)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos, where)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 2:
            size, pos = _varint(buf, pos, where)
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise WarmupFormatError(f"warm-up {where}: unsupported wire type {wire} (field {number})", where=where)
        if pos > len(buf):
            raise WarmupFormatError(f"warm-up {where}: truncated field {number}", where=where)
        if number in want_bytes and wire != 2:
            raise WarmupFormatError(
                f"warm-up {where}: field {number} has wire type {wire}, expected a length-delimited value",
                where=where,
            )
        yield number, wire, value
