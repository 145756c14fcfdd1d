"""The four book workflows: signature contract, golden vectors, reports and quality bars, both for
the committed exports and for a fresh smoke training of each trainer."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT as REPO

from tfspark.toolkit import export, golden

T = export.TensorInfo
CONTRACT = {
    "titanic": {
        "serving_default": {
            "inputs": [
                T("age", "float32", (None,)),
                T("cabin", "string", (None,)),
                T("embarked", "string", (None,)),
                T("fare", "float32", (None,)),
                T("name", "string", (None,)),
                T("parch", "int64", (None,)),
                T("pclass", "int64", (None,)),
                T("sex", "string", (None,)),
                T("sibsp", "int64", (None,)),
            ],
            "outputs": [T("probability", "float32", (None, 1)), T("survived", "int64", (None,))],
        },
        "features": {
            "inputs": [T("features", "float32", (None, 15))],
            "outputs": [T("probability", "float32", (None, 1))],
        },
    },
    "cifar2": {
        "serving_default": {
            "inputs": [T("image_bytes", "string", (None,))],
            "outputs": [T("label", "string", (None,)), T("probability", "float32", (None, 1))],
        },
        "pixels": {
            "inputs": [T("pixels", "float32", (None, 32, 32, 3))],
            "outputs": [T("probability", "float32", (None, 1))],
        },
    },
    "imdb": {
        "serving_default": {
            "inputs": [T("review", "string", (None,))],
            "outputs": [T("probability", "float32", (None, 1))],
        }
    },
    "covid": {
        "serving_default": {
            "inputs": [T("window", "float32", (None, None, 3))],
            "outputs": [T("next_day", "float32", (None, 3))],
        }
    },
}
EDGE_CASES = {
    "titanic": {
        "missing_age_cabin_embarked",
        "unseen_categories",
        "extreme_fares",
        "pclass_outside_1_to_3",
        "name_empty",
        "name_without_title",
        "name_unseen_title",
        "name_non_ascii",
    },
    "cifar2": {"mixed_formats_and_sizes", "batch_of_one_png"},
    "imdb": {"empty_and_blank", "ten_thousand_words", "non_ascii", "html_breaks"},
    "covid": {"window_1_day", "window_5_days", "window_8_days", "window_20_days"},
}
BOOK = sorted(CONTRACT)


@pytest.fixture(scope="session")
def smoke_root(tmp_path_factory):
    """Every trainer, smoke-trained (a few steps on a tiny subset) through the CLI into a temp dir."""
    out = tmp_path_factory.mktemp("smoke_models")
    result = subprocess.run(
        [sys.executable, "-m", "python_trainer", "train", "--all", "--smoke", "--quiet", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def run_with_c_api_loader(export_dir, case: golden.GoldenCase) -> dict[str, np.ndarray]:
    """Runs a case through the C++ SavedModel loader that TF Java and TF Serving use."""
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(export_dir))
        sig = meta.signature_def[case.signature]
        feed = {sig.inputs[k].name: v for k, v in case.inputs.items()}
        keys = sorted(sig.outputs)
        values = sess.run([sig.outputs[k].name for k in keys], feed_dict=feed)
        return dict(zip(keys, values, strict=True))


def check_export(export_dir, name: str) -> None:
    sigs = export.read_signatures(export_dir)
    assert sigs == CONTRACT[name]
    assert golden.verify_golden(export_dir) <= 1e-3
    doc, cases = golden.load_golden(export_dir)
    names = {c.name for c in cases}
    assert EDGE_CASES[name] <= names
    assert any(c.name.endswith("empty_batch") for c in cases), "an empty batch must be a golden case"
    assert {c.signature for c in cases} == set(CONTRACT[name]), "every signature has golden vectors"
    for case in cases:
        got = run_with_c_api_loader(export_dir, case)
        for key, want in case.outputs.items():
            if want.dtype == object:
                assert got[key].tolist() == want.tolist()
            else:
                np.testing.assert_allclose(got[key], want, rtol=doc["tolerance"]["rtol"], atol=doc["tolerance"]["atol"])
    extra = export_dir / "assets.extra"
    assert (extra / "training_curves.png").stat().st_size > 1000
    card = (extra / "model_card.md").read_text()
    assert "## Signatures" in card and "seed" in card and tf.__version__ in card
    assert json.loads((extra / "metrics.json").read_text())


@pytest.mark.parametrize("name", BOOK)
def test_committed_export_meets_the_contract(name, models_dir):
    check_export(models_dir / name / "1", name)


@pytest.mark.parametrize("name", BOOK)
def test_committed_export_meets_its_quality_bar(name, models_dir):
    metrics = json.loads((models_dir / name / "1" / "assets.extra" / "metrics.json").read_text())
    report = json.loads((models_dir / name / "1" / "assets.extra" / "training_report.json").read_text())
    assert report["smoke"] is False
    if name == "covid":
        assert metrics["holdout_mae"] < metrics["naive_persistence_mae"]
    else:
        key = "test_auc" if name == "titanic" else "test_accuracy"
        assert metrics[key] >= metrics["bar"], metrics


@pytest.mark.training
@pytest.mark.parametrize("name", BOOK)
def test_smoke_training_exports_the_same_contract(name, smoke_root):
    check_export(smoke_root / name / "1", name)
    report = json.loads((smoke_root / name / "1" / "assets.extra" / "training_report.json").read_text())
    assert report["smoke"] is True


def test_cifar2_undecodable_bytes_fail_with_a_decode_error(models_dir):
    fn = tf.saved_model.load(str(models_dir / "cifar2" / "1")).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="(?i)unknown image file format|decode"):
        fn(image_bytes=tf.constant([b"definitely not an image"]))


def _titanic_raw(**overrides) -> dict[str, tf.Tensor]:
    """One third-class passenger of 30 with no title, as raw ``serving_default`` inputs."""
    raw = dict(pclass=[3], name=[""], sex=["male"], age=[30.0], sibsp=[0], parch=[0], fare=[10.0], cabin=["C1"])
    raw = {**raw, "embarked": ["S"], **overrides}
    dtypes = {"pclass": tf.int64, "sibsp": tf.int64, "parch": tf.int64, "age": tf.float32, "fare": tf.float32}
    return {k: tf.constant(v, dtypes.get(k, tf.string)) for k, v in raw.items()}


def test_titanic_unseen_categories_equal_all_zero_one_hots(models_dir):
    """'X' for sex and embarked, pclass 7 and no title behave exactly like all-zero one-hot columns."""
    loaded = tf.saved_model.load(str(models_dir / "titanic" / "1"))
    raw = loaded.signatures["serving_default"](**_titanic_raw(pclass=[7], sex=["X"], embarked=["X"]))["probability"]
    features = np.zeros((1, 15), np.float32)
    features[0, 5], features[0, 9] = 30.0, 10.0
    direct = loaded.signatures["features"](features=tf.constant(features))["probability"]
    np.testing.assert_allclose(raw.numpy(), direct.numpy(), rtol=1e-6)


def test_titanic_features_signature_is_the_raw_one_with_the_title_unknown(models_dir):
    """The book's 15 floats carry no name: ``features`` equals ``serving_default`` with a name without title."""
    loaded = tf.saved_model.load(str(models_dir / "titanic" / "1"))
    features = np.zeros((1, 15), np.float32)
    features[0, [2, 4, 10, 13]] = 1  # Pclass_3, male, Cabin_null, Embarked_S
    features[0, 5], features[0, 9] = 30.0, 10.0
    direct = loaded.signatures["features"](features=tf.constant(features))["probability"].numpy()
    for name in ["", "John Doe", "Doe, John"]:
        raw = loaded.signatures["serving_default"](**_titanic_raw(name=[name], cabin=[""]))["probability"].numpy()
        np.testing.assert_allclose(raw, direct, rtol=1e-6, err_msg=name)


