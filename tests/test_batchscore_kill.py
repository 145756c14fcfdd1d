"""``kill -9`` of a real ``spark-submit`` BatchScore at each step of its output's commit (issue 16).

BatchScore replaces ``--output`` in steps (``tfspark.jobs.OutputCommit``): write a staging folder
beside it, rename the old output aside (``<out>.tfspark-old-<id>``), rename the staging folder into
place, rename the old one to ``<out>.tfspark-trash-<id>``, delete that. Each test starts BatchScore
over an old output of ``OLD_FILES`` tiny part files and kills the driver JVM at one step, then checks
that ``--output`` is the old output whole or the new one whole (never a mix, never missing except
with the old one whole aside), and that a rerun recovers, says so on stderr, and leaves nothing beside
``--output``.

The kills are driven by events, never by elapsed time:

- *while scoring*: the test polls the staging folder and SIGKILLs the driver's process group once a
  task has committed (``_temporary/0/task_*``), before the job commit (``_SUCCESS``);
- the other steps: once the staging folder appears, its random id names every folder of the run, and
  the test attaches ``strace`` to the driver with a fault injection (``-e inject=...:signal=KILL``)
  on the one system call of that step: the rename of ``<out>`` (before the move aside), of the
  staging folder (between the two renames), of the old folder (after the swap, before the trash),
  and the unlink of one part file of the trash (during the delete). The kernel kills the JVM on
  entry to that call, so the state is exactly the one a ``kill -9`` at that moment leaves.

``strace -P`` matches a rename by its first path only, hence one injection per folder name. The kill
table goes to ``target/batchscore-kill/table-cluster.md``. Runs use the cluster tier's standalone
cluster of one worker (:mod:`standalone_cluster`; about 3-4 minutes for the module on 2 cores), or
with ``TFSPARK_KILL_LOCAL=1`` ``local[1]`` (the table then goes to ``table.md``), and the jars of
this checkout's ``spark-scala/target/dist`` (``./sbt sparkScala/dist``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
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
OLD_FILES = 3000
INPUT_FILES = 4
ROWS_PER_FILE = 500
ROWS = INPUT_FILES * ROWS_PER_FILE
RUN_TIMEOUT_S = 180
ON_CLUSTER = os.environ.get("TFSPARK_KILL_LOCAL") != "1"
TABLE = REPO_ROOT / "target" / "batchscore-kill" / ("table-cluster.json" if ON_CLUSTER else "table.json")
ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def dist_jars() -> tuple[Path, Path]:
    assembly = DIST / "tfspark-assembly.jar"
    natives = sorted(DIST.glob("tensorflow-core-native-*.jar"))
    if not assembly.is_file() or not natives:
        if os.environ.get("TFSPARK_SKIP_JVM") == "1":
            pytest.skip("TFSPARK_SKIP_JVM=1 and spark-scala/target/dist is not built")
        pytest.fail(f"no tfspark jars in {DIST}: run ./sbt sparkScala/dist")
    return assembly, natives[0]


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    """The URL of a standalone cluster of one worker, or ``local[1]`` with TFSPARK_KILL_LOCAL=1."""
    if not ON_CLUSTER:
        yield "local[1]"
        return
    cluster = StandaloneCluster(tmp_path_factory.mktemp("kill-cluster"))
    try:
        cluster.start(workers=1)
        yield cluster.url
    finally:
        left = cluster.stop()
    assert left == [], f"processes of the cluster still alive after stop: {left}"


def batch_score(master: str, input_dir: Path, output: Path, *extra: str) -> list[str]:
    assembly, native = dist_jars()
    java_options = f"{QUICK_JVM} -Dorg.bytedeco.javacpp.cachedir={NATIVE_CACHE}"
    return [
        spark_script("spark-submit"),
        "--master",
        master,
        "--driver-java-options",
        java_options,
        "--conf",
        f"spark.executor.extraJavaOptions=-Dorg.bytedeco.javacpp.cachedir={NATIVE_CACHE}",
        "--conf",
        "spark.executor.memory=1g",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.ui.showConsoleProgress=false",
        "--conf",
        f"spark.sql.files.openCostInBytes={128 << 20}",  # one task per input file
        "--jars",
        str(native),
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
        str(output),
        "--output-format",
        "csv",
        *extra,
    ]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=cwd, env=spark_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )


@pytest.fixture
def workdir(tmp_path) -> Path:
    """``in/`` (ROWS rows of x1,x2 in INPUT_FILES files) and ``out/``, an old output of OLD_FILES parts."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for f in range(INPUT_FILES):
        rows = (f"{i * 0.5},{-i * 0.25}" for i in range(f * ROWS_PER_FILE, (f + 1) * ROWS_PER_FILE))
        (inputs / f"features-{f}.csv").write_text("x1,x2\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    for i in range(OLD_FILES):
        (out / f"part-{i:05d}.csv").write_text(f"x1,x2,prediction\n{i},{i},-1.0\n")
    (out / "_SUCCESS").write_text("")
    return tmp_path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} if folder.is_dir() else {}


