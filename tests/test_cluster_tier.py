"""The cluster tier: ``BatchScore`` on a real Spark standalone cluster, with faults.

A master and two workers (1 core, 1280 MB each) start from the pip-installed Spark (see
:mod:`standalone_cluster`), and ``spark-submit --master spark://...`` runs ``tfspark.jobs.BatchScore``
on the committed ``titanic`` model over a Parquet table of the Titanic rows repeated ``ROWS`` times,
with a unique ``row_id``, in ``FILES`` files (one task each). Three runs:

- clean;
- one executor JVM (``CoarseGrainedExecutorBackend``) SIGKILLed while it runs a task, once a quarter of
  the tasks have committed (counted by their part files, not by elapsed time; the executors are frozen
  while the target is chosen and killed, see :func:`inject_fault`): its worker starts a new executor and
  the lost tasks run again;
- one whole worker SIGKILLed with its executor (a lost node), at the same point: the job finishes on the
  surviving worker.

Each faulted run must exit 0, write every input row once (``FILES`` part files) and give predictions
bit-identical to the clean run's, joined on ``row_id``. Timings go to ``target/cluster-tier/timings.json``.

``ROWS`` was sized by measurement on the 2-core development machine: with the machine otherwise
quiet a clean run takes about 30 s inside BatchScore (45 s from ``spark-submit`` to exit, most of the
difference being JVM start and TF's load); with other builds and tests running beside it (load average
10-15), 50-75 s inside BatchScore, and the module 5-6 minutes. ``TFSPARK_CLUSTER_ROWS`` overrides it.

The driver runs with ``-Dtfspark.logLevel=INFO`` (BatchScore's log level, WARN by default) so that its
log names the executor of every task attempt: that is how the fault is aimed at an executor that is
running a task, and how the test checks that the interrupted task ran again elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT
from spark_processes import kill_group, spark_env, spark_home, tfspark_conf
from standalone_cluster import StandaloneCluster

from python_trainer.data_dir import resolve_data_file
from tfspark import jars

pytestmark = [pytest.mark.jvm, pytest.mark.cluster]

ROWS = int(os.environ.get("TFSPARK_CLUSTER_ROWS", 2_000_000))
FILES = 24
KILL_AFTER_COMMITTED = FILES // 4  # the fault comes once this many tasks have committed their output
JOB_TIMEOUT_S = 600
TIMINGS = REPO_ROOT / "target" / "cluster-tier" / "timings.json"
RAW_COLUMNS = ["Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Fare", "Cabin", "Embarked"]  # as in the CSV
SUMMARY = re.compile(r"BatchScore: scored (\d+) rows in ([\d.]+) s")


# ---------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def timings():
    """The figures of this module's runs, rewritten to TIMINGS after each run."""
    record = {
        "rows": ROWS,
        "files": FILES,
        "workers": 2,
        "worker_cores": 1,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": {},
    }
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS.write_text(json.dumps(record, indent=2) + "\n")
    return record


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("standalone-cluster")
    cluster = StandaloneCluster(root)
    try:
        cluster.start(workers=2)
        yield cluster
    finally:
        left = cluster.stop()
        # Each executor fetched TF's 160 MB native jar into its folder and its worker's fetch cache; the logs stay.
        for jar in root.glob("worker-*/work/*/*/*.jar"):
            jar.unlink()
        for local in root.glob("worker-*/local"):
            shutil.rmtree(local, ignore_errors=True)
    assert left == [], f"processes of the cluster still alive after stop: {left}"


@pytest.fixture(scope="module")
def submit_conf() -> dict[str, str]:
    """tfspark's configuration for the job (tfspark.session.spark_conf: repository, extension, and the JavaCPP
    cache option for the driver and the executors), without ``spark.jars``: the assembly is the
    application jar and TF's native jar goes through ``--jars``."""
    conf = tfspark_conf()
    del conf["spark.jars"]
    return conf


