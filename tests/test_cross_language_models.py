"""Every committed model from pyspark: the JVM's tfpredict and TFModelTransformer (through py4j)
against Python TF on the same generated rows."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MODELS as MODELS_DIR
from pyspark.sql import types as T

from tfspark import TFModelTransformer
from tfspark.toolkit import golden

pytestmark = pytest.mark.jvm
MODELS = ["cifar2", "covid", "imdb", "linear", "titanic"]
LEAF = {"float32": T.FloatType(), "float64": T.DoubleType(), "int64": T.LongType(), "int32": T.IntegerType()}


def leaf_type(array: np.ndarray) -> T.DataType:
    if array.dtype == object:
        try:
            [v.decode("utf-8") for v in array.reshape(-1)]
            return T.StringType()
        except UnicodeDecodeError:
            return T.BinaryType()
    if array.dtype == bool:
        return T.BooleanType()
    return LEAF[array.dtype.name]


def case_frame(spark, case: golden.GoldenCase):
    """The case's inputs as rows (an ``id`` plus one column per input) in the types Spark would use."""
    keys = sorted(case.inputs)
    fields = [T.StructField("id", T.IntegerType())]
    for k in keys:
        t = leaf_type(case.inputs[k])
        for _ in range(case.inputs[k].ndim - 1):
            t = T.ArrayType(t, containsNull=False)
        fields.append(T.StructField(k, t))

    def value(array, r):
        v = array[r]
        if array.dtype == object:
            return v.decode("utf-8") if isinstance(fields[1 + keys.index(k)].dataType, T.StringType) else bytes(v)
        return v.tolist()

    rows = []
    for r in range(len(next(iter(case.inputs.values())))):
        row = [r]
        for k in keys:
            row.append(value(case.inputs[k], r))
        rows.append(row)
    return spark.createDataFrame(rows, T.StructType(fields))


def flatten(v):
    if isinstance(v, list | tuple):
        return [x for item in v for x in flatten(item)]
    return [v]


def assert_rows_match(results, case: golden.GoldenCase, expected: dict, tolerance: dict):
    for key, want in expected.items():
        got = [x for r in results for x in flatten(r[key] if len(expected) > 1 else r)]
        flat = want.reshape(-1)
        if want.dtype == object:
            assert got == [w.decode("utf-8") for w in flat], f"{case.name}/{key}"
        else:
            np.testing.assert_allclose(np.array(got, dtype=np.float64), flat.astype(np.float64), **tolerance)


@pytest.mark.parametrize("name", MODELS)
def test_sql_and_transformer_on_the_jvm_match_python_tf(name, spark, models_dir):
    import tensorflow as tf

    export_dir = models_dir / name / "1"
    doc, cases = golden.load_golden(export_dir)
    loaded = tf.saved_model.load(str(export_dir))
    tolerance = {"rtol": doc["tolerance"]["rtol"], "atol": doc["tolerance"]["atol"]}
    for case in cases:
        expected = golden.compute_outputs(loaded, case)  # Python TF, now, on the same rows
        df = case_frame(spark, case).repartition(2)
        df.createOrReplaceTempView("xlang_case")
        struct = ", ".join(sorted(case.inputs))
        sql = f"SELECT id, tfpredict('{name}:{case.signature}', struct({struct})) AS p FROM xlang_case ORDER BY id"
        assert_rows_match([r["p"] for r in spark.sql(sql).collect()], case, expected, tolerance)
        scorer = TFModelTransformer(model=name, signature=case.signature, outputCol="p", batchSize=3)
        scored = scorer.transform(df).orderBy("id").collect()
        assert_rows_match([r["p"] for r in scored], case, expected, tolerance)


def test_transformer_with_an_input_column_and_a_mapping(spark):
    df = spark.createDataFrame([([1.0, 2.0],), ([3.0, 5.0],)], "xs ARRAY<FLOAT>")
    by_col = TFModelTransformer(model="linear", inputCol="xs").transform(df).collect()
    by_map = TFModelTransformer(model="linear", inputMapping={"features": "xs"}, repository=str(MODELS_DIR))
    by_map = by_map.transform(df).collect()
    assert [r["prediction"] for r in by_col] == [r["prediction"] for r in by_map]
    assert by_col[0]["prediction"] == pytest.approx(2.838135, abs=1e-5)