def old_snapshot() -> dict[str, bytes]:
    parts = {f"part-{i:05d}.csv": f"x1,x2,prediction\n{i},{i},-1.0\n".encode() for i in range(OLD_FILES)}
    return {**parts, "_SUCCESS": b""}


def describe(folder: Path) -> str:
    """``old`` (the old output, whole), ``new`` (a whole new output: _SUCCESS, every row, no old part),
    ``missing``, or ``MIXED: ...``."""
    if not folder.exists():
        return "missing"
    files = snapshot(folder)
    if files == old_snapshot():
        return "old"
    parts = {n: b for n, b in files.items() if n.startswith("part-") and n.endswith(".csv")}
    rows = sum(max(0, len(b.decode().splitlines()) - 1) for b in parts.values())
    old_parts = [n for n in parts if re.fullmatch(r"part-\d{5}\.csv", n)]
    if "_SUCCESS" in files and rows == ROWS and not old_parts:
        return "new"
    return f"MIXED: {len(files)} files, _SUCCESS {'_SUCCESS' in files}, {rows} rows, {len(old_parts)} old parts"


def leftovers(workdir: Path) -> list[str]:
    return sorted(p.name for p in workdir.iterdir() if p.name.startswith("out.tfspark-"))


def kinds(names: list[str]) -> list[str]:
    return [re.sub(rf"^out\.tfspark-(\w+)-{ID}$", r"\1", n) for n in names]


def staging_id(workdir: Path) -> str | None:
    for name in leftovers(workdir):
        if m := re.fullmatch(rf"out\.tfspark-staging-({ID})", name):
            return m.group(1)
    return None


# The step, and for the strace points: the syscalls and the path (from the run's id) to kill on.
POINTS = {
    "while scoring": None,
    "after writing, before the move aside": ("rename", lambda w, i: w / "out"),
    "between the two renames": ("rename", lambda w, i: w / f"out.tfspark-staging-{i}"),
    "after the swap, before the trash": ("rename", lambda w, i: w / f"out.tfspark-old-{i}"),
    "during the delete of the old output": (
        "unlink,unlinkat",
        lambda w, i: w / f"out.tfspark-trash-{i}" / "part-01500.csv",
    ),
}
EXPECTED_AT_KILL = {  # --output, the kinds of folders beside it
    "while scoring": ("old", ["staging"]),
    "after writing, before the move aside": ("old", ["staging"]),
    "between the two renames": ("missing", ["old", "staging"]),
    "after the swap, before the trash": ("new", ["old"]),
    "during the delete of the old output": ("new", ["trash"]),
}


def record(point: str, row: dict) -> None:
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    table = json.loads(TABLE.read_text()) if TABLE.is_file() else {}
    table[point] = row
    TABLE.write_text(json.dumps(table, indent=2) + "\n")
    lines = [
        "| kill point | killed on | --output at kill | beside it | old output intact | rerun | --output after | left |"
    ]
    lines.append("|---|---|---|---|---|---|---|---|")
    for p in POINTS:
        if r := table.get(p):
            refused = f"without --overwrite {r['without --overwrite']}; then " if "without --overwrite" in r else ""
            lines.append(
                f"| {p} | {r['killed_on']} | {r['output_at_kill']} | {', '.join(r['beside_at_kill']) or '-'} "
                f"| {r['old_intact']} | {refused}exit {r['rerun_exit']}: {'; '.join(r['recovery'])} "
                f"| {r['output_after']} | {', '.join(r['left_after']) or 'none'} |"
            )
    TABLE.with_suffix(".md").write_text("\n".join(lines) + "\n")


def recovered(stderr: str) -> list[str]:
    """What a run said it recovered: its action and the kind of folder (``deleted staging``)."""
    said = (re.match(rf"BatchScore: (\w+) .*?out\.tfspark-(\w+)-{ID}", line) for line in stderr.splitlines())
    return [f"{m.group(1)} {m.group(2)}" for m in said if m and "interrupted run" in m.string]


def strace_available() -> bool:
    return shutil.which("strace") is not None


