"""``kill -9`` of a real ``spark-submit`` BatchScore appending to a Delta table, then the same run again.

A Delta output is one commit (``_delta_log/<version>.json``), and each run carries Delta's
idempotent-write settings (``txnAppId``/``txnVersion``, docs/batchscore.md "Into a Delta table"). So
whenever the driver is killed, the table holds the rows of the earlier runs and this run's rows
either not at all or once, and the same command run again leaves them there exactly once:

- *while writing*: SIGKILL to the driver's process group once a data file of this run appears in the
  table's folder and before its commit file exists. The table keeps version 0 only (the new files
  belong to no version); the rerun writes version 1 with every row of the day.
- *after the commit*: SIGKILL once this run's commit file exists (the driver is counting the output,
  or has just exited). The rerun finds the run's commit, writes nothing and says so.

The kills are driven by the files that appear, never by elapsed time. The table's rows are counted
from its log (the ``numRecords`` of the files each version adds and does not remove), without Spark.
Runs use the cluster tier's standalone cluster of one worker (:mod:`standalone_cluster`: the data files
are an executor's, which may go on writing for a moment after the driver is killed), or with
``TFSPARK_KILL_LOCAL=1`` ``local[1]``, and the jars of ``spark-scala/target/dist`` (``./sbt
sparkScala/dist``, which stages Delta's jars in ``dist/delta/``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MODELS, REPO_ROOT
from spark_processes import NATIVE_CACHE, QUICK_JVM, kill_group, spark_env, spark_script
from standalone_cluster import StandaloneCluster

pytestmark = [pytest.mark.jvm, pytest.mark.submit]

DIST = REPO_ROOT / "spark-scala" / "target" / "dist"
FILES_PER_DAY = 6
ROWS_PER_FILE = 2000
DAY_ROWS = FILES_PER_DAY * ROWS_PER_FILE
RUN_TIMEOUT_S = 240
ON_CLUSTER = os.environ.get("TFSPARK_KILL_LOCAL") != "1"


def jars() -> tuple[Path, list[Path]]:
    """tfspark's assembly, and for ``--jars`` TF's native jar and Delta's (dist/delta/)."""
    assembly = DIST / "tfspark-assembly.jar"
    natives = sorted(DIST.glob("tensorflow-core-native-*.jar"))
    delta = sorted((DIST / "delta").glob("*.jar"))
    if not assembly.is_file() or not natives or not any(j.name.startswith("delta-spark_") for j in delta):
        if os.environ.get("TFSPARK_SKIP_JVM") == "1":
            pytest.skip("TFSPARK_SKIP_JVM=1 and spark-scala/target/dist is not built")
        pytest.fail(f"no tfspark or Delta jars in {DIST}: run ./sbt sparkScala/dist")
    return assembly, natives[:1] + delta


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    """The URL of a standalone cluster of one worker, or ``local[1]`` with TFSPARK_KILL_LOCAL=1."""
    if not ON_CLUSTER:
        yield "local[1]"
        return
    cluster = StandaloneCluster(tmp_path_factory.mktemp("delta-kill-cluster"))
    try:
        cluster.start(workers=1)
        yield cluster.url
    finally:
        left = cluster.stop()
    assert left == [], f"processes of the cluster still alive after stop: {left}"


def batch_score(master: str, input_dir: Path, table: Path, *extra: str) -> list[str]:
    assembly, others = jars()
    return [
        spark_script("spark-submit"),
        "--master",
        master,
        "--driver-java-options",
        f"{QUICK_JVM} -Dorg.bytedeco.javacpp.cachedir={NATIVE_CACHE}",
        "--conf",
        f"spark.executor.extraJavaOptions=-Dorg.bytedeco.javacpp.cachedir={NATIVE_CACHE}",
        "--conf",
        "spark.executor.memory=1g",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.ui.showConsoleProgress=false",
        "--conf",
        f"spark.sql.files.openCostInBytes={128 << 20}",  # one task per input file: a data file per task
        "--jars",
        ",".join(str(j) for j in others),
        "--class",
        "tfspark.jobs.BatchScore",
        str(assembly),
        "--model",
        "linear",
        "--repository",
        str(MODELS),
        "--input",
        str(input_dir),
        "--input-format",
        "csv",
        "--features",
        "x1,x2",
        "--output",
        str(table),
        "--output-format",
        "delta",
        *extra,
    ]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=cwd, env=spark_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )


