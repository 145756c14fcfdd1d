"""The foreign-model corpus (tests/foreign_models/make_foreign_models.py) from pyspark, through py4j.

Every corpus model is in the session's repository by name (tests/conftest.py: ``spark_repository``).
For each corpus entry, through SQL ``tfpredict`` and through the JVM ``TFModelTransformer``:

- ``agree``: every case of ``expected/<name>.json`` (computed by Python TF) matches within its tolerance
  (inputs in the narrowest Spark type that holds their dtype; a ragged input as arrays of varying
  lengths; the entry's ``binary_outputs`` served as ``binary`` and compared byte for byte);
- ``MODEL_LOAD_FAILED`` (the broken Keras 3 exports): the error names the cause and the fix;
- ``UNSUPPORTED_SIGNATURE`` (the odd signatures): the error starts with its class, names the input or
  output (corpus.json ``offending``) and says why (``reason``), at analysis time; never a raw Java
  exception.

``pytest -s`` prints the table: model × path → max |Δ| or the error class.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import types as T

from tfspark import TFModelTransformer
from tfspark.toolkit import golden

pytestmark = [pytest.mark.jvm, pytest.mark.corpus]

PATHS = ("SQL", "Transformer")
LEAF = {  # the narrowest Spark type that holds every value of the dtype
    "float32": T.FloatType(),
    "float16": T.FloatType(),
    "bfloat16": T.FloatType(),
    "float64": T.DoubleType(),
    "int8": T.ByteType(),
    "int16": T.ShortType(),
    "uint8": T.ShortType(),
    "int32": T.IntegerType(),
    "uint16": T.IntegerType(),
    "int64": T.LongType(),
    "uint32": T.LongType(),
    "uint64": T.LongType(),
    "bool": T.BooleanType(),
}


def _corpus_names() -> list[str]:
    """The corpus's model names, from the generator itself (importing it does not import TensorFlow)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_foreign_models", Path(__file__).resolve().parent / "foreign_models" / "make_foreign_models.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.MODELS)