@pytest.mark.parametrize("point", list(POINTS))
def test_kill_at_each_step_leaves_old_or_new_output_and_the_rerun_recovers(point, workdir, master):
    spec = POINTS[point]
    if spec is not None and not strace_available():
        pytest.skip("strace is needed to kill at a system call")
    log_out, log_err = workdir / "killed.stdout", workdir / "killed.stderr"
    killed_on = None
    tracer = None
    with open(log_out, "w") as out, open(log_err, "w") as err:
        driver = subprocess.Popen(
            batch_score(master, workdir / "in", workdir / "out", "--overwrite"),
            cwd=workdir,
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
            run_id = staging_id(workdir)
            if run_id and spec is None:
                temporary = workdir / f"out.tfspark-staging-{run_id}" / "_temporary" / "0"
                if any(temporary.glob("task_*")):
                    os.killpg(driver.pid, signal.SIGKILL)
                    killed_on = "SIGKILL once a task had committed"
            elif run_id and tracer is None:
                syscalls, path = spec
                target = path(workdir, run_id)
                tracer = subprocess.Popen(
                    [
                        "strace",
                        "-f",
                        "-qq",
                        "-p",
                        str(driver.pid),
                        "-e",
                        "signal=none",
                        "-o",
                        str(workdir / "strace.log"),
                    ]
                    + ["-P", str(target), "-e", f"trace={syscalls}", "-e", f"inject={syscalls}:signal=KILL:when=1"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                killed_on = f"{syscalls.split(',')[0]}({target.name}) entered, strace-injected SIGKILL"
            time.sleep(0.005)
        driver.wait(timeout=RUN_TIMEOUT_S)
    finally:
        kill_group(driver)
        if tracer is not None:
            tracer.wait(timeout=60)
    stderr = log_err.read_text(errors="replace")
    assert driver.returncode == -signal.SIGKILL, (
        f"{point}: the driver was not killed ({driver.returncode}):\n{stderr[-3000:]}"
    )
    if tracer is not None:
        traced = (workdir / "strace.log").read_text()
        assert re.search(r"(rename|unlink).*= \?$", traced, re.M), f"{point}: no injection:\n{traced[-2000:]}"

    at_kill, beside = describe(workdir / "out"), leftovers(workdir)
    aside = [workdir / n for n in beside if kinds([n]) == ["old"]]
    old_intact = at_kill == "old" or (at_kill == "missing" and len(aside) == 1 and describe(aside[0]) == "old")
    assert (at_kill, kinds(beside)) == EXPECTED_AT_KILL[point], f"{point}: {at_kill}, {beside}"
    assert not at_kill.startswith("MIXED")

    row = {
        "killed_on": killed_on,
        "output_at_kill": at_kill,
        "beside_at_kill": kinds(beside),
        "old_intact": "yes" if old_intact else "no (replaced by the new output)" if at_kill == "new" else "NO",
    }
    if at_kill == "missing":
        # Without --overwrite the rerun puts the old output back, then refuses to replace it.
        refused = run(batch_score(master, workdir / "in", workdir / "out"), workdir)
        assert refused.returncode == 2, refused.stderr[-3000:]
        assert "restored" in refused.stderr and "(it exists)" in refused.stderr, refused.stderr[-3000:]
        assert describe(workdir / "out") == "old" and leftovers(workdir) == []
        row["without --overwrite"] = f"exit 2: {'; '.join(recovered(refused.stderr))}; --output old"

    rerun = run(batch_score(master, workdir / "in", workdir / "out", "--overwrite"), workdir)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    recovery = recovered(rerun.stderr)
    assert f"BatchScore: scored {ROWS} rows" in rerun.stdout
    assert describe(workdir / "out") == "new"
    assert leftovers(workdir) == []
    if at_kill != "missing":  # else the refused run recovered already
        assert recovery, f"{point}: the rerun said nothing about what it recovered:\n{rerun.stderr[-3000:]}"
    row.update(rerun_exit=rerun.returncode, recovery=recovery or ["nothing left to recover"])
    row.update(output_after=describe(workdir / "out"), left_after=leftovers(workdir))
    record(point, row)


def test_an_output_that_contains_the_input_is_refused_and_nothing_is_touched(tmp_path, master):
    """The issue's example: ``--input /tmp/p/good.csv --output /tmp/p --overwrite`` deleted good.csv."""
    folder = tmp_path / "p"
    folder.mkdir()
    good = folder / "good.csv"
    good.write_text("x1,x2\n" + "\n".join(f"{i},{i}" for i in range(1000)) + "\n")
    before = snapshot(folder)
    command = batch_score(master, good, folder, "--overwrite")
    result = run(command, tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "[INVALID_ARGUMENT] --output" in result.stderr and "contains the input" in result.stderr
    assert "scored" not in result.stdout
    assert snapshot(folder) == before and sorted(p.name for p in tmp_path.iterdir()) == ["p"]
