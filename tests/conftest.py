"""Shared fixtures: the repository's committed models, the foreign-model corpus, and a pyspark
session with tfspark's jars whose repository holds both. Also the slow tiers' markers and ``--fast``
(docs/testing.md)."""

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


# The CPU flags tfspark's model/Bfloat16Support takes as bfloat16 in hardware (docs/precision.md).
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def cpu_has_bfloat16() -> bool:
    """Whether tfspark runs bfloat16 on this machine, by the rule of ``model/Bfloat16Support``: one of
    :data:`BFLOAT16_FLAGS` among the first processor's flags (x86 ``flags``, Arm ``Features``) and oneDNN
    not turned off. Tests of ``spark.tfpredict.precision=bfloat16`` expect numbers where this holds and
    ``BFLOAT16_NOT_SUPPORTED`` where it does not."""
    cpuinfo = Path("/proc/cpuinfo")
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower() in ("0", "false", "off", "no"):
        return False
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    line = next((x for x in lines if x.startswith(("flags", "Features"))), "")
    return any(flag in line.partition(":")[2].split() for flag in BFLOAT16_FLAGS)


# The slow tiers (docs/testing.md): ``bin/test`` runs them, ``bin/test --fast`` (pytest ``--fast``) leaves
# them out. A test is in a tier through its marker (``pytestmark = pytest.mark.<tier>`` for a module,
# ``@pytest.mark.<tier>`` for a test); a new marker added here is a new slow tier.
SLOW_TIERS: dict[str, str] = {
    "cluster": "a Spark standalone cluster (master and 2 workers from the pip-installed Spark), processes killed",
    "packaging": "the wheel built and pip-installed into a clean virtualenv outside the checkout",
    "readme": "README.md's code blocks, each run as written in a process of its own (one JVM per block)",
    "servers": "Spark servers and clients started as processes: Thrift and beeline, Spark Connect, the spark-sql CLI, "
    "a streaming query restarted from its checkpoint",
    "submit": "spark-submit applications started as processes: BatchScore killed at each commit step, bad --conf",
    "corpus": "the generated foreign-model corpus: its generator, check on every model, every model from pyspark",
    "training": "trains the book's models (smoke training of each workflow, determinism of training)",
    "bench": "the benchmark harness end to end",
    "cli": "the trainer's command line run as processes, several commands a test (each process imports TensorFlow)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        default=False,
        help=f"leave out the slow tiers ({', '.join(SLOW_TIERS)}): the tests bin/test --fast runs (docs/testing.md)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for tier, holds in SLOW_TIERS.items():
        config.addinivalue_line("markers", f"{tier}: slow tier, {holds} (left out by --fast)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--fast``, deselects (reported as such, never skipped) every test that carries a slow tier's marker."""
    if not config.getoption("--fast"):
        return
    slow = [item for item in items if any(item.get_closest_marker(tier) for tier in SLOW_TIERS)]
    if slow:
        config.hook.pytest_deselected(items=slow)
        left_out = set(slow)
        items[:] = [item for item in items if item not in left_out]


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
    # The MLflow tracking server is a static setting: the registry tests' server (tests/mlflow_server.py)
    # listens there once started; until then a models:/ reference finds no server.
    from mlflow_server import URL as MLFLOW_URL

    builder = builder.config("spark.tfpredict.mlflow.trackingUri", MLFLOW_URL)
    session = configure_spark_with_tfspark(builder, repository=repository, default_model="linear").getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    yield session
    session.stop()