def write_day(folder: Path, day: int) -> Path:
    folder.mkdir(parents=True)
    for f in range(FILES_PER_DAY):
        start = (day * FILES_PER_DAY + f) * ROWS_PER_FILE
        rows = (f"{i * 0.5},{-i * 0.25}" for i in range(start, start + ROWS_PER_FILE))
        (folder / f"features-{f}.csv").write_text("x1,x2\n" + "\n".join(rows) + "\n")
    return folder


def commit_file(table: Path, version: int) -> Path:
    return table / "_delta_log" / f"{version:020d}.json"


def commits(table: Path) -> list[int]:
    return sorted(int(p.stem) for p in (table / "_delta_log").glob("*.json"))


def rows(table: Path) -> int:
    """The rows of the table's latest version, from its log: the files added and not removed since."""
    live: dict[str, int] = {}
    for version in commits(table):
        for line in commit_file(table, version).read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                live[action["add"]["path"]] = json.loads(action["add"]["stats"])["numRecords"]
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    return sum(live.values())


@pytest.mark.parametrize("point", ["while writing", "after the commit"])
def test_a_killed_delta_append_run_again_writes_its_rows_exactly_once(point, tmp_path, master):
    day1, day2 = write_day(tmp_path / "day1", 0), write_day(tmp_path / "day2", 1)
    table = tmp_path / "scored"
    first = run(batch_score(master, day1, table), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"scored {DAY_ROWS} rows" in first.stdout and "(delta, version 0)" in first.stdout, first.stdout
    assert commits(table) == [0] and rows(table) == DAY_ROWS
    files_of_version_0 = {p.name for p in table.glob("part-*.parquet")}

    append = batch_score(master, day2, table, "--append")
    killed_on = None
    with open(tmp_path / "killed.stdout", "w") as out, open(tmp_path / "killed.stderr", "w") as err:
        driver = subprocess.Popen(
            append,
            cwd=tmp_path,
            env=spark_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while driver.poll() is None and killed_on is None:
            assert time.monotonic() < deadline, f"BatchScore ran past {RUN_TIMEOUT_S} s"
            committed = commit_file(table, 1).exists()
            if point == "while writing":
                assert not committed, "the run committed before any of its data files was seen"
                new = {p.name for p in table.glob("part-*.parquet")} - files_of_version_0
                if new:
                    os.killpg(driver.pid, signal.SIGKILL)
                    killed_on = f"SIGKILL once {len(new)} data file(s) of the run appeared, before its commit"
            elif committed:
                os.killpg(driver.pid, signal.SIGKILL)
                killed_on = "SIGKILL once the run's commit file appeared"
            time.sleep(0.005)
        driver.wait(timeout=RUN_TIMEOUT_S)
    finally:
        kill_group(driver)
    stderr = (tmp_path / "killed.stderr").read_text(errors="replace")
    if point == "while writing":
        assert driver.returncode == -signal.SIGKILL, f"not killed ({driver.returncode}):\n{stderr[-3000:]}"
        assert commits(table) == [0] and rows(table) == DAY_ROWS, "a killed run added nothing"
        assert {p.name for p in table.glob("part-*.parquet")} - files_of_version_0, "it had written data files"
    else:
        # Killed after its commit, or it had already exited 0: either way version 1 holds the day once.
        assert driver.returncode in (-signal.SIGKILL, 0), f"{driver.returncode}:\n{stderr[-3000:]}"
        assert commits(table) == [0, 1] and rows(table) == 2 * DAY_ROWS

    again = run(append, tmp_path)
    assert again.returncode == 0, f"{killed_on}: {again.stderr[-3000:]}"
    if point == "while writing":
        assert f"scored {DAY_ROWS} rows" in again.stdout and "(delta, version 1)" in again.stdout, again.stdout
    else:
        assert "already holds this run's commit (version 1, txnAppId tfspark-batchscore-" in again.stdout, again.stdout
        assert "nothing written" in again.stdout
    assert commits(table) == [0, 1], f"{killed_on}: one commit per run, none for the rerun of a committed one"
    assert rows(table) == 2 * DAY_ROWS, f"{killed_on}: every row of each day exactly once"