@pytest.fixture(scope="module")
def titanic_table(tmp_path_factory) -> Path:
    """Parquet: the raw Titanic rows (train then test) repeated to ROWS rows, ``row_id`` 0..ROWS-1, in FILES files."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    frames = [pd.read_csv(resolve_data_file(f"titanic/{split}.csv")) for split in ("train", "test")]
    passengers = pa.Table.from_pandas(pd.concat(frames, ignore_index=True)[RAW_COLUMNS], preserve_index=False)
    assert passengers.num_rows == 891 and passengers.column("Age").null_count > 0  # the book's 891, with gaps
    folder = tmp_path_factory.mktemp("titanic-input") / "passengers"
    folder.mkdir()
    bounds = np.linspace(0, ROWS, FILES + 1, dtype=np.int64)
    for i, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        row_id = np.arange(start, stop, dtype=np.int64)
        part = passengers.take(pa.array(row_id % passengers.num_rows)).append_column("row_id", pa.array(row_id))
        pq.write_table(part, folder / f"part-{i:05d}.parquet")
    return folder


# ---------------------------------------------------------------------------------------------------
# running BatchScore


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    log_path: Path
    batchscore_s: float | None = None
    fault: dict = field(default_factory=dict)

    def explain(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout[-2000:]}\n--- stderr\n{self.stderr[-6000:]}"


def committed_parts(output: Path) -> int:
    """Part files whose task has committed: in the staging folder beside ``output``, under
    ``_temporary/0/task_*`` (FileOutputCommitter v1) or at its top (v2), not in a task attempt's folder."""
    return sum(
        1
        for staging in output.parent.glob(f"{output.name}.tfspark-staging-*")
        for part in staging.rglob("part-*")
        if "/_temporary/0/_temporary/" not in str(part)
    )


class DriverLog:
    """The driver's log as it grows. BatchScore logs at ``-Dtfspark.logLevel`` (INFO here), so its
    TaskSetManager lines say on which executor each task attempt (TID) started, and when it finished."""

    STARTED = re.compile(r"Starting task (\d+)\.(\d+) in stage (\S+) \(TID (\d+)\) \([^,]+, ?executor (\w+),")
    ENDED = re.compile(r"(Finished|Lost) task \S+ in stage \S+ \(TID (\d+)\)")
    # The stage that scores and writes (Dataset.save in BatchScore): when it was submitted, how long it took.
    SAVE_SUBMITTED = re.compile(
        r"^(\d\d/\d\d/\d\d \d\d:\d\d:\d\d) .*Submitting \d+ missing tasks from ResultStage \d+ \(\S+ at save at"
    )
    SAVE_FINISHED = re.compile(r"ResultStage \d+ \(save at \S+\) finished in (\d+) ms")

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.rest = path, 0, ""
        self.attempts: dict[str, tuple[str, str, str]] = {}  # TID -> (task index, stage, executor id)
        self.finished: set[str] = set()
        self.lost: set[str] = set()
        self.save_submitted: float | None = None  # epoch seconds (the log's resolution: 1 s)
        self.save_stage_s: float | None = None

    def update(self) -> DriverLog:
        with open(self.path, errors="replace") as log:
            log.seek(self.offset)
            text = self.rest + log.read()
            self.offset = log.tell()
        *lines, self.rest = text.split("\n")
        for line in lines:
            if started := self.STARTED.search(line):
                index, _, stage, tid, executor = started.groups()
                self.attempts[tid] = (index, stage, executor)
            elif ended := self.ENDED.search(line):
                (self.finished if ended.group(1) == "Finished" else self.lost).add(ended.group(2))
            elif submitted := self.SAVE_SUBMITTED.search(line):
                self.save_submitted = time.mktime(time.strptime(submitted.group(1), "%y/%m/%d %H:%M:%S"))
            elif finished := self.SAVE_FINISHED.search(line):
                self.save_stage_s = int(finished.group(1)) / 1000
        return self

    def busy_executors(self) -> set[str]:
        """Executors with a task attempt that started and has not ended."""
        ended = self.finished | self.lost
        return {executor for tid, (_, _, executor) in self.attempts.items() if tid not in ended}

    def unfinished_on(self, executor: str) -> list[tuple[str, str]]:
        """(task index, stage) of the attempts that started on ``executor`` and never finished."""
        return sorted(
            {(i, st) for tid, (i, st, e) in self.attempts.items() if e == executor and tid not in self.finished}
        )

    def finished_elsewhere(self, index: str, stage: str, executor: str) -> bool:
        """Whether an attempt of that task finished on another executor."""
        return any(
            (i, st) == (index, stage) and e != executor and tid in self.finished
            for tid, (i, st, e) in self.attempts.items()
        )


