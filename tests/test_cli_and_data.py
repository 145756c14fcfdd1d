"""The CLI's contract and the data-directory resolution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from python_trainer import cli, data_dir
from python_trainer.errors import DataNotFoundError, OutputExistsError, UnknownWorkflowError
from python_trainer.samples import DEFAULT_ROWS, write_sample
from python_trainer.workflows import WORKFLOWS, get_workflow
from tfspark.toolkit.export import read_signatures
from tfspark.toolkit.sample_inputs import read_sample_inputs

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "python_trainer", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1"},
    )


def test_unknown_workflow_is_a_usage_error():
    result = run_cli("train", "no_such_model")
    assert result.returncode == 2
    assert "invalid choice: 'no_such_model'" in result.stderr


def test_get_workflow_names_the_known_ones():
    with pytest.raises(UnknownWorkflowError) as info:
        get_workflow("nope")
    assert info.value.params == {"expected": ["cifar2", "covid", "imdb", "linear", "titanic"], "got": "nope"}


def test_missing_data_file_lists_every_place_looked_at(tmp_path, monkeypatch):
    monkeypatch.setenv(data_dir.ENV_VAR, str(tmp_path / "env"))
    with pytest.raises(DataNotFoundError) as info:
        data_dir.resolve_data_file("titanic/nothing.csv")
    assert str(tmp_path / "env" / "titanic" / "nothing.csv") in str(info.value)
    assert info.value.params["looked_at"][0] == str(tmp_path / "env")


def test_data_dir_finds_the_shared_data_sets():
    path = data_dir.resolve_data_file("titanic/train.csv")
    assert path.is_file()


def test_explicit_data_dir_wins(tmp_path):
    (tmp_path / "covid-19.csv").write_text("date\n")
    assert data_dir.resolve_data_file("covid-19.csv", data_dir=tmp_path) == tmp_path / "covid-19.csv"


@pytest.mark.cli
def test_verify_and_signatures_commands(models_dir):
    ok = run_cli("verify", str(models_dir / "linear" / "1"))
    assert ok.returncode == 0 and "reproduce" in ok.stdout
    sigs = run_cli("signatures", str(models_dir / "linear" / "1"))
    assert sigs.returncode == 0
    assert '"key": "features"' in sigs.stdout


def test_sample_writes_feature_rows(tmp_path):
    out = tmp_path / "f.csv"
    result = run_cli("sample", "linear", "--rows", "5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "x1,x2" and len(lines) == 6


def test_the_cli_knows_every_workflow():
    assert cli.BOOK_MODELS == sorted(WORKFLOWS)


SAMPLE_FILES = {
    "linear": "x.csv",
    "titanic": "passengers.csv",
    "imdb": "reviews.csv",
    "cifar2": "images",
    "covid": "w.json",
}


@pytest.mark.parametrize("name", sorted(SAMPLE_FILES))
def test_sample_feeds_that_models_serving_default(tmp_path, models_dir, name):
    """The sample's rows, matched to the signature's inputs as Spark matches columns (by name, any case;
    extra columns ignored), run through the committed model in Python TF: one output row per sample row."""
    import tensorflow as tf

    model_dir = models_dir / name / "1"
    sample = write_sample(name, tmp_path / SAMPLE_FILES[name], rows=5)
    assert sample.rows == 5
    inputs = read_sample_inputs(sample.path, read_signatures(model_dir)["serving_default"]["inputs"])
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    outputs = serve(**{k: tf.constant(v) for k, v in inputs.items()})
    for key, value in outputs.items():
        assert value.shape[0] == 5, key
        if value.dtype.is_floating:
            assert np.isfinite(value.numpy()).all(), key


def test_titanic_sample_carries_every_raw_column_including_name(tmp_path):
    import pandas as pd

    path = write_sample("titanic", tmp_path / "p.csv", rows=1000).path
    frame = pd.read_csv(path, escapechar="\\")
    raw = pd.read_csv(data_dir.resolve_data_file("titanic/test.csv"))
    assert list(frame.columns) == list(raw.columns) and "Name" in frame.columns
    assert len(frame) == 1000 and frame["PassengerId"].is_unique
    assert frame["Name"].str.contains(r"\b(?:Mr|Mrs|Miss|Master)\.").mean() > 0.9
    assert frame["Age"].isna().any(), "missing ages stay missing (the model's NaN contract)"


def test_samples_default_sizes_and_formats(tmp_path):
    covid = write_sample("covid", tmp_path / "w.json")
    lines = covid.path.read_text().splitlines()
    assert len(lines) == DEFAULT_ROWS["covid"]

    first = json.loads(lines[0])
    assert np.array(first["window"]).shape == (8, 3) and first["date"].startswith("2020-")
    images = write_sample("cifar2", tmp_path / "images", rows=3)
    assert sorted(p.suffix for p in images.path.iterdir()) == [".jpg"] * 3


def test_sample_never_replaces_an_output_without_force(tmp_path):
    out = tmp_path / "f.csv"
    out.write_text("keep me")
    with pytest.raises(OutputExistsError):
        write_sample("linear", out, rows=2)
    assert out.read_text() == "keep me"
    write_sample("linear", out, rows=2, overwrite=True)
    assert out.read_text().splitlines()[0] == "x1,x2"


def test_train_refuses_an_existing_version_before_training(models_dir):
    committed = models_dir / "linear" / "1" / "saved_model.pb"
    before = committed.stat().st_mtime_ns
    result = run_cli("train", "linear")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert "[MODEL_VERSION_EXISTS]" in result.stderr and str(models_dir / "linear" / "1") in result.stderr
    assert "--version 2" in result.stderr and "--force" in result.stderr
    assert "training" not in result.stdout
    assert committed.stat().st_mtime_ns == before


@pytest.mark.training
def test_train_replaces_a_version_only_with_force(tmp_path):
    first = run_cli("train", "linear", "--out", str(tmp_path), "--epochs", "1")
    assert first.returncode == 0, first.stderr
    assert "Epoch" not in first.stdout + first.stderr, "Keras progress is off unless --verbose"
    again = run_cli("train", "linear", "--out", str(tmp_path), "--epochs", "1")
    assert again.returncode == 2 and "[MODEL_VERSION_EXISTS]" in again.stderr
    forced = run_cli("train", "linear", "--out", str(tmp_path), "--epochs", "1", "--force")
    assert forced.returncode == 0, forced.stderr
    assert sorted(p.name for p in (tmp_path / "linear").iterdir()) == ["1"]


# How Spark reads each sample, the tfpredict call that scores it, the column that names a row, and the
# model's output that the call returns (a struct field where the model has several outputs).
SPARK_SCORING = {
    "linear": ("csv", "tfpredict('linear', array(x1, x2))", None, "prediction"),
    "titanic": ("csv", "tfpredict('titanic', struct(*)).probability", "PassengerId", "probability"),
    "imdb": ("csv", "tfpredict('imdb', review)", "id", "probability"),
    "cifar2": ("binaryFile", "tfpredict('cifar2', content).probability", "path", "probability"),
    "covid": ("json", "tfpredict('covid', window)", "date", "next_day"),
}


@pytest.mark.jvm
@pytest.mark.parametrize("name", sorted(SPARK_SCORING))
def test_samples_score_through_spark_as_written(spark, tmp_path, models_dir, name):
    """Spark reads each sample with its defaults (CSV: header and inferSchema, as BatchScore reads CSV),
    tfpredict scores every row, and the JVM's numbers equal Python TF's on the same rows."""
    import pandas as pd
    import tensorflow as tf

    fmt, call, key, output = SPARK_SCORING[name]
    sample = write_sample(name, tmp_path / SAMPLE_FILES[name], rows=40)
    reader = spark.read.format(fmt)
    if fmt == "csv":
        reader = reader.option("header", True).option("inferSchema", True)
    frame = reader.load(str(sample.path))
    spark.conf.set("spark.tfpredict.nullPolicy", "fill")
    try:
        if key is None:  # linear: generated rows, in file order (one partition)
            rows = frame.coalesce(1).selectExpr(f"{call} AS p").collect()
            jvm = [r["p"] for r in rows]
        else:
            rows = frame.selectExpr(f"CAST({key} AS STRING) AS k", f"{call} AS p").collect()
            jvm_by_key = {r["k"]: r["p"] for r in rows}
    finally:
        spark.conf.unset("spark.tfpredict.nullPolicy")
    assert len(rows) == 40

    model_dir = models_dir / name / "1"
    inputs = read_sample_inputs(sample.path, read_signatures(model_dir)["serving_default"]["inputs"])
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    python = serve(**{k: tf.constant(v) for k, v in inputs.items()})[output].numpy()
    if key is not None:
        if fmt == "binaryFile":
            keys = [f"file:{p}" for p in sorted(sample.path.iterdir())]
        elif fmt == "json":
            keys = [json.loads(line)[key] for line in sample.path.read_text().splitlines()]
        else:
            keys = pd.read_csv(sample.path, escapechar="\\")[key].astype(str).tolist()
        jvm = [jvm_by_key[k] for k in keys]
    np.testing.assert_allclose(np.array(jvm, dtype=np.float32).reshape(python.shape), python, rtol=1e-4, atol=1e-5)
