"""Cross-language agreement: the JVM's tfpredict, called from pyspark through py4j, against
Python TF on the same rows."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfspark import TFModelTransformer, register, tfpredict
from tfspark.jars import assembly_jar
from tfspark.toolkit import golden

pytestmark = pytest.mark.jvm


def python_tf(export_dir, features: np.ndarray) -> np.ndarray:
    fn = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    return fn(features=tf.constant(features))["prediction"].numpy()


def test_sql_tfpredict_on_the_jvm_matches_python_tf(spark, models_dir):
    rng = np.random.default_rng(7)
    features = np.concatenate(
        [
            linear_book_rows(),
            rng.uniform(-100, 100, size=(200, 2)).astype(np.float32),
            np.array([[0, 0], [1e6, -1e6], [1e-30, -1e-30]], dtype=np.float32),
        ]
    )
    rows = [(i, [float(v) for v in f]) for i, f in enumerate(features)]
    spark.createDataFrame(rows, "id INT, features ARRAY<FLOAT>").repartition(3).createOrReplaceTempView("xlang")
    got = spark.sql("SELECT id, tfpredict('linear', features) AS p FROM xlang ORDER BY id").collect()
    jvm = np.array([r["p"] for r in got], dtype=np.float32)
    expected = python_tf(models_dir / "linear" / "1", features).reshape(-1)
    np.testing.assert_allclose(jvm, expected, rtol=1e-6, atol=1e-5)


def test_default_model_and_result_type(spark):
    df = spark.sql("SELECT tfpredict(array(1.0f, 2.0f)) AS p")
    assert df.schema["p"].dataType.simpleString() == "float"
    assert df.head()["p"] == pytest.approx(golden_book_prediction(), abs=1e-5)


def test_register_on_a_running_session_crosses_py4j(spark):
    register(spark)
    assert spark.sql("SELECT tfpredict('linear', array(1, 2)) AS p").head()["p"] == pytest.approx(
        golden_book_prediction(), abs=1e-5
    )


def test_jvm_errors_reach_python_with_their_error_class(spark):
    with pytest.raises(Exception) as info:
        spark.sql("SELECT tfpredict('no_such_model', array(1.0f, 2.0f))").collect()
    assert "[MODEL_NOT_FOUND] Model no_such_model was not found" in str(info.value)
    with pytest.raises(Exception) as shape:
        spark.sql("SELECT tfpredict(array(1.0f, 2.0f, 3.0f))").collect()
    assert "[INPUT_SHAPE_MISMATCH] Input features of model linear expects 2 values in dimension 1" in str(shape.value)


def linear_book_rows() -> np.ndarray:
    return np.array([[1, 2], [3, 5], [6, 7], [8, 3]], dtype=np.float32)


def golden_book_prediction() -> float:
    from conftest import MODELS

    _, cases = golden.load_golden(MODELS / "linear" / "1")
    return float({c.name: c for c in cases}["book_examples"].outputs["prediction"][0, 0])


def test_readme_pyspark_example(spark):
    """The README's pyspark calls, on the shared session (configure_spark_with_tfspark made it)."""
    assert spark.sql("SELECT tfpredict(array(1.0f, 2.0f)) AS prediction").head()["prediction"] == pytest.approx(
        golden_book_prediction(), abs=1e-5
    )
    reviews = spark.createDataFrame([("A wonderful, moving film.",), ("Dull and far too long.",)], "review STRING")
    positive = [
        r["positive"] for r in reviews.select("review", tfpredict("imdb", "review").alias("positive")).collect()
    ]
    assert positive[0] > 0.5 > positive[1]
    from python_trainer.data_dir import resolve_data_file

    passengers = spark.read.csv(str(resolve_data_file("titanic/test.csv")), header=True, inferSchema=True)
    scored = TFModelTransformer(model="titanic", nullPolicy="fill").transform(passengers)
    assert scored.select("prediction.*").columns == ["probability", "survived"]
    assert scored.count() == 179


def test_a_jvm_without_the_native_jar_says_which_jar_is_missing(models_dir):
    """Inspect (no Spark needed) on a classpath without TF's native jar: one clear line, exit 1."""
    import os
    import subprocess

    import pyspark

    assembly = assembly_jar()
    classpath = f"{assembly}:{os.path.join(os.path.dirname(pyspark.__file__), 'jars', '*')}"
    result = subprocess.run(
        ["java", "-cp", classpath, "tfspark.jobs.Inspect", "--repository", str(models_dir), "--model", "linear"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1
    assert "[NATIVE_LIBRARY_MISSING]" in result.stderr
    assert "tensorflow-core-native-1.1.0-linux-x86_64.jar" in result.stderr