def inject_fault(cluster: StandaloneCluster, driver_log: DriverLog, output: Path, fault: str, at: float) -> dict:
    """Kills an executor that runs a task (``fault`` "executor"), or its worker with it ("worker"); returns
    what was killed, or ``{}`` when no executor had a task (the caller tries again on its next poll).

    The choice and the kill happen on a job that stands still: every executor JVM is stopped (SIGSTOP)
    first, so no task can finish between reading the driver's log and the kill, and the executors left
    alive are continued (SIGCONT) after it. An attempt the log shows running on the target is then
    either still running there, or finished with its result in flight, and then the driver gives the
    target its next task (most of the 24 are still pending): either way the kill interrupts a task.
    """
    executors = cluster.executors()
    for executor in executors:
        os.kill(executor.pid, signal.SIGSTOP)
    killed: list[int] = []
    try:
        committed = committed_parts(output)
        busy = driver_log.update().busy_executors()
        targets = [e for e in executors if e.executor_id in busy]
        if not targets:
            return {}
        target, epoch = targets[0], time.time()
        if fault == "executor":
            os.kill(target.pid, signal.SIGKILL)
            killed = [target.pid]
        else:
            killed = cluster.kill_worker(target.worker)
        return {
            "killed": fault,
            "kill_at_s": round(at, 2),
            "kill_epoch": epoch,
            "committed_tasks_at_kill": committed,
            "executor_id": target.executor_id,
            "worker": target.worker,
            "pids": killed,
        }
    finally:
        for executor in executors:
            if executor.pid not in killed:
                try:
                    os.kill(executor.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass


def batch_score(cluster: StandaloneCluster, conf: dict, table: Path, output: Path, fault: str | None = None) -> Run:
    """Runs BatchScore on the cluster; ``fault`` ("executor" or "worker") SIGKILLs, once
    KILL_AFTER_COMMITTED tasks have committed their output (an event: their part files in the staging
    folder), an executor that runs a task, or its worker with it (:func:`inject_fault`)."""
    assembly, native = jars.jars()
    settings = {
        **conf,
        "spark.driver.extraJavaOptions": conf["spark.driver.extraJavaOptions"] + " -Dtfspark.logLevel=INFO",
        "spark.executor.memory": "1g",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # One task per input file: without this Spark packs the small files into 2 partitions.
        "spark.sql.files.openCostInBytes": str(128 << 20),
    }
    command = [
        str(spark_home() / "bin" / "spark-submit"),
        "--master",
        cluster.url,
        "--jars",
        str(native),
        *[arg for key, value in settings.items() for arg in ("--conf", f"{key}={value}")],
        "--class",
        "tfspark.jobs.BatchScore",
        str(assembly),
        "--model",
        "titanic",
        "--input",
        str(table),
        "--input-format",
        "parquet",
        "--null-policy",
        "fill",
        "--output",
        str(output),
    ]
    workdir = output.parent / f"{output.name}-driver"
    workdir.mkdir()
    log_out, log_err = workdir / "stdout", workdir / "stderr"
    driver_log = DriverLog(log_err)
    injected: dict = {}
    with open(log_out, "w") as out, open(log_err, "w") as err:
        started = time.monotonic()
        driver = subprocess.Popen(
            command,
            cwd=workdir,
            env=spark_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            while driver.poll() is None:
                if time.monotonic() - started > JOB_TIMEOUT_S:
                    pytest.fail(f"BatchScore ran past {JOB_TIMEOUT_S} s:\n{log_err.read_text()[-6000:]}")
                if fault and not injected and committed_parts(output) >= KILL_AFTER_COMMITTED:
                    injected = inject_fault(cluster, driver_log, output, fault, time.monotonic() - started)
                time.sleep(0.1)
            wall = time.monotonic() - started
        finally:
            kill_group(driver)
    stdout, stderr = log_out.read_text(errors="replace"), log_err.read_text(errors="replace")
    summary = SUMMARY.search(stdout)
    batchscore_s = float(summary.group(2)) if summary else None
    return Run(driver.returncode, stdout, stderr, wall, log_err, batchscore_s, injected)


@dataclass
class Scored:
    row_id: np.ndarray
    probability: np.ndarray
    survived: np.ndarray
    part_files: int


def read_scored(output: Path) -> Scored:
    """row_id and the prediction struct of BatchScore's Parquet output, sorted by row_id."""
    import pyarrow.parquet as pq

    table = pq.read_table(output, columns=["row_id", "prediction"]).sort_by("row_id")
    prediction = table.column("prediction").combine_chunks()
    assert prediction.null_count == 0
    probability, survived = prediction.field("probability"), prediction.field("survived")
    assert probability.null_count == 0 and survived.null_count == 0
    return Scored(
        row_id=table.column("row_id").to_numpy(),
        probability=probability.to_numpy(zero_copy_only=False),
        survived=survived.to_numpy(zero_copy_only=False),
        part_files=len(list(output.glob("part-*.parquet"))),
    )


def app_id(run: Run) -> str:
    found = re.search(r"Connected to Spark cluster with app ID (app-[\w-]+)", run.stderr)
    assert found, run.explain()
    return found.group(1)


def assert_every_row_once(scored: Scored) -> None:
    assert scored.row_id.shape == (ROWS,), f"{scored.row_id.shape[0]} rows written, {ROWS} read"
    assert np.array_equal(scored.row_id, np.arange(ROWS)), "row_ids missing or written twice"
    assert scored.part_files == FILES, f"{scored.part_files} part files for {FILES} tasks"


def assert_bit_identical(faulted: Scored, clean: Scored) -> None:
    """Equal float32 bit patterns (not approximately equal values), row by row on row_id."""
    assert faulted.probability.dtype == clean.probability.dtype == np.float32
    differ = np.flatnonzero(faulted.probability.view(np.uint32) != clean.probability.view(np.uint32))
    assert differ.size == 0, (
        f"{differ.size} probabilities differ from the clean run, e.g. row_id {clean.row_id[differ[:5]].tolist()}: "
        f"{faulted.probability[differ[:5]].tolist()} vs {clean.probability[differ[:5]].tolist()}"
    )
    assert np.array_equal(faulted.survived, clean.survived)


def record(timings: dict, name: str, run: Run, clean: Run | None = None) -> None:
    """Adds the run's figures to TIMINGS: wall time (spark-submit to exit), BatchScore's own time, the
    scoring stage's time, and for a fault, when it came: seconds into the scoring stage (±1 s, the driver
    log's resolution), as a fraction of the clean run's scoring stage, and how many tasks had committed."""
    log = DriverLog(run.log_path).update()
    entry = {
        "wall_s": round(run.wall_s, 2),
        "batchscore_s": run.batchscore_s,
        "scoring_stage_s": log.save_stage_s,
        "load_average_1m_after": round(os.getloadavg()[0], 2),  # the machine is shared: context for the figures
    }
    fault = dict(run.fault)
    if "kill_epoch" in fault and log.save_submitted is not None:
        into = fault.pop("kill_epoch") - log.save_submitted
        fault["kill_into_scoring_stage_s"] = round(into, 1)
        if clean is not None and (clean_stage := DriverLog(clean.log_path).update().save_stage_s):
            fault["kill_at_fraction_of_clean_scoring_stage"] = round(into / clean_stage, 2)
    fault.pop("kill_epoch", None)
    entry.update(fault)
    timings["runs"][name] = entry
    TIMINGS.write_text(json.dumps(timings, indent=2) + "\n")
    print(f"cluster tier, {name}: {json.dumps(entry)}")


# ---------------------------------------------------------------------------------------------------
# the three runs


@pytest.fixture(scope="module")
def clean_run(submit_conf, cluster, titanic_table, tmp_path_factory, timings):
    output = tmp_path_factory.mktemp("clean") / "scored"
    run = batch_score(cluster, submit_conf, titanic_table, output)
    record(timings, "clean", run)
    assert run.returncode == 0, run.explain()
    return run, read_scored(output)


def test_clean_run_scores_every_row(clean_run, cluster):
    run, scored = clean_run
    assert run.batchscore_s is not None, run.explain()
    assert f"BatchScore: scored {ROWS} rows" in run.stdout
    assert "Lost executor" not in run.stderr, run.explain()  # a clean run is clean
    assert_every_row_once(scored)
    assert np.all((scored.probability >= 0) & (scored.probability <= 1))
    assert set(np.unique(scored.survived).tolist()) == {0, 1}
    app = app_id(run)
    assert [a["state"] for a in cluster.state()["completedapps"] if a["id"] == app] == ["FINISHED"]
    # No task attempt failed, and both workers' executors ran tasks: a 2-executor job, not 1-executor.
    log = DriverLog(run.log_path).update()
    assert log.lost == set() and set(log.attempts) == log.finished, run.explain()
    assert len({e for tid, (_, _, e) in log.attempts.items() if tid in log.finished}) == 2, run.explain()


@pytest.mark.parametrize("fault", ["executor", "worker"])
def test_faulted_run_equals_the_clean_run(fault, submit_conf, cluster, titanic_table, clean_run, tmp_path, timings):
    clean, clean_scored = clean_run
    cluster.ensure_workers(2)  # a worker killed by an earlier run is replaced
    output = tmp_path / "scored"
    run = batch_score(cluster, submit_conf, titanic_table, output, fault=fault)
    log = DriverLog(run.log_path).update()
    killed = run.fault.get("executor_id")
    interrupted = log.unfinished_on(killed) if killed else []
    if run.fault:
        run.fault["tasks_interrupted"] = [f"task {i} of stage {st}" for i, st in interrupted]
    record(timings, f"{fault} killed", run, clean)

    assert run.fault, f"the job ended before the {fault} could be killed:\n{run.explain()}"
    assert run.fault["committed_tasks_at_kill"] < FILES
    assert run.returncode == 0, run.explain()
    assert f"BatchScore: scored {ROWS} rows" in run.stdout, run.explain()
    # The kill hit the job: the driver lost the executor with a running task, which ran again elsewhere.
    assert f"Lost executor {killed} on 127.0.0.1" in run.stderr, run.explain()
    assert interrupted, f"no task was running on executor {killed} when it was killed:\n{run.explain()}"
    for index, stage in interrupted:
        assert log.finished_elsewhere(index, stage, killed), f"task {index} of stage {stage} was not run again"

    scored = read_scored(output)
    assert_every_row_once(scored)
    assert_bit_identical(scored, clean_scored)
    if fault == "worker":  # the master noticed the lost node, and the job ran on with one
        assert cluster.worker_state(run.fault["worker"]) == "DEAD", cluster.state()["workers"]
        assert len(cluster.alive_workers()) == 1, cluster.state()["workers"]
