"""The MLflow model registry end to end, against a real ``mlflow server`` (tests/mlflow_server.py):

- ``tfspark.mlflow.log_model`` registers the committed Titanic SavedModel (with an alias), and
  ``mlflow.pyfunc`` scores the golden vectors from it;
- ``models:/titanic@champion`` (and ``/1``, ``/latest``) through SQL, the Column function, the
  Transformer and ``spark-submit`` BatchScore give the golden vectors too;
- an alias moved to another version is used by the next query, while a query analysed before keeps
  its version;
- an unknown model or alias, a Keras 3 model logged through MLflow's TensorFlow flavor, and an
  unreachable server each give their error class.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import MODELS
from mlflow_server import mlflow_server
from spark_processes import batch_score_command, free_port, run_to_end

pytestmark = [pytest.mark.jvm, pytest.mark.servers]

TITANIC = MODELS / "titanic" / "1"
GOLDEN = json.loads((TITANIC / "assets.extra" / "golden.json").read_text())["cases"][0]


def golden_inputs() -> pd.DataFrame:
    return pd.DataFrame({key: spec["data"] for key, spec in GOLDEN["inputs"].items()})


def assert_golden(probability, survived) -> None:
    expected = np.asarray(GOLDEN["outputs"]["probability"]["data"], dtype=np.float64).reshape(-1)
    got = np.asarray([np.asarray(p, dtype=np.float64).reshape(-1)[0] for p in probability])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert list(survived) == GOLDEN["outputs"]["survived"]["data"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """The server, with titanic version 1 (alias champion) and version 2 logged by tfspark, and a Keras 3
    model logged by MLflow's own TensorFlow flavor."""
    import mlflow

    from tfspark.mlflow import log_model

    folder = tmp_path_factory.mktemp("mlflow")
    with mlflow_server(folder) as url:
        mlflow.set_tracking_uri(url)
        first = log_model(TITANIC, registered_model_name="titanic", alias="champion")
        second = log_model(TITANIC, registered_model_name="titanic")
        linear = log_model(MODELS / "linear" / "1", registered_model_name="roll", alias="live")
        covid = log_model(MODELS / "covid" / "1", registered_model_name="roll")
        import keras

        keras_model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        with mlflow.start_run():
            mlflow.tensorflow.log_model(keras_model, name="model", registered_model_name="keras3")
        yield {"url": url, "first": first, "second": second, "linear": linear, "covid": covid}


def test_log_model_registers_what_pyfunc_scores_and_the_run_has_the_training_report(registry):
    import mlflow

    assert (registry["first"].registered_model_version, registry["second"].registered_model_version) == ("1", "2")
    client = mlflow.MlflowClient()
    assert client.get_model_version_by_alias("titanic", "champion").version == "1"
    scored = mlflow.pyfunc.load_model("models:/titanic@champion").predict(golden_inputs())
    assert_golden(scored["probability"], scored["survived"])
    run = client.get_run(client.get_model_version("titanic", "1").run_id)
    metrics = json.loads((TITANIC / "assets.extra" / "metrics.json").read_text())
    assert run.data.metrics["test_auc"] == pytest.approx(metrics["test_auc"])
    assert {a.path for a in client.list_artifacts(run.info.run_id, "training")} >= {"training/training_report.json"}


@pytest.mark.parametrize("reference", ["models:/titanic@champion", "models:/titanic/1", "models:/titanic/latest"])
def test_sql_scores_the_golden_vectors_from_the_registry(spark, registry, reference):
    spark.createDataFrame(golden_inputs()).createOrReplaceTempView("golden_passengers")
    rows = spark.sql(f"SELECT tfpredict('{reference}', *) AS p FROM golden_passengers").collect()
    assert_golden([r.p.probability for r in rows], [r.p.survived for r in rows])


def test_the_column_function_and_the_transformer_take_registry_references(spark, registry):
    from tfspark import TFModelTransformer, tfpredict

    frame = spark.createDataFrame(golden_inputs())
    rows = frame.select(tfpredict("models:/titanic@champion").alias("p")).collect()
    assert_golden([r.p.probability for r in rows], [r.p.survived for r in rows])
    scored = TFModelTransformer(model="models:/titanic@champion", outputCol="p").transform(frame).collect()
    assert_golden([r.p.probability for r in scored], [r.p.survived for r in scored])


