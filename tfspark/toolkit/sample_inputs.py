"""Sample inputs for a signature: read from a file or taken from a mapping, matched and converted.

``export_keras`` turns the sample inputs a user gives into golden vectors, and the ``export`` and
``golden`` commands read them from a file. Inputs are matched to a signature's input keys the way
tfspark matches columns in Spark: by exact key, else case-insensitively (``Pclass`` feeds
``pclass``), else by an alias (a Keras ``Input`` name such as ``Petal Length`` for
``petal_length``). Values are converted to the input's dtype: integers and floats widen or narrow
as tfspark does (double to float32 included); a missing value is NaN for a float input and ``""``
for a string input, and an error for an integer or bool input.

Files:

- ``.npz``: one array per input, named after it.
- ``.json``: an object of columns (``{"age": [22, null], "sex": ["male", "female"]}``), an array of
  row objects, or JSON lines (one row object per line, as Spark writes JSON).
- ``.csv``: a header row; one column per input; a cell of an array input holds a JSON array
  (``"[0.5, -1.0]"``). An input of shape ``[-1, k]`` that no column names takes the file's ``k``
  unused columns, in order (``x1,x2`` feed ``features`` ``[-1, 2]``).
- a folder: its files' bytes, sorted by name, feed the signature's one string input (images).

Columns that no input takes are ignored in files (as Spark ignores them); in a mapping given from
Python they are an error, since there they are most likely a typo.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from python_trainer.errors import SampleInputError

FILE_FORMATS = (".npz", ".json", ".jsonl", ".csv")


def read_sample_inputs(
    source: str | Path | Mapping, inputs: list, *, aliases: Mapping[str, str] | None = None
) -> dict[str, np.ndarray]:
    """Sample inputs for a signature, as arrays of the inputs' dtypes.

    Parameters
    ----------
    source : path or mapping
        A ``.npz``, ``.json``/``.jsonl`` or ``.csv`` file, a folder of files (one string input), or a
        mapping of input name to array-like.
    inputs : list of TensorInfo
        The signature's inputs (``key``, ``dtype`` name, ``shape`` with None for unknown dimensions).
    aliases : mapping, optional
        Input key to another name it may be given by (a Keras ``Input`` name).

    Returns
    -------
    dict
        Input key to a numpy array (``object`` arrays of ``bytes`` for strings).

    Raises
    ------
    SampleInputError
        When the file cannot be read, an input has no values, a value does not convert to the
        input's dtype, the shapes do not fit the signature, or the inputs' row counts differ.

    Examples
    --------
    >>> from tfspark.toolkit.export import TensorInfo
    >>> read_sample_inputs({"Features": [[1, 2]]}, [TensorInfo("features", "float32", (None, 2))])
    {'features': array([[1., 2.]], dtype=float32)}
    """
    aliases = aliases or {}
    if isinstance(source, Mapping):
        columns, strict, where = dict(source), True, "sample_inputs"
    else:
        path = Path(source)
        columns, strict, where = _read_file(path, inputs), False, str(path)
    matched = _match(columns, inputs, aliases, strict=strict, where=where)
    arrays = {info.key: _convert(matched[info.key], info, where) for info in inputs}
    _check_rows(arrays, inputs, where)
    return arrays


def _read_file(path: Path, inputs: list) -> dict:
    if path.is_dir():
        return _read_folder(path, inputs)
    if not path.is_file():
        raise SampleInputError(f"sample input file {path} does not exist", path=str(path))
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        if suffix in (".json", ".jsonl"):
            return _read_json(path.read_text(encoding="utf-8"))
        if suffix == ".csv":
            return _read_csv(path, inputs)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise SampleInputError(f"cannot read {path}: {e}", path=str(path)) from e
    raise SampleInputError(
        f"{path}: unknown sample format '{suffix}'; expected one of {', '.join(FILE_FORMATS)} or a folder of files",
        path=str(path),
        expected=list(FILE_FORMATS),
        got=suffix,
    )


def _read_folder(path: Path, inputs: list) -> dict:
    strings = [i for i in inputs if i.dtype == "string"]
    if len(inputs) != 1 or len(strings) != 1:
        raise SampleInputError(
            f"{path} is a folder: its files can feed a signature with one string input, "
            f"but this one has {[f'{i.key} {i.dtype}' for i in inputs]}; give a .npz, .json or .csv file",
            path=str(path),
        )
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise SampleInputError(f"{path} holds no files", path=str(path))
    return {strings[0].key: np.array([p.read_bytes() for p in files], dtype=object)}


def _read_json(text: str) -> dict:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = [json.loads(line) for line in text.splitlines() if line.strip()]  # JSON lines
    if isinstance(doc, dict):
        return doc
    if isinstance(doc, list) and all(isinstance(row, dict) for row in doc):
        keys = list(dict.fromkeys(k for row in doc for k in row))
        return {k: [row.get(k) for row in doc] for k in keys}
    raise ValueError("expected an object of columns, an array of row objects, or JSON lines")


def _read_csv(path: Path, inputs: list) -> dict:
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False, escapechar="\\")
    columns = {name: frame[name].tolist() for name in frame.columns}
    lowered = {name.lower() for name in columns}
    unnamed = [i for i in inputs if i.key.lower() not in lowered]
    if len(unnamed) == 1 and len(unnamed[0].shape or ()) == 2 and unnamed[0].shape[1]:
        info, width = unnamed[0], unnamed[0].shape[1]
        named = {i.key.lower() for i in inputs}
        spare = [name for name in columns if name.lower() not in named]
        if len(spare) == width:
            columns[info.key] = [list(row) for row in zip(*(columns[n] for n in spare), strict=True)]
    return columns


def _match(columns: dict, inputs: list, aliases: Mapping[str, str], *, strict: bool, where: str) -> dict:
    by_lower: dict[str, list[str]] = {}
    for name in columns:
        by_lower.setdefault(str(name).lower(), []).append(name)
    matched, used = {}, set()
    for info in inputs:
        candidates = [info.key] if info.key in columns else by_lower.get(info.key.lower(), [])
        alias = aliases.get(info.key)
        if not candidates and alias is not None:
            candidates = [alias] if alias in columns else by_lower.get(alias.lower(), [])
        if len(candidates) > 1:
            raise SampleInputError(
                f"{where}: {candidates} all match input '{info.key}'; keep one", input=info.key, got=candidates
            )
        if not candidates:
            wide = info.shape is not None and len(info.shape) == 2 and info.shape[1]
            hint = (
                f" (in a CSV file, a column '{info.key}' of JSON arrays, or exactly {info.shape[1]} other columns)"
                if wide
                else ""
            )
            raise SampleInputError(
                f"{where} has no values for input '{info.key}' ({info.dtype} {_shape(info)}){hint}; "
                f"it has {sorted(map(str, columns))}",
                input=info.key,
                got=sorted(map(str, columns)),
            )
        matched[info.key] = columns[candidates[0]]
        used.add(candidates[0])
    unknown = sorted(str(n) for n in columns if n not in used)
    if strict and unknown:
        raise SampleInputError(
            f"{where}: {unknown} feed no input; the signature's inputs are {[i.key for i in inputs]}",
            got=unknown,
            expected=[i.key for i in inputs],
        )
    return matched


def _convert(values, info, where: str) -> np.ndarray:
    what = f"{where}: input '{info.key}' ({info.dtype} {_shape(info)})"
    if isinstance(values, np.ndarray) and values.dtype.kind not in "OUS":
        raw = values
    else:
        raw = _parse_cells(values, info)
    try:
        if info.dtype == "string":
            array = np.asarray(raw, dtype=object)
            flat = [_to_bytes(v) for v in array.reshape(-1)]
            array = np.array(flat, dtype=object).reshape(array.shape)
        else:
            array = _to_number_array(raw, info.dtype)
    except (TypeError, ValueError) as e:
        raise SampleInputError(f"{what}: {e}", input=info.key, expected=info.dtype) from None
    return _fit_shape(array, info, what)


def _parse_cells(values, info):
    """CSV cells are text: JSON arrays for array inputs, '' for a missing value."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, list):
        return values
    rank = len(info.shape) if info.shape is not None else 1
    out = []
    for v in values:
        if isinstance(v, str) and info.dtype != "string":
            text = v.strip()
            if text.startswith("["):
                v = json.loads(text)
            elif text == "" or text.lower() in ("nan", "null"):
                v = None
            elif rank >= 2 and info.shape[-1] == 1:
                v = [text]
            else:
                v = text
        elif isinstance(v, str) and rank >= 2 and v.startswith("["):
            v = json.loads(v)
        out.append(v)
    return out


