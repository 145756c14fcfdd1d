"""The linear workflow (book chapter 6-7): export contract, golden vectors, determinism."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from python_trainer.errors import ExportError, GoldenMismatchError
from python_trainer.workflows import linear
from python_trainer.workflows.common import TrainConfig
from tfspark.toolkit import export, golden


def test_committed_export_has_the_named_signature(models_dir):
    sigs = export.read_signatures(models_dir / "linear" / "1")
    assert list(sigs) == ["serving_default"]
    assert sigs["serving_default"]["inputs"] == [export.TensorInfo("features", "float32", (None, 2))]
    assert sigs["serving_default"]["outputs"] == [export.TensorInfo("prediction", "float32", (None, 1))]


def test_committed_golden_vectors_reproduce_in_python_tf(models_dir):
    assert golden.verify_golden(models_dir / "linear" / "1") <= 1e-5


def test_golden_vectors_cover_the_edges(models_dir):
    doc, cases = golden.load_golden(models_dir / "linear" / "1")
    names = {c.name for c in cases}
    assert {"zeros", "plus_minus_1e6", "tiny", "batch_of_one", "book_examples"} <= names
    by_name = {c.name: c for c in cases}
    assert by_name["batch_of_one"].inputs["features"].shape == (1, 2)
    assert np.abs(by_name["plus_minus_1e6"].inputs["features"]).max() == 1e6
    assert doc["tensorflow"] == tf.__version__
    assert doc["tolerance"] == {"atol": 1e-5, "rtol": 1e-6}


def test_export_runs_through_the_c_api_loader_that_tf_java_uses(models_dir):
    """TF Java loads with the C++ SavedModel loader, not Python's object graph. Keras 3 exports can
    load in Python yet fail there ("Could not find variable"); this runs that loader."""
    export_dir = str(models_dir / "linear" / "1")
    _, cases = golden.load_golden(models_dir / "linear" / "1")
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], export_dir)
        sig = meta.signature_def["serving_default"]
        for case in cases:
            out = sess.run(
                sig.outputs["prediction"].name,
                feed_dict={sig.inputs["features"].name: case.inputs["features"]},
            )
            np.testing.assert_allclose(out, case.outputs["prediction"], rtol=1e-6, atol=1e-5)


def test_training_learns_the_book_coefficients(models_dir):
    extra = models_dir / "linear" / "1" / "assets.extra"
    metrics = json.loads((extra / "metrics.json").read_text())
    np.testing.assert_allclose(metrics["learned_w"], [2.0, -1.0], atol=0.1)
    assert abs(metrics["learned_b"] - 3.0) < 0.3
    assert json.loads((extra / "training_report.json").read_text())["epochs"] == 100
    assert (models_dir / "linear" / "1" / "assets.extra" / "training_curves.png").stat().st_size > 1000


def test_two_trainings_give_equal_predictions(tmp_path):
    a = linear.train(TrainConfig(out_root=tmp_path / "a", epochs=3, verbose=0))
    b = linear.train(TrainConfig(out_root=tmp_path / "b", epochs=3, verbose=0))
    assert a.metrics["learned_w"] == b.metrics["learned_w"]
    assert a.metrics["learned_b"] == b.metrics["learned_b"]
    _, cases_a = golden.load_golden(a.export_dir)
    _, cases_b = golden.load_golden(b.export_dir)
    for ca, cb in zip(cases_a, cases_b, strict=True):
        np.testing.assert_array_equal(ca.outputs["prediction"], cb.outputs["prediction"])


@pytest.mark.training
def test_cli_regenerates_the_committed_export_exactly(tmp_path, models_dir):
    """``python -m python_trainer train linear`` reproduces the committed golden outputs bit for bit."""
    result = subprocess.run(
        [sys.executable, "-m", "python_trainer", "train", "linear", "--out", str(tmp_path), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "learned_w" in result.stdout
    _, fresh = golden.load_golden(tmp_path / "linear" / "1")
    _, committed = golden.load_golden(models_dir / "linear" / "1")
    for f, c in zip(fresh, committed, strict=True):
        np.testing.assert_array_equal(f.outputs["prediction"], c.outputs["prediction"])


def test_verify_reports_a_tampered_golden_file(tmp_path, models_dir):
    import shutil

    copy = tmp_path / "linear" / "1"
    shutil.copytree(models_dir / "linear" / "1", copy)
    path = copy / "assets.extra" / "golden.json"
    doc = json.loads(path.read_text())
    doc["cases"][0]["outputs"]["prediction"]["data"][0] += 0.5
    path.write_text(json.dumps(doc))
    with pytest.raises(GoldenMismatchError, match="book_examples"):
        golden.verify_golden(copy)


def test_export_rejects_auto_generated_tensor_names(tmp_path):
    class AutoNamed(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="features")])
        def serve(self, features):
            return {"output_0": features * 2.0}

    module = AutoNamed()
    with pytest.raises(ExportError) as info:
        export.save_module(module, {"serving_default": module.serve}, out_root=tmp_path, name="bad", version=1)
    assert info.value.params["got"] == "output_0"
    assert not (tmp_path / "bad" / "1").exists()
