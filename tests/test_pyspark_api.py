"""The pyspark API in the checkout's session: the tfpredict Column, the Transformer's params and
persistence, errors as TFSparkError, and sessions that lack tfspark."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO_ROOT

from tfspark import TFModelTransformer, TFSparkError, register, tfpredict
from tfspark.errors import TFSparkClientError

pytestmark = pytest.mark.jvm

TITANIC_CSV = REPO_ROOT.parent / "shared" / "data" / "titanic" / "test.csv"


@pytest.fixture
def passengers(spark):
    spark.conf.set("spark.tfpredict.nullPolicy", "fill")
    yield spark.read.csv(str(TITANIC_CSV), header=True, inferSchema=True)
    spark.conf.unset("spark.tfpredict.nullPolicy")


def probabilities(frame, column) -> dict[int, float]:
    return {r[0]: r[1] for r in frame.select("PassengerId", column).collect()}


def test_the_column_equals_sql_for_no_one_and_several_columns(spark, passengers):
    passengers.createOrReplaceTempView("pip_api_passengers")
    query = "SELECT PassengerId, tfpredict('titanic', struct(*)).probability FROM pip_api_passengers"
    sql = {r[0]: r[1] for r in spark.sql(query).collect()}
    inputs = ["Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Cabin", "Embarked"]
    if "name" in {i["key"] for i in _titanic_inputs()}:
        inputs.append("Name")
    from pyspark.sql import functions as F

    assert len(sql) == 179
    assert probabilities(passengers, tfpredict("titanic").probability) == sql
    assert probabilities(passengers, tfpredict("titanic", *inputs).probability) == sql
    assert probabilities(passengers, tfpredict("titanic", F.struct(*inputs)).probability) == sql
    linear = spark.createDataFrame([(1, [1.0, 2.0])], "PassengerId INT, xs ARRAY<FLOAT>")
    assert probabilities(linear, tfpredict("linear@1", "xs")) == pytest.approx({1: 2.8381348})


def _titanic_inputs():
    import json

    from tfspark.toolkit.export import read_signatures

    sigs = read_signatures(REPO_ROOT / "models" / "titanic" / "1")
    return json.loads(json.dumps([vars(t) for t in sigs["serving_default"]["inputs"]]))


def test_the_model_argument_comes_first():
    with pytest.raises(TFSparkClientError) as e:
        tfpredict(["titanic"])
    assert e.value.getCondition() == "INVALID_ARGUMENT"


def test_client_errors_carry_their_class_once():
    e = TFSparkClientError("SESSION_WITHOUT_TFSPARK", "this process runs a plain session", hint="spark.stop()")
    assert str(e) == "[SESSION_WITHOUT_TFSPARK] this process runs a plain session"
    assert e.getCondition() == "SESSION_WITHOUT_TFSPARK" and e.getMessageParameters() == {"hint": "spark.stop()"}


def test_transformer_params_reach_the_jvm(spark):
    frame = spark.createDataFrame([(1, [1.0, 2.0])], "id INT, xs ARRAY<FLOAT>")
    by_col = TFModelTransformer(model="linear", inputCol="xs", outputCol="y").transform(frame).head()["y"]
    by_map = TFModelTransformer(model="linear", inputMapping={"features": "xs"}, batchSize=7).transform(frame)
    assert by_col == pytest.approx(2.8381348) and by_map.head()["prediction"] == by_col
    scorer = TFModelTransformer(model="linear", inputMapping={"features": "xs"})
    assert scorer.getInputMapping() == {"features": "xs"}
    with pytest.raises(TFSparkClientError, match="not both"):
        TFModelTransformer(model="linear", inputCol="xs", inputMapping={"features": "xs"})


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        ("batchSize", 0, "a whole number from 1 to 1048576"),
        ("nullPolicy", "sometimes", "'error' or 'null' or 'fill'"),
        ("onError", "ignore", "'fail' or 'null'"),
    ],
)
def test_transformer_params_are_checked_as_their_settings_are(spark, param, value, expected):
    frame = spark.createDataFrame([(1, [1.0, 2.0])], "id INT, xs ARRAY<FLOAT>")
    with pytest.raises(TFSparkError) as e:
        TFModelTransformer(model="linear", inputCol="xs", **{param: value}).transform(frame)
    assert e.value.getCondition() == "INVALID_CONFIG", str(e.value)
    assert e.value.getMessageParameters()["key"].startswith(f"TFModelTransformer.{param} (as spark.tfpredict.")
    assert e.value.getMessageParameters()["expected"] == expected


def test_a_pipeline_saves_and_loads(spark, passengers, tmp_path):
    from pyspark.ml import Pipeline, PipelineModel

    scorer = TFModelTransformer(model="titanic", nullPolicy="fill", outputCol="survival", batchSize=64)
    model = Pipeline(stages=[scorer]).fit(passengers)
    model.write().save(str(tmp_path / "pipeline"))
    loaded = PipelineModel.load(str(tmp_path / "pipeline"))
    stage = loaded.stages[0]
    assert type(stage) is TFModelTransformer
    assert (stage.getModel(), stage.getOutputCol(), stage.getOrDefault("batchSize")) == ("titanic", "survival", 64)
    assert probabilities(loaded.transform(passengers), "survival.probability") == probabilities(
        model.transform(passengers), "survival.probability"
    )


@pytest.mark.parametrize(
    ("action", "condition"),
    [
        (lambda s: s.range(1).select(tfpredict("no_such_model", "id")).collect(), "MODEL_NOT_FOUND"),
        (lambda s: s.sql("SELECT tfpredict('linear', CAST(NULL AS ARRAY<FLOAT>))").collect(), "NULL_INPUT"),
        (lambda s: TFModelTransformer(model="linear").transform(s.range(1)).collect(), "MISSING_INPUT"),
        (lambda s: s.conf.set("spark.tfpredict.batchSize", "0") or s.sql("SELECT tfpredict(array(1f, 2f))").collect(),
         "INVALID_CONFIG"),
    ],
)  # fmt: skip
def test_jvm_errors_arrive_as_tfspark_errors(spark, action, condition):
    register(spark)  # idempotent on a session that has tfspark
    try:
        with pytest.raises(TFSparkError) as e:
            action(spark)
    finally:
        spark.conf.unset("spark.tfpredict.batchSize")
    assert e.value.getCondition() == condition, str(e.value)
    assert str(e.value).startswith(f"[{condition}]")
    assert e.value.getMessageParameters()


def test_a_running_session_without_tfspark_is_named(tmp_path):
    """The trap of build_session: getOrCreate() returned the running plain session, and tfpredict was
    UNRESOLVED_ROUTINE. Both ways in now say what happened and what to do."""
    script = textwrap.dedent(
        """
        from pyspark.sql import SparkSession
        from tfspark import configure_spark_with_tfspark, register, tfpredict
        plain = SparkSession.builder.master("local[1]").getOrCreate()
        for attempt in (
            lambda: configure_spark_with_tfspark(SparkSession.builder),
            lambda: register(plain),
            lambda: plain.range(1).select(tfpredict("linear", "id")),
        ):
            try:
                attempt()
            except Exception as e:
                print(e.getCondition(), "|", e)
        # The failed calls leave pyspark's error conversion as it was: later errors are pyspark's own.
        for query in ("SELECT nosuchcol", "SELECT 1/0 AS x", "SELECT tfpredict('linear', array(1.0f, 2.0f))"):
            try:
                plain.conf.set("spark.sql.ansi.enabled", "true")
                plain.sql(query).collect()
            except Exception as e:
                print("later", type(e).__name__, e.getCondition(), "#")
        """
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    lines = [line for line in run.stdout.splitlines() if "|" in line]
    assert len(lines) == 3, run.stdout + run.stderr
    assert all(line.startswith("SESSION_WITHOUT_TFSPARK |") and "spark.stop()" in line for line in lines)
    later = [line.split()[1:3] for line in run.stdout.splitlines() if line.startswith("later ")]
    assert later == [
        ["AnalysisException", "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION"],
        ["ArithmeticException", "DIVIDE_BY_ZERO"],
        ["AnalysisException", "UNRESOLVED_ROUTINE"],
    ], run.stdout + run.stderr[-3000:]
    assert "RecursionError" not in run.stderr


def test_register_on_a_running_session_with_the_jars_is_batched(tmp_path):
    """A session started with tfspark's jars but not its extension (spark-submit --jars, a notebook's
    conf): register() adds tfpredict and the batched execution, so the plan has BatchEvalTF."""
    script = textwrap.dedent(
        """
        from pyspark.sql import SparkSession
        from tfspark import jars, register, tfpredict
        jar_list = ",".join(str(j) for j in jars.jars())
        spark = SparkSession.builder.master("local[1]").config("spark.jars", jar_list).getOrCreate()
        try:
            tfpredict("linear", "xs")
        except Exception as e:
            print("BEFORE", e.getCondition(), "|", e)
        register(spark)
        frame = spark.createDataFrame([([1.0, 2.0],)], "xs ARRAY<FLOAT>").select(tfpredict("linear", "xs").alias("p"))
        print("PLAN", frame._jdf.queryExecution().executedPlan().toString().replace("\\n", " "))
        print("VALUE", frame.head()["p"])
        """
    )
    models = REPO_ROOT / "models"
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            script.replace(
                'master("local[1]")', f'master("local[1]").config("spark.tfpredict.repository", "{models}")'
            ),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # Before register(), the Column says what to do instead of a later UNRESOLVED_ROUTINE.
    before = next(line for line in run.stdout.splitlines() if line.startswith("BEFORE"))
    assert before.startswith("BEFORE SESSION_WITHOUT_TFSPARK |") and "tfspark.register(spark)" in before, before
    plan = next(line for line in run.stdout.splitlines() if line.startswith("PLAN"))
    assert "BatchEvalTF [linear/1:serving_default]" in plan, plan
    value = float(next(line for line in run.stdout.splitlines() if line.startswith("VALUE")).split()[1])
    assert value == pytest.approx(2.8381348)


TEST_MODELS = REPO_ROOT / "spark-scala" / "src" / "test" / "resources" / "models"


def test_transformer_bytes_outputs_round_trip_exactly_to_python(spark):
    """thumbnail/1 returns PNG bytes in a DT_STRING output: with binaryOutputs, collect() gives Python TF's
    bytes exactly (bytes, not str); without, OUTPUT_NOT_UTF8 instead of text with U+FFFD in place of the bytes."""
    expected = json.loads((TEST_MODELS / "thumbnail" / "1" / "assets.extra" / "expected_bytes.json").read_text())
    frame = spark.createDataFrame([(n,) for n in expected["n"]], "n BIGINT")
    scorer = TFModelTransformer(
        model="thumbnail", repository=str(TEST_MODELS), outputCol="p", binaryOutputs=["png", "head"], batchSize=4
    )
    rows = scorer.transform(frame).orderBy("n").collect()
    for key in ("png", "head"):
        want = [base64.b64decode(v) for v in expected["outputs"][key]]
        assert [bytes(r["p"][key]) for r in rows] == want
        assert all(isinstance(r["p"][key], (bytes, bytearray)) for r in rows)
    assert [r["p"]["label"] for r in rows] == [f"café #{n}" for n in expected["n"]]
    with pytest.raises(TFSparkError) as e:
        scorer.copy().setBinaryOutputs([]).transform(frame).collect()
    assert e.value.getCondition() == "OUTPUT_NOT_UTF8"
    assert "spark.tfpredict.binaryOutputs=" in str(e.value)
    with pytest.raises(TFSparkError) as e:
        scorer.copy().setBinaryOutputs(["label2"]).transform(frame)
    assert e.value.getCondition() == "INVALID_ARGUMENT"


def test_transformer_refuses_to_replace_a_column(spark):
    frame = spark.createDataFrame([(1.0, 2.0, [1.0, 2.0])], "x1 DOUBLE, x2 DOUBLE, features ARRAY<FLOAT>")
    for params in ({"outputCol": "x1"}, {"outputCol": "X1"}, {"outputCol": "y", "onError": "null", "errorCol": "x2"}):
        with pytest.raises(TFSparkError) as e:
            TFModelTransformer(model="linear", inputCol="features", **params).transform(frame)
        assert e.value.getCondition() == "INVALID_ARGUMENT", params
        assert "existing column" in str(e.value)
    scored = TFModelTransformer(model="linear", inputCol="features", outputCol="y").transform(frame)
    assert scored.columns == ["x1", "x2", "features", "y"]


def test_a_caught_tfspark_error_is_not_also_logged_at_error(spark, capfd):
    """pyspark logs every error with a DataFrame context at ERROR, a JSON blob with the JVM's stack
    trace, before raising it: a tfspark error reaches its caller with its class and fix, so its log
    copy goes to INFO (logger ``tfspark.errors``), not to the console."""
    register(spark)
    capfd.readouterr()
    with pytest.raises(TFSparkError) as e:
        spark.range(2).select(tfpredict("linear", "id")).collect()
    assert e.value.getCondition() == "INPUT_TYPE_MISMATCH", str(e.value)
    err = capfd.readouterr().err
    assert "INPUT_TYPE_MISMATCH" not in err and "ERROR" not in err, err[-3000:]