def _to_bytes(value) -> bytes:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str | np.str_):
        return str(value).encode("utf-8")
    raise TypeError(f"expected text or bytes, got {type(value).__name__} {value!r}")


def _to_number_array(raw, dtype: str) -> np.ndarray:
    target = np.dtype(dtype)
    array = np.asarray(_replace_none(raw, target), dtype=object if target.kind in "iub" else None)
    if array.dtype.kind in "OUS":
        flat = [_to_number(v, target) for v in array.reshape(-1)]
        return np.array(flat, dtype=target).reshape(array.shape)
    if array.dtype.kind == "f" and target.kind in "iu" and not np.all(np.isfinite(array)):
        raise ValueError("a missing or non-finite value where an integer goes")
    return array.astype(target)


def _replace_none(raw, target: np.dtype):
    if isinstance(raw, list):
        return [_replace_none(v, target) for v in raw]
    if raw is None:
        if target.kind == "f":
            return math.nan
        raise ValueError(f"a missing value where a {target.name} goes (only float inputs take NaN)")
    return raw


def _to_number(value, target: np.dtype):
    if isinstance(value, str | bytes | np.str_):
        text = value.decode() if isinstance(value, bytes) else str(value)
        if target.kind == "b":
            if text.strip().lower() in ("true", "1"):
                return True
            if text.strip().lower() in ("false", "0"):
                return False
            raise ValueError(f"'{text}' is not a bool")
        try:
            number = float(text) if target.kind == "f" else int(text)
        except ValueError:
            raise ValueError(f"'{text}' is not a {target.name}") from None
        return number
    return value


