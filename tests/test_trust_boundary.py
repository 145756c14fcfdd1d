"""The trust boundary (SECURITY.md): SQL users cannot re-point the model repository.

``spark.tfpredict.repository`` is a static SQL configuration, fixed when the application starts. A
runtime ``SET``, ``RESET``, ``spark.conf.set`` or ``spark.conf.unset`` of it fails with Spark's
``CANNOT_MODIFY_STATIC_CONFIG`` (SQLSTATE 46110) and ``tfpredict`` keeps answering from the repository
given at start. Each client is driven the way its users drive it:

- pyspark (classic, py4j): the shared ``spark`` session of conftest;
- the ``spark-sql`` CLI of the pip-installed Spark: once as a script (``-e``), once as a terminal
  session (statements on standard input);
- Spark Connect: ``SparkConnectServer`` started through ``spark-submit``, and a pyspark Connect client.

pyspark 4.2's Connect client needs protobuf >= 6.33.5, while tensorflow-cpu 2.18.1 pins protobuf < 6, so
the client runs in a child Python of the same virtualenv with its packages from
``$TFSPARK_CACHE/connect-client`` (``.cache/connect-client`` by default; ``CONNECT_CLIENT_INSTALL``
installs them; ``$TFSPARK_CONNECT_CLIENT`` names another folder). When they are missing the Connect tests
fail with that command: they are not skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import MODELS, REPO_ROOT
from spark_processes import QUICK_JVM, free_port, kill_group, serving, spark_env, spark_script, tfspark_conf

pytestmark = pytest.mark.jvm

KEY = "spark.tfpredict.repository"
STATIC = "CANNOT_MODIFY_STATIC_CONFIG"
STATIC_SQLSTATE = "46110"
STATIC_MESSAGE = f'[{STATIC}] Cannot modify the value of the static Spark config: "{KEY}". SQLSTATE: {STATIC_SQLSTATE}'
PREDICT = "SELECT tfpredict('linear', array(1.0f, 2.0f)) AS p"
WAIT_S = 120

CACHE = Path(os.environ.get("TFSPARK_CACHE") or REPO_ROOT / ".cache")  # as bin/setup
CONNECT_CLIENT = Path(os.environ.get("TFSPARK_CONNECT_CLIENT") or CACHE / "connect-client")
CONNECT_CLIENT_REQUIREMENTS = [
    "protobuf>=6.33.5,<7",
    "grpcio-status>=1.76,<2",
    "googleapis-common-protos>=1.71,<2",
    "zstandard>=0.25,<1",
]
CONNECT_CLIENT_INSTALL = (
    f".venv/bin/python -m pip install --cache-dir {CACHE / 'pip'} --upgrade --target {CONNECT_CLIENT} "
    + " ".join(f'"{r}"' for r in CONNECT_CLIENT_REQUIREMENTS)
)


def book_prediction() -> float:
    """linear's golden output for [1, 2] (≈ 2.8381), read without TensorFlow."""
    golden = json.loads((MODELS / "linear" / "1" / "assets.extra" / "golden.json").read_text())
    case = {c["name"]: c for c in golden["cases"]}["book_examples"]
    assert case["inputs"]["features"]["data"][:2] == [1.0, 2.0]
    return case["outputs"]["prediction"]["data"][0]


def condition(exc: BaseException) -> str | None:
    """The error condition of a pyspark exception, or of the Java exception inside a Py4JJavaError."""
    if hasattr(exc, "getCondition"):
        return exc.getCondition()
    java = getattr(exc, "java_exception", None)
    return java.getCondition() if java is not None else None


def conf_args() -> list[str]:
    """``--conf`` for tfspark's jars, extension and repository (what configure_spark_with_tfspark adds), for a
    short-lived driver: no UI, and the JIT and GC that halve a JVM's start-up CPU on 2 cores.

    Missing jars fail the test, as in conftest's ``spark``, unless TFSPARK_SKIP_JVM=1 asks to skip it.
    """
    conf = tfspark_conf()
    conf["spark.ui.enabled"] = "false"
    conf["spark.driver.extraJavaOptions"] += f" {QUICK_JVM}"
    return [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]