@pytest.fixture(scope="module")
def corpus(foreign_models) -> dict[str, dict]:
    return {e["name"]: e for e in json.loads((foreign_models / "corpus.json").read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def table():
    """model → path → "agrees (max |Δ| ...)" or the error class; printed when the module ends (``-s``)."""
    rows: dict[str, dict[str, str]] = {}
    yield rows
    width = max([len(n) for n in rows] + [5])
    lines = [f"{'model':<{width}}  " + "  ".join(f"{p:<36}" for p in PATHS)]
    for name in sorted(rows):
        lines.append(f"{name:<{width}}  " + "  ".join(f"{rows[name].get(p, '-'):<36}" for p in PATHS))
    print("\nforeign-model corpus through py4j (pyspark):\n" + "\n".join(lines))


# ------------------------------------------------------------------------------------------------
# Rows in, rows out
# ------------------------------------------------------------------------------------------------


def load_expected(path: Path) -> tuple[dict, list[golden.GoldenCase]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    cases = [
        golden.GoldenCase(
            name=c["name"],
            signature=c["signature"],
            inputs={k: golden._decode(v) for k, v in c["inputs"].items()},
            outputs={k: golden._decode(v) for k, v in c["outputs"].items()},
        )
        for c in doc["cases"]
    ]
    return doc, cases


def leaf_type(array: np.ndarray) -> T.DataType:
    """Text (every value valid UTF-8) as a string column, other bytes as a binary column."""
    if array.dtype == object:
        try:
            for v in array.reshape(-1):
                v.decode("utf-8")
            return T.StringType()
        except UnicodeDecodeError:
            return T.BinaryType()
    return LEAF[array.dtype.name]


def case_frame(spark, case: golden.GoldenCase):
    """The case as rows: an ``id`` and one column per input. A batched input gives one value per row; a
    scalar-shaped (``[]``) input feeds every row; a case whose inputs are all scalars is one row. A ragged
    input (a ``tf.RaggedTensor``) gives each row its nested lists, of varying lengths."""
    ragged = {k for k, v in case.inputs.items() if hasattr(v, "flat_values")}
    inputs = {k: v.to_list() if k in ragged else v for k, v in case.inputs.items()}
    leaves = {k: v.flat_values.numpy() if k in ragged else v for k, v in case.inputs.items()}
    ndim = {k: v.shape.rank if k in ragged else v.ndim for k, v in case.inputs.items()}
    keys = sorted(inputs)
    batched = [k for k in keys if ndim[k] > 0]
    n_rows = len(inputs[batched[0]]) if batched else 1
    fields = [T.StructField("id", T.IntegerType(), nullable=False)]
    for k in keys:
        t = leaf_type(leaves[k])
        for _ in range(max(ndim[k] - 1, 0)):
            t = T.ArrayType(t, containsNull=False)
        fields.append(T.StructField(k, t, nullable=False))
    types = {f.name: f.dataType for f in fields}

    def value(k: str, r: int):
        array = inputs[k]
        if isinstance(array, list):  # ragged: row r's nested lists
            return array[r]
        v = array[r] if array.ndim > 0 else array[()]
        if array.dtype == object:
            return v.decode("utf-8") if isinstance(types[k], T.StringType) else bytearray(v)
        return v.tolist()  # (float16 and bfloat16 give Python floats)

    rows = [[r, *(value(k, r) for k in keys)] for r in range(n_rows)]
    return spark.createDataFrame(rows, T.StructType(fields)).repartition(2)


def flatten(v) -> list:
    if isinstance(v, list | tuple):
        return [x for item in v for x in flatten(item)]
    return [v]


def max_diff(results: list, case: golden.GoldenCase, tolerance: dict, where: str) -> float:
    """Compares the per-row results with the case's outputs (a struct of them when there are several)."""
    worst = 0.0
    for key, want in case.outputs.items():
        got = [x for r in results for x in flatten(r[key] if len(case.outputs) > 1 else r)]
        flat = want.reshape(-1)
        assert len(got) == len(flat), f"{where} {case.name}/{key}: {len(got)} values, expected {len(flat)}"
        if want.dtype == object:  # text as str, a binary output as bytes
            have = [bytes(g) if isinstance(g, bytes | bytearray) else g.encode("utf-8") for g in got]
            assert have == list(flat), f"{where} {case.name}/{key}"
            continue
        have, expect = np.array(got, dtype=np.float64), flat.astype(np.float64)
        np.testing.assert_allclose(have, expect, **tolerance, err_msg=f"{where} {case.name}/{key}")
        if len(flat):
            worst = max(worst, float(np.max(np.abs(have - expect))))
    return worst


# ------------------------------------------------------------------------------------------------
# Errors as pyspark sees them
# ------------------------------------------------------------------------------------------------


def java_error(exc: BaseException) -> tuple[str, str, str | None]:
    """(Java class, Java message, error class) of the JVM exception behind a py4j or pyspark error."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors.exceptions.captured import CapturedException

    if isinstance(exc, Py4JJavaError):
        origin = exc.java_exception
    elif isinstance(exc, CapturedException) and exc._origin is not None:
        origin = exc._origin
    else:
        return type(exc).__name__, str(exc), None
    message = origin.getMessage() or ""
    condition = None
    try:
        condition = origin.getCondition()
    except Exception:  # not a SparkThrowable
        pass
    return origin.getClass().getName(), message, condition


def raised(run) -> tuple[str, str, str | None]:
    with pytest.raises(Exception) as info:
        run()
    return java_error(info.value)


def label(cls: str, message: str, condition: str | None) -> str:
    found = re.match(r"\[([A-Z_]+)\]", message)
    if found and message.startswith(f"[{condition}]"):
        return condition
    return f"{condition or (found and found.group(1)) or 'no class'} ({cls.rsplit('.', 1)[-1]})"


# ------------------------------------------------------------------------------------------------
# One test per corpus entry
# ------------------------------------------------------------------------------------------------


def _agree(spark, name: str, entry: dict, corpus_dir: Path, table: dict) -> None:
    doc, cases = load_expected(corpus_dir / "expected" / f"{name}.json")
    tolerance = {"rtol": doc["tolerance"]["rtol"], "atol": doc["tolerance"]["atol"]}
    binary = entry.get("binary_outputs", [])
    worst = dict.fromkeys(PATHS, 0.0)
    for case in cases:
        df = case_frame(spark, case)
        view = f"foreign_{name}"
        df.createOrReplaceTempView(view)
        struct = ", ".join(sorted(case.inputs))
        sql = f"SELECT id, tfpredict('{name}:{case.signature}', struct({struct})) AS p FROM {view} ORDER BY id"
        if binary:
            spark.conf.set("spark.tfpredict.binaryOutputs", ",".join(f"{name}:{k}" for k in binary))
        try:
            got = [r["p"] for r in spark.sql(sql).collect()]
        finally:
            spark.conf.unset("spark.tfpredict.binaryOutputs")
        worst["SQL"] = max(worst["SQL"], max_diff(got, case, tolerance, f"{name} SQL"))
        scorer = TFModelTransformer(
            model=name, signature=case.signature, outputCol="p", batchSize=3, binaryOutputs=binary or None
        )
        got = [r["p"] for r in scorer.transform(df).orderBy("id").collect()]
        worst["Transformer"] = max(worst["Transformer"], max_diff(got, case, tolerance, f"{name} Transformer"))
    table[name] = {p: f"agrees (max |Δ| {d:.3g})" for p, d in worst.items()}


def _load_failed(spark, name: str, entry: dict, table: dict) -> None:
    ((key, spec),) = entry["signatures"]["serving_default"]["inputs"].items()
    row = "array(" + ", ".join(["1.0f"] * spec["shape"][-1]) + ")"
    runs = {
        "SQL": lambda: spark.sql(f"SELECT tfpredict('{name}', {row}) AS p").collect(),
        "Transformer": lambda: (
            TFModelTransformer(model=name).transform(spark.range(2).selectExpr("id", f"{row} AS {key}")).collect()
        ),
    }
    table[name] = {}
    for path, run in runs.items():
        cls, message, condition = raised(run)
        table[name][path] = label(cls, message, condition)
        where = f"{name} {path}: {cls}: {message}"
        assert message.startswith("[MODEL_LOAD_FAILED]") and condition == "MODEL_LOAD_FAILED", where
        # the Keras traps name the variable and the fix; others say what their corpus entry says
        for words in entry.get("load_failure", ["Could not find variable", "model.export(DIR)"]):
            assert words in message, f"the message does not say {words!r}: {where}"


def _transformer_frame(spark, entry: dict):
    """Two rows holding the entry's ``feed``: a struct feed's fields as columns, else one column named
    like the signature's single input."""
    df = spark.range(2).selectExpr("id", f"{entry['feed']} AS feed")
    if isinstance(df.schema["feed"].dataType, T.StructType):
        return df.select("id", *(f"feed.{f}" for f in df.schema["feed"].dataType.names))
    ((key, _),) = entry["signatures"]["serving_default"]["inputs"].items()
    return df.withColumnRenamed("feed", key)


def _unsupported(spark, name: str, entry: dict, table: dict) -> None:
    offending = entry["offending"]
    runs = {
        "SQL": lambda: spark.sql(f"SELECT tfpredict('{name}', {entry['feed']}) AS p").collect(),
        "Transformer": lambda: TFModelTransformer(model=name).transform(_transformer_frame(spark, entry)).collect(),
    }
    table[name] = {}
    failures = []
    for path, run in runs.items():
        try:
            cls, message, condition = raised(run)
        except pytest.fail.Exception:
            table[name][path] = "no error"
            failures.append(f"{path}: no error for tfpredict('{name}', {entry['feed']})")
            continue
        table[name][path] = label(cls, message, condition)
        where = f"{path}: {cls}: {message}"
        if not message.startswith("[UNSUPPORTED_SIGNATURE]") or condition != "UNSUPPORTED_SIGNATURE":
            failures.append(where)
        elif offending is not None and not re.search(rf"\b(input|output) {re.escape(offending)}\b", message):
            failures.append(f"{where} (does not name {offending})")
            table[name][path] += ", key?"
        elif entry["reason"] not in message:
            failures.append(f"{where} (the reason should say {entry['reason']!r})")
            table[name][path] += ", wrong reason"
    assert not failures, f"{name}:\n" + "\n".join(failures)


@pytest.mark.parametrize("name", _corpus_names())
def test_corpus_model_through_sql_and_the_transformer(spark, foreign_models, corpus, table, name):
    entry = corpus[name]
    if entry["expect"] == "agree":
        try:
            _agree(spark, name, entry, foreign_models, table)
        except Exception as exc:  # the table shows what the JVM said instead of agreeing
            if name not in table:
                table[name] = dict.fromkeys(PATHS, f"FAILED: {label(*java_error(exc))}"[:36])
            raise
    elif entry.get("odd"):
        assert entry["expect"] == "UNSUPPORTED_SIGNATURE"
        _unsupported(spark, name, entry, table)
    else:
        assert entry["expect"] == "MODEL_LOAD_FAILED"
        _load_failed(spark, name, entry, table)


def test_the_repository_serves_committed_and_corpus_models_side_by_side(
    spark, spark_repository, foreign_models, corpus
):
    """One static repository per pyspark process: the committed models and the corpus, by name."""
    assert spark.conf.get("spark.tfpredict.repository") == str(spark_repository.resolve())
    assert {"linear", "titanic", *corpus} <= {p.name for p in spark_repository.iterdir()}
    both = spark.sql("SELECT tfpredict('linear', array(1.0f, 2.0f)) AS a, tfpredict('scalar_module', 1.5f) AS b").head()
    _, cases = load_expected(foreign_models / "expected" / "scalar_module.json")
    want = {c.name: c for c in cases}["positive"].outputs["y"]
    assert both["b"] == pytest.approx(float(want), abs=1e-5) and isinstance(both["a"], float)