def _fit_shape(array: np.ndarray, info, what: str) -> np.ndarray:
    shape = info.shape
    if shape is None:
        return array
    if array.ndim == len(shape) - 1 and len(shape) >= 2 and shape[-1] == 1:
        array = array.reshape(*array.shape, 1)
    if array.ndim != len(shape):
        raise SampleInputError(
            f"{what}: got values of shape {list(array.shape)}, expected rank {len(shape)}",
            input=info.key,
            expected=_shape(info),
            got=list(array.shape),
        )
    for axis, (want, got) in enumerate(zip(shape, array.shape, strict=True)):
        if want is not None and want >= 0 and want != got:
            raise SampleInputError(
                f"{what}: dimension {axis} is {got}, expected {want}",
                input=info.key,
                expected=_shape(info),
                got=list(array.shape),
            )
    return array


def _check_rows(arrays: dict, inputs: list, where: str) -> None:
    rows = {k: a.shape[0] for k, a in arrays.items() if a.ndim >= 1}
    batched = {i.key for i in inputs if i.shape and (i.shape[0] is None or i.shape[0] < 0)}
    counts = {rows[k] for k in batched if k in rows}
    if len(counts) > 1:
        raise SampleInputError(
            f"{where}: the inputs have different row counts {dict(sorted((k, rows[k]) for k in batched))}",
            got={k: rows[k] for k in batched},
        )
    if counts == {0}:
        raise SampleInputError(f"{where}: no rows; give at least one", got=0)


def _shape(info) -> list:
    return [-1 if d is None else d for d in info.shape] if info.shape is not None else ["?"]