# ---------------------------------------------------------------------------------------------------
# pyspark, classic


def test_pyspark_cannot_set_the_repository(spark, spark_repository, tmp_path):
    from pyspark.errors import AnalysisException
    from pyspark.sql import SparkSession

    repository = str(spark_repository.resolve())  # the shared session's start value (conftest)
    evil = str(tmp_path / "evil")
    attempts = {
        "SET": lambda: spark.sql(f"SET {KEY}={evil}").collect(),
        "SET `key`": lambda: spark.sql(f"SET `{KEY}`={evil}").collect(),
        "RESET key": lambda: spark.sql(f"RESET {KEY}").collect(),
        "conf.set": lambda: spark.conf.set(KEY, evil),
        "conf.unset": lambda: spark.conf.unset(KEY),
    }
    for label, attempt in attempts.items():
        with pytest.raises(AnalysisException) as refused:
            attempt()
        assert refused.value.getCondition() == STATIC, label
        assert refused.value.getSqlState() == STATIC_SQLSTATE, label
        assert refused.value.getMessageParameters() == {"key": f'"{KEY}"'}, label
        assert str(refused.value).startswith(STATIC_MESSAGE), label

    # The builder hands back the running session, and applies only runtime configurations to it.
    assert SparkSession.builder.config(KEY, evil).getOrCreate() is spark
    assert spark.conf.isModifiable(KEY) is False
    assert spark.conf.get(KEY) == repository
    assert [tuple(r) for r in spark.sql(f"SET {KEY}").collect()] == [(KEY, repository)]
    assert spark.sql(PREDICT).head()["p"] == pytest.approx(book_prediction(), abs=1e-5)


def test_pyspark_new_sessions_and_reset_keep_the_repository(spark, spark_repository, tmp_path):
    """Another key spelling is another (unused) key; a new session and a full RESET keep the start value."""
    from pyspark.errors import AnalysisException

    repository = str(spark_repository.resolve())
    other = spark.newSession()
    other.sql(f"SET {KEY.upper()}={tmp_path / 'evil'}").collect()  # keys are case-sensitive: harmless
    assert other.conf.get(KEY) == repository
    assert other.sql(PREDICT).head()["p"] == pytest.approx(book_prediction(), abs=1e-5)
    with pytest.raises(AnalysisException) as refused:
        other.sql(f"SET {KEY}={tmp_path / 'evil'}").collect()
    assert refused.value.getCondition() == STATIC
    other.sql("RESET").collect()
    assert other.conf.get(KEY) == repository
    assert other.sql(PREDICT).head()["p"] == pytest.approx(book_prediction(), abs=1e-5)


@pytest.mark.parametrize("name", ["../linear", "/etc", "linear/../linear", ".."])
def test_pyspark_a_path_in_place_of_a_model_name_is_rejected(spark, name):
    """In the SQL text, and in spark.tfpredict.defaultModel (a runtime configuration anyone may SET)."""
    expected = f"[INVALID_ARGUMENT] model name is '{name}'; expected a model name in the repository"
    with pytest.raises(Exception) as rejected:
        spark.sql(f"SELECT tfpredict('{name}', array(1.0f, 2.0f))").collect()
    assert condition(rejected.value) == "INVALID_ARGUMENT"
    assert expected in str(rejected.value)

    other = spark.newSession()
    other.sql(f"SET spark.tfpredict.defaultModel={name}").collect()
    with pytest.raises(Exception) as rejected:
        other.sql("SELECT tfpredict(array(1.0f, 2.0f))").collect()
    assert condition(rejected.value) == "INVALID_ARGUMENT"
    assert expected in str(rejected.value)


# ---------------------------------------------------------------------------------------------------
# spark-sql CLI


