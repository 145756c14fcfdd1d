"""Opt-in bfloat16 from pyspark and from ``spark-submit``, as users set it (docs/precision.md):

- ``spark.conf.set("spark.tfpredict.precision", "bfloat16")`` before a ``tfpredict`` query, and back;
- the Transformer's ``precision`` param;
- ``spark-submit --class tfspark.jobs.BatchScore`` with ``--precision bfloat16`` and with
  ``--conf spark.tfpredict.precision=bfloat16``.

The Scala side (every committed model's deviation, the limit, a CPU without bfloat16) is
``Bfloat16Suite``'s. These need a CPU with bfloat16 instructions and are skipped on one without.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import MODELS, cpu_has_bfloat16
from spark_processes import batch_score_command, run_to_end

from tfspark import TFModelTransformer, TFSparkError

PRECISION = "spark.tfpredict.precision"
LIMIT = 0.02  # spark.tfpredict.precision.maxDeviation's default


pytestmark = [
    pytest.mark.jvm,
    pytest.mark.skipif(not cpu_has_bfloat16(), reason="no bfloat16 on this CPU (conftest.BFLOAT16_FLAGS)"),
]

QUERY = (
    "SELECT id, tfpredict('linear', array(CAST(id AS FLOAT) / 8, CAST(-id AS FLOAT) / 16)) AS p "
    "FROM range(0, 64, 1, 2) ORDER BY id"
)


def deviation(a: float, b: float) -> float:
    """``|a - b| / max(1, |b|)``: what spark.tfpredict.precision.maxDeviation bounds."""
    return abs(a - b) / max(1.0, abs(b))


@pytest.fixture
def bfloat16(spark):
    spark.conf.set(PRECISION, "bfloat16")
    yield spark
    spark.conf.unset(PRECISION)


def test_sql_in_bfloat16_shows_its_deviation_and_stays_within_the_limit(spark):
    float32 = [r.p for r in spark.sql(QUERY).collect()]
    spark.conf.set(PRECISION, "bfloat16")
    try:
        plan = "\n".join(r[0] for r in spark.sql(f"EXPLAIN {QUERY}").collect())
        assert "precision=bfloat16 for linear (deviation from float32: prediction " in plan, plan
        low = [r.p for r in spark.sql(QUERY).collect()]
    finally:
        spark.conf.unset(PRECISION)
    assert low != float32, "bfloat16 changed the numbers"
    assert max(deviation(a, b) for a, b in zip(low, float32, strict=True)) <= LIMIT
    assert [r.p for r in spark.sql(QUERY).collect()] == float32, "float32 again once the setting is unset"


def test_sql_refuses_a_misspelt_precision_and_a_model_beyond_the_limit(bfloat16):
    bfloat16.conf.set(PRECISION, "bf16")
    with pytest.raises(TFSparkError) as bad:
        bfloat16.sql(QUERY).collect()
    assert bad.value.getCondition() == "INVALID_CONFIG"
    assert bad.value.getMessageParameters()["key"] == PRECISION
    bfloat16.conf.set(PRECISION, "bfloat16")
    bfloat16.conf.set("spark.tfpredict.precision.maxDeviation", "1e-9")
    try:
        with pytest.raises(TFSparkError) as beyond:
            bfloat16.sql(QUERY).collect()
    finally:
        bfloat16.conf.unset("spark.tfpredict.precision.maxDeviation")
    assert beyond.value.getCondition() == "BFLOAT16_DEVIATION_EXCEEDED"
    assert beyond.value.getMessageParameters()["outputs"].startswith("prediction ")


def test_transformer_precision_param(spark):
    frame = spark.range(0, 8, 1, 1).selectExpr("array(CAST(id AS FLOAT), 1f) AS features")
    scorer = TFModelTransformer(model="linear", inputCol="features", precision="bfloat16")
    assert scorer.getOrDefault(scorer.precision) == "bfloat16"
    assert "precision=bfloat16 for linear" in scorer.transform(frame)._jdf.queryExecution().executedPlan().toString()
    plain = TFModelTransformer(model="linear", inputCol="features")
    assert "precision=" not in plain.transform(frame)._jdf.queryExecution().executedPlan().toString()
    with pytest.raises(TFSparkError) as bad:
        TFModelTransformer(model="linear", inputCol="features", precision="half").transform(frame)
    assert bad.value.getCondition() == "INVALID_CONFIG"


def batch_score(tmp_path: Path, name: str, args: list[str], conf: dict[str, str]) -> subprocess.CompletedProcess:
    model = ["--model", "linear", "--repository", str(MODELS), "--input", str(tmp_path / "in.csv")]
    return run_to_end(batch_score_command([*model, "--output", str(tmp_path / name), *args], conf), tmp_path, 180)


@pytest.mark.submit
def test_batch_score_precision_option_and_setting(spark, tmp_path):
    (tmp_path / "in.csv").write_text("x1,x2\n" + "".join(f"{i / 8},{-i / 16}\n" for i in range(40)))
    option = batch_score(tmp_path, "by-option", ["--precision", "bfloat16"], {})
    assert option.returncode == 0, option.stderr[-3000:]
    assert "with linear/1 (bfloat16, deviation from float32: prediction " in option.stdout, option.stdout
    setting = batch_score(tmp_path, "by-setting", [], {PRECISION: "bfloat16"})
    assert setting.returncode == 0, setting.stderr[-3000:]
    assert "with linear/1 (bfloat16, deviation from float32: prediction " in setting.stdout, setting.stdout
    plain = batch_score(tmp_path, "plain", [], {})
    assert plain.returncode == 0 and "with linear/1 -> " in plain.stdout, plain.stdout

    def predictions(name: str) -> list[float]:
        return [r.prediction for r in spark.read.parquet(str(tmp_path / name)).orderBy("x1").collect()]

    low, float32 = predictions("by-option"), predictions("plain")
    assert predictions("by-setting") == low, "the option and the setting load the same bfloat16 model"
    assert low != float32 and max(deviation(a, b) for a, b in zip(low, float32, strict=True)) <= LIMIT

    typo = batch_score(tmp_path, "typo", ["--precision", "bf16"], {})
    assert typo.returncode == 2, typo.stderr[-3000:]
    assert "--precision" in typo.stderr and not (tmp_path / "typo").exists()
