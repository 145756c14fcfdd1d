"""The pip-installed package, as a pyspark user gets it: a clean virtualenv outside the checkout.

``bin/wheel --no-sbt`` builds the wheel from this checkout (with the jar bin/test just built); a new
virtualenv in a temporary folder installs it with its ``connect`` extra through pip (packages come
from the repository's pip cache after the first run). Nothing of the checkout is importable there.
The user's HOME is a temporary folder whose ``~/.m2/settings.xml`` names a mirror of Maven Central:
a loopback HTTP server that serves TF Java's native jar, so the first session proves that the jar is
fetched once through the mirror (and verified against its ``.sha1``), and the Connect server's
start proves that the second use finds it in the user cache. ``TFSPARK_NATIVE_CACHE`` points at the
checkout's JavaCPP cache (the documented variable) so that TF's 680 MB library is not unpacked again.

Then, in that virtualenv:
- ``python -m tfspark examples --out DIR`` writes the README's example models (no clone, no TF);
- the trainer's commands that need TensorFlow (the ``train`` extra is not installed) say
  ``pip install 'tfspark[train]'`` in one line, and its data look-up names what to set;
- a classic session scores Titanic with the ``tfpredict`` Column and with the Transformer, saves and
  loads the Pipeline, and catches a TFSparkError at analysis and in a task, with its class;
- a Spark Connect server started with ``python -m tfspark spark-args`` serves the same Column to a
  Connect client, and its errors arrive as TFSparkError with their class too.
Both give the probabilities that the checkout's own session gives, bit for bit, and their consoles
carry no Spark INFO lines, no TF C++ INFO lines, and no log copy of the caught task error.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import MODELS, REPO_ROOT, cpu_has_bfloat16
from spark_processes import free_port, serving

pytestmark = [pytest.mark.jvm, pytest.mark.packaging]

CACHE = Path(os.environ.get("TFSPARK_CACHE") or REPO_ROOT / ".cache")
DIST = REPO_ROOT / "spark-scala" / "target" / "dist"
NATIVE = "tensorflow-core-native-1.1.0-linux-x86_64.jar"
NATIVE_PATH = f"org/tensorflow/tensorflow-core-native/1.1.0/{NATIVE}"
TITANIC_CSV = REPO_ROOT.parent / "shared" / "data" / "titanic" / "test.csv"
USER_SCRIPTS = Path(__file__).resolve().parent / "pip_user"
# A log4j line at INFO ("26/11/28 13:00:11 INFO SparkContext: ...") or a TF C++ INFO line.
NOISE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d INFO |^I\d{4} |^\S* ?I (tensorflow|external)/", re.M)
# TF 2.18's absl logging writes these two lines once per JVM; no setting turns them off (see README).
ABSL_ONCE = re.compile(
    r"^WARNING: All log messages before absl::InitializeLog\(\).*\n"
    r"|^I0000 .*MLIR V1 optimization pass is not enabled\n",
    re.M,
)


def console(text: str) -> str:
    """A console's text without the two absl lines that TF prints once per JVM."""
    return ABSL_ONCE.sub("", text)