def test_a_moved_alias_is_used_by_the_next_query_and_an_analysed_one_keeps_its_version(spark, registry):
    import mlflow

    before = spark.sql("SELECT tfpredict('models:/roll@live', array(1.0f, 2.0f)) AS p")  # version 1: linear
    mlflow.MlflowClient().set_registered_model_alias("roll", "live", "2")  # version 2: covid, another signature
    after = spark.sql("SELECT tfpredict('models:/roll@live', array(array(10.0f, 2.0f, 0.0f))) AS p")
    assert len(after.head().p) == 3, "the next query runs version 2"
    linear = spark.sql("SELECT tfpredict('linear', array(1.0f, 2.0f)) AS p").head().p
    assert before.head().p == pytest.approx(linear, abs=1e-6), "the query analysed before the move still runs version 1"


@pytest.mark.parametrize(
    ("reference", "condition", "words"),
    [
        ("models:/no_such_model", "MLFLOW_MODEL_NOT_FOUND", "Registered models: keras3, roll, titanic."),
        ("models:/titanic@gold", "MLFLOW_VERSION_NOT_FOUND", "has no alias gold"),
        ("models:/titanic/9", "MLFLOW_VERSION_NOT_FOUND", "Versions: 1, 2; aliases: champion (version 1)."),
        ("models:/keras3/1", "MLFLOW_NOT_SAVED_MODEL", "model.keras is a Keras model file"),
    ],
)
def test_registry_errors_have_their_class(spark, registry, reference, condition, words):
    from tfspark.errors import TFSparkError

    with pytest.raises(TFSparkError) as info:
        spark.sql(f"SELECT tfpredict('{reference}', array(1.0f, 2.0f))").collect()
    assert info.value.getCondition() == condition, str(info.value)
    assert words in str(info.value)


def batch_score(tmp_path, model: str, tracking_uri: str) -> tuple[subprocess.CompletedProcess, object]:
    table = tmp_path / "passengers.parquet"  # Parquet keeps the golden empty strings, which CSV reads as null
    golden_inputs().to_parquet(table, index=False)
    output = tmp_path / "scored"
    command = batch_score_command(
        ["--model", model, "--input", str(table), "--output", str(output)],
        {"spark.tfpredict.mlflow.trackingUri": tracking_uri},
    )
    return run_to_end(command, tmp_path, 240), output


def test_batch_score_scores_a_registry_alias(registry, tmp_path):
    result, output = batch_score(tmp_path, "models:/titanic@champion", registry["url"])
    assert result.returncode == 0, result.stderr[-3000:]
    summary = [line for line in result.stdout.splitlines() if line.startswith("BatchScore: scored 5 rows")]
    assert len(summary) == 1 and " with titanic/1 -> " in summary[0], result.stdout[-2000:]
    scored = pd.read_parquet(output)
    assert_golden([p["probability"] for p in scored["prediction"]], [p["survived"] for p in scored["prediction"]])


def test_batch_score_against_an_unreachable_server_fails_with_its_class(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    result, output = batch_score(tmp_path, "models:/titanic@champion", closed)
    assert result.returncode != 0
    failure = [line for line in result.stderr.splitlines() if line.startswith("BatchScore failed: ")]
    expected = f"BatchScore failed: [MLFLOW_UNREACHABLE] The MLflow tracking server {closed}"
    assert len(failure) == 1 and failure[0].startswith(expected), failure
    assert not output.exists()


def test_the_trainer_registers_an_export_and_what_it_trains(registry, tmp_path, capsys):
    import mlflow

    from python_trainer.cli import main

    linked = tmp_path / "linked-version"  # a repository laid out through links: MLflow refuses such a folder as given
    linked.symlink_to(MODELS / "linear" / "1", target_is_directory=True)
    assert main(["register", str(linked), "--name", "cli_linear", "--alias", "champion"]) == 0
    assert "registered" in capsys.readouterr().out
    client = mlflow.MlflowClient()
    assert client.get_model_version_by_alias("cli_linear", "champion").version == "1"
    assert main(["train", "titanic", "--smoke", "--out", str(tmp_path), "--register", "smoke_titanic"]) == 0
    out = capsys.readouterr().out
    assert "registered " in out and "models:/smoke_titanic/1" in out, out
    run = client.get_run(client.get_model_version("smoke_titanic", "1").run_id)
    assert "test_auc" in run.data.metrics
    assert main(["register", str(MODELS / "linear"), "--name", "cli_linear"]) == 2
    assert "[INVALID_ARGUMENT] export_dir is" in capsys.readouterr().err