@pytest.mark.servers
def test_spark_sql_cli_refuses_set(tmp_path):
    """As a script (``-e``) the CLI stops at the refused SET and exits 1; at its prompt (statements on
    standard input) it reports the error and goes on, still answering from the start repository."""
    evil = tmp_path / "evil"
    cli = [spark_script("spark-sql"), "--master", "local[1]", *conf_args()]
    script = f"{PREDICT}; SET {KEY}; SET {KEY}={evil}; SELECT 'not reached';"
    prompt = f"SET {KEY}={evil};\n{PREDICT};\nSET {KEY};\n"
    runs = {}
    for label, args, stdin in [("script", ["-e", script], subprocess.DEVNULL), ("prompt", [], subprocess.PIPE)]:
        workdir = tmp_path / label  # the CLI leaves metastore_db/ and derby.log in its working folder
        workdir.mkdir()
        runs[label] = subprocess.Popen(
            cli + args,
            cwd=workdir,
            env=spark_env(),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    try:
        out = {
            label: proc.communicate(prompt if label == "prompt" else None, timeout=WAIT_S)
            for label, proc in runs.items()
        }
    finally:
        for proc in runs.values():
            kill_group(proc)

    stdout, stderr = out["script"]
    assert runs["script"].returncode == 1, stderr[-3000:]
    assert STATIC_MESSAGE in stderr
    lines = stdout.splitlines()
    assert float(lines[0]) == pytest.approx(book_prediction(), abs=1e-5)
    assert lines[1] == f"{KEY}\t{MODELS.resolve()}"
    assert "not reached" not in stdout

    stdout, stderr = out["prompt"]
    assert STATIC_MESSAGE in stderr, stderr[-3000:]
    values = [line.split("> ")[-1] for line in stdout.splitlines() if line.strip()]
    predictions = [float(v) for v in values if v.replace(".", "", 1).isdigit()]
    assert predictions == [pytest.approx(book_prediction(), abs=1e-5)], stdout
    assert f"{KEY}\t{MODELS.resolve()}" in values, stdout
    assert runs["prompt"].returncode == 0, stderr[-3000:]


# ---------------------------------------------------------------------------------------------------
# Spark Connect


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory):
    """A SparkConnectServer (it ships in pyspark's jars) with tfspark, as ``sc://127.0.0.1:PORT``."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("connect-server")
    command = [
        spark_script("spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[2]",
        *conf_args(),
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
    ]
    with serving(command, port, workdir / "server.log", workdir, "SparkConnectServer", WAIT_S):
        yield f"sc://127.0.0.1:{port}"


CONNECT_CLIENT_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings

    url, evil, report = sys.argv[1:4]
    results = {}

    def record(label, action):
        try:
            results[label] = {"value": action()}
        except Exception as e:
            results[label] = {
                "error": type(e).__module__ + "." + type(e).__name__,
                "analysis": isinstance(e, AnalysisException),
                "condition": e.getCondition() if hasattr(e, "getCondition") else None,
                "sqlstate": e.getSqlState() if hasattr(e, "getSqlState") else None,
                "parameters": e.getMessageParameters() if hasattr(e, "getMessageParameters") else None,
                "message": str(e).splitlines()[0],
            }

    try:
        from pyspark.sql.connect.utils import check_dependencies

        check_dependencies()
        import pyspark.sql.connect.proto  # protobuf's gencode/runtime version check
        from pyspark.errors import AnalysisException
        from pyspark.sql import SparkSession
    except Exception as e:
        results["missing"] = f"{type(e).__name__}: {e}"
    else:
        predict = "SELECT tfpredict('linear', array(1.0f, 2.0f)) AS p"
        key = "spark.tfpredict.repository"
        spark = SparkSession.builder.remote(url).getOrCreate()
        try:
            record("predict before", lambda: spark.sql(predict).head()["p"])
            record("SET", lambda: spark.sql(f"SET {key}={evil}").collect())
            record("RESET key", lambda: spark.sql(f"RESET {key}").collect())
            record("conf.set", lambda: spark.conf.set(key, evil))
            record("conf.unset", lambda: spark.conf.unset(key))
            record("isModifiable", lambda: spark.conf.isModifiable(key))
            record("conf.get", lambda: spark.conf.get(key))
            record("SET key", lambda: [list(r) for r in spark.sql(f"SET {key}").collect()])
            record("predict after", lambda: spark.sql(predict).head()["p"])
            call = "tfpredict('linear', array(1.0f, 2.0f))"
            record("DataFrame after", lambda: spark.range(1).selectExpr(call).head()[0])
            record("path as name", lambda: spark.sql("SELECT tfpredict('/etc', array(1.0f, 2.0f))").collect())
        finally:
            spark.stop()
        # A client that asks for another repository when it creates its session: refused with a warning.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            other = SparkSession.builder.remote(url).config(key, evil).create()
        try:
            results["builder warnings"] = [str(w.message) for w in caught if key in str(w.message)]
            record("builder conf.get", lambda: other.conf.get(key))
            record("builder predict", lambda: other.sql(predict).head()["p"])
        finally:
            other.stop()
    with open(report, "w") as f:
        json.dump(results, f)
    """
)