def test_titanic_title_groups_and_rare_titles(models_dir):
    """Aliases share a group (Mlle = Miss, Mme = Mrs), titles never seen are Rare, case and spaces do not matter."""
    serve = tf.saved_model.load(str(models_dir / "titanic" / "1")).signatures["serving_default"]

    def p(name: str, sex: str = "female") -> float:
        return float(serve(**_titanic_raw(name=[name], sex=[sex]))["probability"].numpy()[0, 0])

    assert p("Doe, Mlle. Anne") == p("Doe, Miss. Anne") == p("DOE,miss .ANNE")
    assert p("Doe, Mme. Anne") == p("Doe, Mrs. Anne")
    assert p("Doe, Prof. John", "male") == p("Doe, Dr. John", "male") == p("Doe, the Countess. x", "male")
    assert len({p("Doe, Mr. A", "male"), p("Doe, Master. A", "male"), p("Doe, Dr. A", "male"), p("A", "male")}) == 4


@pytest.mark.training
def test_titanic_training_is_deterministic(tmp_path):
    """Two full trainings with the same seed give the same golden outputs, bit for bit."""
    for out in ("a", "b"):
        result = subprocess.run(
            [sys.executable, "-m", "python_trainer", "train", "titanic", "--quiet", "--out", str(tmp_path / out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    runs = [json.loads((tmp_path / out / "titanic/1/assets.extra/golden.json").read_text()) for out in ("a", "b")]
    assert runs[0]["cases"] == runs[1]["cases"]
    metrics = [json.loads((tmp_path / out / "titanic/1/assets.extra/metrics.json").read_text()) for out in ("a", "b")]
    assert metrics[0] == metrics[1]


def test_evaluate_command_recomputes_the_recorded_metric(models_dir):
    result = subprocess.run(
        [sys.executable, "-m", "python_trainer", "evaluate", "titanic"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    recorded = json.loads((models_dir / "titanic" / "1" / "assets.extra" / "metrics.json").read_text())
    assert json.loads(result.stdout.strip().splitlines()[-1])["test_auc"] == recorded["test_auc"]


def test_train_needs_a_name_or_all():
    result = subprocess.run(
        [sys.executable, "-m", "python_trainer", "train"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "a workflow name or --all" in result.stderr


def test_test_only_models_regenerate_identically(tmp_path):
    """The int64-token and scalar float64/bool test model that ScalaTest uses is made by a committed script."""
    script = "spark-scala/src/test/resources/models/make_test_models.py"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(REPO / script), str(tmp_path)], capture_output=True, text=True, check=False, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    committed = json.loads(
        (REPO / "spark-scala/src/test/resources/models/tokens/1/assets.extra/golden.json").read_text()
    )
    fresh = json.loads((tmp_path / "tokens" / "1" / "assets.extra" / "golden.json").read_text())
    assert fresh["cases"] == committed["cases"]
    # thumbnail/1's bytes outputs (PNG): Python TF computes the same bytes the byte-exact JVM tests expect
    thumbnail = "thumbnail/1/assets.extra/expected_bytes.json"
    committed_bytes = json.loads((REPO / "spark-scala/src/test/resources/models" / thumbnail).read_text())
    assert json.loads((tmp_path / thumbnail).read_text()) == committed_bytes
    # ragged/1's outputs, which the JVM must match exactly; the composite and unknown-rank models
    ragged = "ragged/1/assets.extra/expected_ragged.json"
    committed_ragged = json.loads((REPO / "spark-scala/src/test/resources/models" / ragged).read_text())
    assert json.loads((tmp_path / ragged).read_text()) == committed_ragged
    assert all(
        (tmp_path / m / "1" / "saved_model.pb").is_file()
        for m in ("sparse_tf1", "sparse_tf2", "ragged_tf1", "unknown_rank")
    )
