"""Shared fixtures: the repository's committed models, and a pyspark session with tfspark's jars."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS = REPO_ROOT / "models"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS


@pytest.fixture(scope="session")
def spark():
    """A local[2] pyspark session whose JVM has tfspark's assembled jar and SQL extension.

    The jars come from ``./sbt sparkScala/dist`` (bin/test builds them first). Missing jars fail
    the test with the command to run, unless TFSPARK_SKIP_JVM=1 asks to skip the JVM tests.
    """
    from python_trainer.spark_bridge import JarNotFoundError, build_session

    try:
        session = build_session(
            master="local[2]",
            app_name="tfspark-pytest",
            repository=MODELS,
            default_model="linear",
        )
    except JarNotFoundError:
        if os.environ.get("TFSPARK_SKIP_JVM") == "1":
            pytest.skip("TFSPARK_SKIP_JVM=1 and the tfspark jars are not built")
        raise
    session.sparkContext.setLogLevel("WARN")
    yield session
    session.stop()