@pytest.fixture(scope="module")
def connect_results(connect_url, tmp_path_factory):
    """Runs the Connect client in a child Python (see the module docstring) and returns its report."""
    workdir = tmp_path_factory.mktemp("connect-client")
    script = workdir / "client.py"
    script.write_text(CONNECT_CLIENT_SCRIPT)
    report = workdir / "report.json"
    env = spark_env()
    if CONNECT_CLIENT.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(CONNECT_CLIENT), env.get("PYTHONPATH")) if p)
    run = subprocess.run(
        [sys.executable, str(script), connect_url, str(workdir / "evil"), str(report)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert run.returncode == 0 and report.is_file(), f"Connect client failed ({run.returncode}):\n{run.stderr[-3000:]}"
    results = json.loads(report.read_text())
    if "missing" in results:
        pytest.fail(
            f"the Spark Connect client's packages are missing ({results['missing']}); from the repository root run:\n"
            f"  {CONNECT_CLIENT_INSTALL}"
        )
    return results


@pytest.mark.servers
def test_connect_serves_tfpredict(connect_results):
    for label in ("predict before", "predict after", "DataFrame after", "builder predict"):
        assert connect_results[label] == {"value": pytest.approx(book_prediction(), abs=1e-5)}, label


@pytest.mark.servers
@pytest.mark.parametrize("attempt", ["SET", "RESET key", "conf.set", "conf.unset"])
def test_connect_cannot_set_the_repository(connect_results, attempt):
    assert connect_results[attempt] == {
        "error": "pyspark.errors.exceptions.connect.AnalysisException",
        "analysis": True,
        "condition": STATIC,
        "sqlstate": STATIC_SQLSTATE,
        "parameters": {"key": f'"{KEY}"'},
        "message": STATIC_MESSAGE,
    }


@pytest.mark.servers
def test_connect_repository_stays_the_start_value(connect_results):
    repository = str(MODELS.resolve())
    assert connect_results["isModifiable"] == {"value": False}
    assert connect_results["conf.get"] == {"value": repository}
    assert connect_results["SET key"] == {"value": [[KEY, repository]]}
    assert connect_results["builder conf.get"] == {"value": repository}
    assert len(connect_results["builder warnings"]) == 1
    assert STATIC_MESSAGE in connect_results["builder warnings"][0]


@pytest.mark.servers
def test_connect_a_path_in_place_of_a_model_name_is_rejected(connect_results):
    rejected = connect_results["path as name"]
    assert rejected["condition"] == "INVALID_ARGUMENT"
    assert "[INVALID_ARGUMENT] model name is '/etc'" in rejected["message"]
