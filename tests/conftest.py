"""Shared fixtures: the repository's committed models, the foreign-model corpus, and a pyspark
session with tfspark's jars whose repository holds both."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS = REPO_ROOT / "models"
FOREIGN_GENERATOR = REPO_ROOT / "tests" / "foreign_models" / "make_foreign_models.py"
FOREIGN_MODELS = REPO_ROOT / "target" / "foreign-models"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS


def _corpus_is_fresh(out: Path) -> bool:
    spec = importlib.util.spec_from_file_location("make_foreign_models", FOREIGN_GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.is_fresh(out)


@pytest.fixture(scope="session")
def foreign_models() -> Path:
    """``target/foreign-models``: the foreign-model corpus, generated first when it is missing or stale.

    bin/test generates it before any test; the generator does nothing when its stamp matches.
    """
    if not (FOREIGN_MODELS / "corpus.json").is_file() or not _corpus_is_fresh(FOREIGN_MODELS):
        result = subprocess.run(
            [sys.executable, str(FOREIGN_GENERATOR), str(FOREIGN_MODELS)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return FOREIGN_MODELS


@pytest.fixture(scope="session")
def spark_repository(tmp_path_factory, foreign_models) -> Path:
    """The pyspark session's model repository: a folder of symbolic links, one per model by name, to
    every model of ``models/`` and every model of the foreign corpus (``target/foreign-models/plain``).

    ``spark.tfpredict.repository`` is static (fixed when the session starts), so one pyspark process
    has one repository: this one serves both the committed models and the corpus.
    """
    repo = tmp_path_factory.mktemp("tfpredict-repository")
    corpus = [e["name"] for e in json.loads((foreign_models / "corpus.json").read_text(encoding="utf-8"))]
    committed = sorted(p.name for p in MODELS.iterdir() if p.is_dir())
    clash = set(corpus) & set(committed)
    assert not clash, f"foreign corpus models shadow committed models: {sorted(clash)}"
    for name in committed:
        (repo / name).symlink_to(MODELS / name, target_is_directory=True)
    for name in corpus:
        (repo / name).symlink_to(foreign_models / "plain" / name, target_is_directory=True)
    return repo


@pytest.fixture(scope="session")
def spark(request):
    """A local[2] pyspark session whose JVM has tfspark's assembled jar and SQL extension.

    Its repository is :func:`spark_repository` (the committed models and the foreign corpus, by
    name). The jars come from ``./sbt sparkScala/dist`` (bin/test builds them first). Missing jars
    fail the test with the command to run, unless TFSPARK_SKIP_JVM=1 asks to skip the JVM tests.
    """
    from pyspark.sql import SparkSession

    from tfspark import configure_spark_with_tfspark, jars
    from tfspark.errors import TFSparkClientError

    try:
        jars.assembly_jar()
    except TFSparkClientError:
        if os.environ.get("TFSPARK_SKIP_JVM") == "1":
            pytest.skip("TFSPARK_SKIP_JVM=1 and the tfspark jars are not built")
        raise
    builder = SparkSession.builder.master("local[2]").appName("tfspark-pytest")
    repository = request.getfixturevalue("spark_repository")
    session = configure_spark_with_tfspark(builder, repository=repository, default_model="linear").getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    yield session
    session.stop()
