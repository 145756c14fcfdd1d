"""Spark processes that tests start from the pip-installed Spark: their environment, free ports,
tfspark's configuration, a server started and awaited on its port, and the clean-up of its whole
process group. Shared by the trust-boundary, Thrift-server and cluster tiers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import MODELS, REPO_ROOT

from tfspark.errors import TFSparkClientError
from tfspark.session import spark_conf

NATIVE_CACHE = Path(os.environ.get("TFSPARK_NATIVE_CACHE") or REPO_ROOT / ".cache" / "javacpp").resolve()
QUICK_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # halves a short-lived JVM's start-up CPU on 2 cores


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def spark_script(name: str) -> str:
    return str(spark_home() / "bin" / name)


def spark_env() -> dict[str, str]:
    """The environment of bin/env.sh, with Spark bound to the loopback interface."""
    env = dict(os.environ)
    env["SPARK_HOME"] = str(spark_home())
    env["SPARK_SCALA_VERSION"] = "2.13"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["SPARK_LAUNCHER_OPTS"] = QUICK_JVM  # spark-class's first JVM, which only builds the command
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tfspark_conf() -> dict[str, str]:
    """tfspark's conf (``tfspark.session.spark_conf``) over the committed models, with JavaCPP's cache
    folder for every JVM. Missing jars fail the test, as in conftest's ``spark``, unless
    TFSPARK_SKIP_JVM=1 asks to skip it."""
    try:
        conf = spark_conf(repository=MODELS)
    except TFSparkClientError:
        if os.environ.get("TFSPARK_SKIP_JVM") == "1":
            pytest.skip("TFSPARK_SKIP_JVM=1 and the tfspark jars are not built")
        raise
    cache = f"-Dorg.bytedeco.javacpp.cachedir={NATIVE_CACHE}"
    conf["spark.driver.extraJavaOptions"] = cache
    conf["spark.executor.extraJavaOptions"] = cache
    return conf


ASSEMBLY = REPO_ROOT / "spark-scala" / "target" / "dist" / "tfspark-assembly.jar"


def quiet_conf_args(extra: dict[str, str] | None = None) -> list[str]:
    """``--conf`` arguments for a short-lived Spark command (spark-submit, spark-sql): tfspark's conf
    (:func:`tfspark_conf`), no UI nor progress bar, the quick JVM flags; ``extra`` wins."""
    conf = tfspark_conf()
    conf["spark.ui.enabled"] = "false"
    conf["spark.ui.showConsoleProgress"] = "false"
    conf["spark.driver.extraJavaOptions"] += f" {QUICK_JVM}"
    conf.update(extra or {})
    return [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]


def batch_score_command(args: list[str], conf: dict[str, str] | None = None) -> list[str]:
    """``spark-submit --master local[1] ... --class tfspark.jobs.BatchScore`` with BatchScore's ``args``."""
    return [
        spark_script("spark-submit"),
        "--master",
        "local[1]",
        *quiet_conf_args(conf),
        "--class",
        "tfspark.jobs.BatchScore",
        str(ASSEMBLY),
        *args,
    ]


def run_to_end(
    command: list[str], cwd: Path, timeout_s: float, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """Runs ``command`` in its own process group with :func:`spark_env`, its output captured as text;
    the group is ended when it exits or after ``timeout_s`` (then ``subprocess.TimeoutExpired``)."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=spark_env(),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(stdin, timeout=timeout_s)
    finally:
        kill_group(proc)
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def kill_group(proc: subprocess.Popen, grace_s: float = 30) -> None:
    """Ends a process started with start_new_session=True, and every process of its group."""
    if proc.poll() is None:
        for sig, grace in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@contextlib.contextmanager
def serving(
    command: list[str], port: int, log: Path, cwd: Path, what: str, wait_s: float = 120, env: dict | None = None
):
    """Starts ``command`` in its own process group (in ``env``, default :func:`spark_env`), logging to
    ``log``; yields once it listens on ``port``, fails the test if it exits or does not listen within
    ``wait_s``; kills its group after."""
    with open(log, "w") as sink:
        server = subprocess.Popen(
            command,
            cwd=cwd,
            env=spark_env() if env is None else env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + wait_s
        while True:
            if server.poll() is not None:
                pytest.fail(f"{what} exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not listen on {port} within {wait_s} s:\n{log.read_text()[-3000:]}")
            with socket.socket() as probe:
                probe.settimeout(1)
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        yield server
    finally:
        kill_group(server)