@pytest.fixture(scope="module")
def wheel() -> Path:
    if not (DIST / "tfspark-assembly.jar").is_file():
        if os.environ.get("TFSPARK_SKIP_JVM") == "1":
            pytest.skip("TFSPARK_SKIP_JVM=1 and the tfspark jars are not built")
        pytest.fail("spark-scala/target/dist/tfspark-assembly.jar is missing: run ./sbt sparkScala/dist")
    run = subprocess.run([str(REPO_ROOT / "bin" / "wheel"), "--no-sbt"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return Path(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def maven_mirror(tmp_path_factory):
    """A loopback 'mirror of Central' that has TF Java's native jar and its .sha1; yields its URL and hit log."""
    root = tmp_path_factory.mktemp("maven-mirror")
    jar = root / NATIVE_PATH
    jar.parent.mkdir(parents=True)
    jar.symlink_to(DIST / NATIVE)
    digest = hashlib.sha1()
    with open(jar, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    (root / (NATIVE_PATH + ".sha1")).write_text(digest.hexdigest())
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            hits.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


@pytest.fixture(scope="module")
def user(tmp_path_factory, wheel, maven_mirror):
    """A clean virtualenv with the wheel and a user HOME whose Maven settings name the mirror."""
    base = tmp_path_factory.mktemp("pip-user")
    assert REPO_ROOT not in base.parents, "the virtualenv must be outside the checkout"
    home = base / "home"
    (home / ".m2").mkdir(parents=True)
    url, _ = maven_mirror
    (home / ".m2" / "settings.xml").write_text(
        "<settings><mirrors><mirror><id>loopback</id><mirrorOf>central</mirrorOf>"
        f"<url>{url}</url></mirror></mirrors></settings>"
    )
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    import pyspark

    # The pyspark this checkout builds and tests against (the wheel allows any 4.2.x): reproducible,
    # and pip takes it from the cache that bin/setup filled.
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--cache-dir", str(CACHE / "pip")]
    install = subprocess.run(
        [*pip, f"{wheel}[connect]", f"pyspark=={pyspark.__version__}"],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    env = {
        "HOME": str(home),
        "PATH": f"{venv / 'bin'}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "TFSPARK_NATIVE_CACHE": str(CACHE / "javacpp"),
    }
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    return {"python": str(venv / "bin" / "python"), "venv": venv, "home": home, "env": env, "base": base}


def checkout_probabilities(spark) -> dict[int, float]:
    """The checkout's own session on the same rows: what the installed package must reproduce."""
    spark.conf.set("spark.tfpredict.nullPolicy", "fill")
    try:
        rows = spark.read.csv(str(TITANIC_CSV), header=True, inferSchema=True).selectExpr(
            "PassengerId", "tfpredict('titanic', struct(*)).probability AS p"
        )
        return {r.PassengerId: r.p for r in rows.collect()}
    finally:
        spark.conf.unset("spark.tfpredict.nullPolicy")


def run_user_script(user, name: str, *args: str) -> tuple[dict, subprocess.CompletedProcess]:
    workdir = user["base"] / name.removesuffix(".py")
    workdir.mkdir()
    run = subprocess.run(
        [user["python"], str(USER_SCRIPTS / name), *args, str(workdir)],
        cwd=workdir,
        env=user["env"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, f"{name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-5000:]}"
    return json.loads((workdir / "report.json").read_text()), run


def check_errors(errors: dict) -> None:
    assert errors["analysis"]["condition"] == "MODEL_NOT_FOUND", errors
    assert errors["analysis"]["parameters"]["model"] == "no_such_model"
    assert "titanic" in errors["analysis"]["parameters"]["available"]
    assert errors["task"]["condition"] == "NULL_INPUT", errors
    assert errors["task"]["parameters"]["input"] == "features"
    assert errors["task"]["message"].startswith("[NULL_INPUT]")


def user_command(user, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*args], cwd=cwd, env=user["env"], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def example_models(user) -> Path:
    """The README's example models, as a pip user gets them: ``python -m tfspark examples``."""
    run = user_command(user, user["python"], "-m", "tfspark", "examples", "--out", "models", cwd=user["base"])
    assert run.returncode == 0, run.stderr
    out = user["base"] / "models"
    assert sorted(p.name for p in out.iterdir()) == ["imdb", "linear", "titanic"]
    for name in ("imdb", "linear", "titanic"):  # the same files as the checkout's models
        for f in (MODELS / name / "1").rglob("*"):
            if f.is_file():
                assert (out / name / "1" / f.relative_to(MODELS / name / "1")).read_bytes() == f.read_bytes(), f
    again = user_command(user, user["python"], "-m", "tfspark", "examples", "--out", "models", cwd=user["base"])
    assert again.returncode == 1 and again.stderr.startswith("[INVALID_ARGUMENT]") and "--force" in again.stderr
    return out


def test_trainer_without_the_train_extra(user):
    """The venv has tfspark[connect], not [train]: TF commands say how to get it; data needs a data dir."""
    workdir = user["base"] / "trainer"
    workdir.mkdir()
    train = str(user["venv"] / "bin" / "tfspark-train")
    for args in (["check", str(MODELS / "linear" / "1")], ["train", "linear", "--smoke"]):
        run = user_command(user, train, *args, cwd=workdir)
        assert run.returncode == 2, run.stderr
        (line,) = run.stderr.splitlines()  # the first module of the extra that the command imports
        assert re.fullmatch(
            rf"error: \[TRAINER_ERROR\] '{args[0]}' needs the train extra \((tensorflow|ml_dtypes) is not installed\): "
            r"pip install 'tfspark\[train\]'",
            line,
        ), line
    module = user_command(
        user, user["python"], "-m", "python_trainer", "verify", str(MODELS / "linear" / "1"), cwd=workdir
    )
    assert (
        module.returncode == 2 and "pip install 'tfspark[train]'" in module.stderr and "Traceback" not in module.stderr
    )
    sample = user_command(user, train, "sample", "titanic", "--out", "passengers.csv", cwd=workdir)
    assert sample.returncode == 2, sample.stderr
    assert "Pass --data-dir DIR or set $TFSPARK_DATA_DIR=DIR" in sample.stderr, sample.stderr
    assert "site-packages" not in sample.stderr
    given = user_command(
        user,
        train,
        "sample",
        "titanic",
        "--out",
        "passengers.csv",
        "--data-dir",
        str(TITANIC_CSV.parent.parent),
        cwd=workdir,
    )
    assert given.returncode == 0, given.stderr
    assert (workdir / "passengers.csv").is_file(), "written where the user runs it"


def test_classic_session_from_the_wheel(user, maven_mirror, example_models, spark):
    report, run = run_user_script(user, "classic_session.py", str(example_models), str(TITANIC_CSV))
    site = user["venv"] / "lib"
    assert Path(report["tfspark_file"]).is_relative_to(site), report["tfspark_file"]
    fetched = user["home"] / ".cache" / "tfspark" / "jars" / NATIVE
    assert fetched.is_file() and str(fetched) in report["spark_jars"], report["spark_jars"]
    assert "tfspark-assembly.jar" in report["spark_jars"] and str(site) in report["spark_jars"]
    _, hits = maven_mirror
    assert hits.count("/" + NATIVE_PATH) == 1, hits
    assert "tfspark: fetching org.tensorflow:tensorflow-core-native:1.1.0:linux-x86_64 once" in run.stderr

    expected = checkout_probabilities(spark)
    assert len(expected) == 179
    by_column = {int(k): v for k, v in report["by_column"].items()}
    by_pipeline = {int(k): v for k, v in report["by_pipeline"].items()}
    assert by_column == expected
    assert by_pipeline == expected
    positive = report["imdb_positive"]
    assert len(positive) == 2 and positive[0] > positive[1], positive  # "wonderful" over "dull"
    assert abs(report["linear_prediction"] - 3.0) < 0.5, report  # y = 2*x1 - x2 + 3 (the book's chapter 6-7)
    assert report["loaded_stage"] == "tfspark.ml.TFModelTransformer" and report["loaded_model"] == "titanic"
    check_errors(report["errors"])
    assert "caught TFSparkCapturedError: [NULL_INPUT]" in run.stdout

    quiet = console(run.stderr)
    assert not NOISE.search(quiet), NOISE.search(quiet).group(0)
    assert "[NULL_INPUT]" not in run.stderr, "the caught task error was logged too"
    assert "Py4JJavaError" not in run.stderr + run.stdout


def test_connect_client_from_the_wheel(user, maven_mirror, spark):
    args = subprocess.run(
        [user["python"], "-m", "tfspark", "spark-args"], env=user["env"], capture_output=True, text=True, check=True
    )
    assert "fetching" not in args.stderr, "the native jar is fetched once, then found in the user cache"
    port = free_port()
    workdir = user["base"] / "connect-server"
    workdir.mkdir()
    command = [
        str(next(user["venv"].glob("lib/python*/site-packages/pyspark/bin/spark-submit"))),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[2]",
        *args.stdout.split(),
        "--conf",
        f"spark.tfpredict.repository={MODELS}",
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
    ]
    with serving(command, port, workdir / "server.log", workdir, "SparkConnectServer", 240, env=user["env"]):
        report, run = run_user_script(user, "connect_client.py", f"sc://127.0.0.1:{port}", str(TITANIC_CSV))
    assert report["session"].startswith("pyspark.sql.connect")
    expected = checkout_probabilities(spark)
    assert {int(k): v for k, v in report["by_column"].items()} == expected
    assert {int(k): v for k, v in report["by_transformer"].items()} == expected
    assert {int(k): v for k, v in report["by_pipeline"].items()} == expected
    assert "loaded TFModelTransformer model=titanic" in run.stdout
    check_bfloat16(report["precision"], expected)
    check_errors(report["errors"])
    assert "caught TFSparkConnectError: [MODEL_NOT_FOUND]" in run.stdout
    assert not NOISE.search(console(run.stderr))
    _, hits = maven_mirror
    assert hits.count("/" + NATIVE_PATH) == 1, hits


def check_bfloat16(precision: dict, float32: dict[int, float]) -> None:
    """The Connect client's bfloat16 runs (the session setting, the Transformer's param): every passenger,
    moved from float32 and within the default limit of 0.02 on a CPU with bfloat16; refused by class on
    one without. A misspelt value is refused on either."""
    assert precision["misspelt"] == {"condition": "INVALID_CONFIG"}, precision["misspelt"]
    for how in ("by_column", "by_transformer"):
        if not cpu_has_bfloat16():
            assert precision[how] == {"condition": "BFLOAT16_NOT_SUPPORTED"}, precision[how]
            continue
        low = {int(k): v for k, v in precision[how].items()}
        assert low.keys() == float32.keys(), how
        assert low != float32, f"{how}: bfloat16 changed no probability"
        assert max(abs(low[k] - float32[k]) for k in low) <= 0.02, how


def test_the_wheel_carries_the_jar_and_one_version(wheel):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "tfspark/lib/tfspark-assembly.jar" in names
    assert "tfspark/py.typed" in names and "tfspark/toolkit/export.py" in names
    shipped = {n.split("/")[2] for n in names if n.startswith("tfspark/example_models/")}
    assert shipped == {"imdb", "linear", "titanic"}, shipped
    assert "tfspark/example_models/titanic/1/variables/variables.index" in names
    assert not any(n.endswith(NATIVE) for n in names), "TF's native jar is fetched, not shipped"
    import tfspark

    assert wheel.name == f"tfspark-{tfspark.__version__}-py3-none-any.whl"
    shutil.rmtree(wheel.parent / "staging", ignore_errors=True)
