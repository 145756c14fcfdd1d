"""``export_keras`` and the ``export``/``golden`` commands: your own model in tfspark's contract.

Each export is proven the way the JVM will use it: ``python -m python_trainer check`` loads it with the
graph-mode loader that mirrors TF's C++ ``LoadSavedModel`` (TF Java, TF Serving) and replays its golden
vectors, and ``verify`` replays them through Python TF.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from python_trainer.errors import (
    ExportError,
    GoldenVectorsMissingError,
    ModelNotExportableError,
    OutputExistsError,
    SampleInputError,
    VersionExistsError,
)
from tfspark.toolkit.check import check_saved_model
from tfspark.toolkit.endpoints import lower_snake
from tfspark.toolkit.export import TensorInfo, add_golden_vectors, export_keras, read_signatures
from tfspark.toolkit.golden import load_golden, verify_golden
from tfspark.toolkit.sample_inputs import read_sample_inputs

REPO_ROOT = Path(__file__).resolve().parent.parent
# bin/env.sh's level: the CLI must be quiet even where the environment lets TF's warnings through.
CLI_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1"}
TF_LOG_LINE = re.compile(
    r"^(\S+ \S+: [IW] tensorflow/|[IW]\d{4} \d\d:\d\d:|WARNING: All log messages|WARNING:absl)", re.M
)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "python_trainer", *args],
        capture_output=True,
        text=True,
        check=False,
        env=CLI_ENV,
        cwd=REPO_ROOT,
        timeout=300,
    )


def two_input_model() -> keras.Model:
    """A functional model with a float input named like a column and a string input in camelCase."""
    keras.utils.set_random_seed(3)
    tenure = keras.Input(shape=(2,), name="Tenure Months")
    plan = keras.Input(shape=(), name="planName", dtype="string")
    plan_one_hot = keras.layers.StringLookup(vocabulary=["basic", "pro"], output_mode="one_hot")(plan)
    hidden = keras.layers.Dense(4, activation="relu")(keras.layers.Concatenate()([tenure, plan_one_hot]))
    churn = keras.layers.Dense(1, activation="sigmoid", name="churn")(hidden)
    return keras.Model([tenure, plan], churn)


SAMPLE = {"tenure_months": [[3.0, 1.0], [40.0, 0.5], [np.nan, 2.0]], "PlanName": ["pro", "basic", "unseen"]}


@pytest.fixture(scope="module")
def two_input_export(tmp_path_factory) -> Path:
    return export_keras(two_input_model(), tmp_path_factory.mktemp("repo") / "churn" / "1", sample_inputs=SAMPLE)


def test_keras_inputs_and_outputs_get_lower_snake_keys(two_input_export):
    sigs = read_signatures(two_input_export)
    assert list(sigs) == ["serving_default"]
    assert sigs["serving_default"]["inputs"] == [
        TensorInfo("plan_name", "string", (None,)),
        TensorInfo("tenure_months", "float32", (None, 2)),
    ]
    assert sigs["serving_default"]["outputs"] == [TensorInfo("churn", "float32", (None, 1))]


def test_golden_vectors_hold_the_sample_inputs_and_the_saved_models_outputs(two_input_export):
    doc, cases = load_golden(two_input_export)
    assert (doc["model"], doc["version"]) == ("churn", 1)
    (case,) = cases
    assert case.signature == "serving_default"
    assert case.inputs["plan_name"].tolist() == [b"pro", b"basic", b"unseen"]
    assert np.isnan(case.inputs["tenure_months"][2, 0])
    model = tf.saved_model.load(str(two_input_export)).signatures["serving_default"]
    again = model(**{k: tf.constant(v) for k, v in case.inputs.items()})["churn"].numpy()
    np.testing.assert_array_equal(again, case.outputs["churn"])
    assert case.outputs["churn"].shape == (3, 1)


def test_the_export_restores_in_tfs_cpp_loader_and_its_golden_vectors_replay(two_input_export):
    check = run_cli("check", str(two_input_export))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "serving_default: ok (warm-up from golden vectors, 1 case" in check.stdout
    verify = run_cli("verify", str(two_input_export))
    assert verify.returncode == 0, verify.stderr
    assert "reproduce" in verify.stdout


def test_a_tf_function_with_a_captured_variable_exports_and_runs_in_the_cpp_loader(tmp_path):
    weights = tf.Variable([[2.0], [-1.0]])

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="features")])
    def predict(x):
        return x @ weights + 3.0

    out = export_keras(predict, tmp_path / "fn" / "1", sample_inputs={"features": [[1, 2], [3, 5]]})
    sigs = read_signatures(out)["serving_default"]
    assert [i.key for i in sigs["inputs"]] == ["features"] and [o.key for o in sigs["outputs"]] == ["prediction"]
    _, (case,) = load_golden(out)
    np.testing.assert_allclose(case.outputs["prediction"], [[3.0], [4.0]])
    report = check_saved_model(out)  # what `check` runs: the graph-mode loader, as TF's C++ loader
    assert report.ok and report.signature("serving_default").source == "golden", report.lines()
    assert verify_golden(out) == 0.0


def test_a_module_that_does_not_track_its_keras_model_still_restores(tmp_path):
    """The Keras trap: a tf.Module holding a Keras 3 model saves variables TF's C++ loader
    cannot find. export_keras tracks every variable the signatures use, so this export runs there."""
    model = two_input_model()

    class Scorer(tf.Module):
        def __init__(self):
            super().__init__()
            self.model = model  # the trap: Keras 3 variables reachable only through the model

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, 2], tf.float32, name="tenure"),
                tf.TensorSpec([None], tf.string, name="plan"),
            ]
        )
        def __call__(self, tenure, plan):
            return {"churn_probability": self.model([tenure, plan])}

    scorer = Scorer()
    tf.saved_model.save(scorer, str(tmp_path / "trap" / "1"))
    assert not check_saved_model(tmp_path / "trap" / "1").ok, "the premise: saved as-is, the C++ loader fails"
    out = export_keras(scorer, tmp_path / "scorer" / "1", sample_inputs={"tenure": [[1.0, 2.0]], "plan": ["pro"]})
    report = check_saved_model(out)
    assert report.ok and report.diagnosis is None, report.lines()
    assert report.signature("serving_default").runs == 1


def test_a_keras_model_with_a_second_signature_gets_golden_vectors_for_each(tmp_path):
    model = two_input_model()
    hidden = model.layers[-2]

    @tf.function(input_signature=[tf.TensorSpec([None, 5], tf.float32, name="joined")])
    def embed(joined):
        return {"embedding": hidden(joined)}

    out = export_keras(
        model,
        tmp_path / "churn" / "1",
        signatures={"embed": embed},
        sample_inputs={"serving_default": SAMPLE, "embed": {"joined": np.eye(5, dtype=np.float32)}},
    )
    assert sorted(read_signatures(out)) == ["embed", "serving_default"]
    _, cases = load_golden(out)
    assert {c.signature: c.name for c in cases} == {"serving_default": "sample_inputs", "embed": "embed_sample_inputs"}
    report = check_saved_model(out)
    assert report.ok and [r.source for r in report.signatures] == ["golden", "golden"], report.lines()


def test_an_existing_version_is_never_replaced_without_overwrite(two_input_export, tmp_path):
    before = (two_input_export / "assets.extra" / "golden.json").read_bytes()
    with pytest.raises(VersionExistsError) as info:
        export_keras(
            two_input_model(), two_input_export, sample_inputs={"tenure_months": [[1.0, 1.0]], "plan_name": ["pro"]}
        )
    assert info.value.params == {"path": str(two_input_export), "next_version": 2}
    assert "the next free version is 2" in str(info.value) and "overwrite=True" in str(info.value)
    assert (two_input_export / "assets.extra" / "golden.json").read_bytes() == before

    target = tmp_path / "m" / "1"
    export_keras(two_input_model(), target, sample_inputs=SAMPLE)
    export_keras(
        two_input_model(), target, sample_inputs={"tenure_months": [[1.0, 1.0]], "plan_name": ["pro"]}, overwrite=True
    )
    _, (case,) = load_golden(target)
    assert case.inputs["plan_name"].tolist() == [b"pro"]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["1"], "no staging or replaced folder left behind"


def test_bad_sample_inputs_fail_before_anything_is_published(tmp_path):
    target = tmp_path / "m" / "1"
    with pytest.raises(SampleInputError, match="no values for input 'plan_name'"):
        export_keras(two_input_model(), target, sample_inputs={"tenure_months": [[1.0, 2.0]]})
    with pytest.raises(SampleInputError, match=r"feed no input"):
        export_keras(two_input_model(), target, sample_inputs={**SAMPLE, "tenure": [[1.0, 2.0]] * 3})
    with pytest.raises(SampleInputError, match=r"dimension 1 is 3, expected 2"):
        export_keras(
            two_input_model(), target, sample_inputs={"tenure_months": [[1.0, 2.0, 3.0]], "plan_name": ["pro"]}
        )
    with pytest.raises(SampleInputError, match="sample_inputs are required"):
        export_keras(two_input_model(), target, sample_inputs={})
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


def test_what_cannot_be_exported_is_named(tmp_path):
    with pytest.raises(ExportError, match="not a version folder"):
        export_keras(two_input_model(), tmp_path / "churn", sample_inputs=SAMPLE)
    with pytest.raises(ModelNotExportableError, match="expected a Keras 3 model"):
        export_keras(lambda x: x, tmp_path / "f" / "1", sample_inputs=SAMPLE)

    @tf.function
    def unsigned(x):
        return x

    with pytest.raises(ModelNotExportableError, match="input_signature"):
        export_keras(unsigned, tmp_path / "u" / "1", sample_inputs={"x": [1.0]})

    keras.utils.set_random_seed(1)
    inputs = keras.Input(shape=(2,), name="x")
    two_unnamed = keras.Model(inputs, [keras.layers.Dense(1)(inputs), keras.layers.Dense(2)(inputs)])
    with pytest.raises(ExportError, match="output_names"):
        export_keras(two_unnamed, tmp_path / "two" / "1", sample_inputs={"x": [[1.0, 2.0]]})
    out = export_keras(
        two_unnamed, tmp_path / "two" / "1", sample_inputs={"x": [[1.0, 2.0]]}, output_names=["score", "embedding"]
    )
    assert [o.key for o in read_signatures(out)["serving_default"]["outputs"]] == ["embedding", "score"]


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        ("Petal Length", "petal_length"),
        ("petalLength", "petal_length"),
        ("my-input", "my_input"),
        ("HTTPCode", "http_code"),
        ("x1", "x1"),
    ],
)
def test_lower_snake(name, snake):
    assert lower_snake(name) == snake


def test_sample_files_match_inputs_like_spark_columns(tmp_path):
    inputs = [
        TensorInfo("age", "float32", (None,)),
        TensorInfo("sex", "string", (None,)),
        TensorInfo("n", "int64", (None,)),
    ]
    csv = tmp_path / "rows.csv"
    csv.write_text('Id,Age,SEX,n\n1,22.5,"male",3\n2,,"fe\\"male",0\n', encoding="utf-8")
    got = read_sample_inputs(csv, inputs)
    assert got["age"].dtype == np.float32 and np.isnan(got["age"][1]) and got["age"][0] == 22.5
    assert got["sex"].tolist() == [b"male", b'fe"male'] and got["n"].tolist() == [3, 0]

    lines = tmp_path / "rows.json"
    lines.write_text('{"age": 1, "sex": "a", "n": 1}\n{"age": null, "sex": "b", "n": 2}\n', encoding="utf-8")
    assert np.isnan(read_sample_inputs(lines, inputs)["age"][1])
    columns = tmp_path / "cols.json"
    columns.write_text(json.dumps({"age": [1.5], "sex": ["x"], "n": [None]}), encoding="utf-8")
    with pytest.raises(SampleInputError, match="input 'n'.*missing value"):
        read_sample_inputs(columns, inputs)

    wide = [TensorInfo("features", "float32", (None, 2))]
    (tmp_path / "x.csv").write_text("x1,x2\n1,2\n3,4\n", encoding="utf-8")
    np.testing.assert_array_equal(read_sample_inputs(tmp_path / "x.csv", wide)["features"], [[1, 2], [3, 4]])
    np.savez(tmp_path / "x.npz", features=np.ones((3, 2)))
    assert read_sample_inputs(tmp_path / "x.npz", wide)["features"].dtype == np.float32
    (tmp_path / "x.txt").write_text("1", encoding="utf-8")
    with pytest.raises(SampleInputError, match="unknown sample format '.txt'"):
        read_sample_inputs(tmp_path / "x.txt", wide)


@pytest.mark.cli
def test_cli_exports_a_keras_file_quietly(tmp_path):
    model = two_input_model()
    model.save(tmp_path / "churn.keras")
    (tmp_path / "rows.csv").write_text(
        'customer,tenure_months,plan_name\n1,"[3.0, 1.0]","pro"\n2,"[40.0, 0.5]","basic"\n', encoding="utf-8"
    )
    out = tmp_path / "repo" / "churn" / "1"
    run = run_cli(
        "export", "--keras", str(tmp_path / "churn.keras"), "--sample", str(tmp_path / "rows.csv"), "--out", str(out)
    )
    assert run.returncode == 0, run.stderr
    assert f"exported {out}" in run.stdout and "plan_name string [-1]" in run.stdout
    assert not TF_LOG_LINE.search(run.stderr), run.stderr
    _, (case,) = load_golden(out)
    assert case.inputs["tenure_months"].tolist() == [[3.0, 1.0], [40.0, 0.5]]

    again = run_cli(
        "export", "--keras", str(tmp_path / "churn.keras"), "--sample", str(tmp_path / "rows.csv"), "--out", str(out)
    )
    assert again.returncode == 2 and again.stderr.count("\n") == 1, again.stderr
    assert "[MODEL_VERSION_EXISTS]" in again.stderr and "Traceback" not in again.stderr

    for command in ("check", "signatures", "verify"):
        quiet = run_cli(command, str(out))
        assert quiet.returncode == 0, quiet.stderr
        assert not TF_LOG_LINE.search(quiet.stderr), f"{command}: {quiet.stderr}"
        assert quiet.stderr == "", f"{command}: {quiet.stderr}"


def test_verbose_brings_tensorflows_log_lines_back(models_dir):
    run = run_cli("check", str(models_dir / "linear" / "1"), "--verbose")
    assert run.returncode == 0
    assert TF_LOG_LINE.search(run.stderr), run.stderr


@pytest.mark.cli
def test_verify_without_golden_vectors_says_how_to_make_them(tmp_path):
    keras.utils.set_random_seed(2)
    inputs = keras.Input(shape=(3,), name="features")
    model = keras.Model(inputs, keras.layers.Dense(1, name="score")(inputs))
    plain = tmp_path / "repo" / "plain" / "1"
    model.export(str(plain), verbose=False)

    run = run_cli("verify", str(plain))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert "[GOLDEN_VECTORS_MISSING]" in run.stderr
    assert f"python -m python_trainer golden {plain} --sample" in run.stderr and "export_keras" in run.stderr
    with pytest.raises(GoldenVectorsMissingError):
        verify_golden(plain)

    # ... and following that advice works: golden vectors for a model exported another way.
    (tmp_path / "rows.json").write_text(json.dumps({"features": [[1, 2, 3], [0, 0, 0]]}), encoding="utf-8")
    made = run_cli("golden", str(plain), "--sample", str(tmp_path / "rows.json"))
    assert made.returncode == 0, made.stderr
    assert run_cli("verify", str(plain)).returncode == 0
    with pytest.raises(OutputExistsError):
        add_golden_vectors(plain, sample_inputs={"features": [[1.0, 1.0, 1.0]]})
