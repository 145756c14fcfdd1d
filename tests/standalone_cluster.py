"""A Spark standalone cluster on the loopback interface, started from the pip-installed Spark.

pyspark's wheel has ``bin/spark-class`` but no ``sbin/``, so the master and each worker are plain
``spark-class org.apache.spark.deploy.master.Master`` / ``...worker.Worker`` processes. ``spark-class``
``exec``s its JVM, so each ``Popen`` pid is the daemon's JVM, started in a session (and process group)
of its own. A worker starts its executors (``CoarseGrainedExecutorBackend`` JVMs) as its children, in
its process group: killing a worker's group is the loss of a whole node.

Everything the cluster writes (logs, worker and local directories, executors' working folders) is
under one root folder, which is how :meth:`StandaloneCluster.stray_pids` finds any JVM left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from spark_processes import QUICK_JVM as DAEMON_JVM  # master and workers do little: spare the 2 cores
from spark_processes import free_port, kill_group, spark_env, spark_home

EXECUTOR_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend"


def processes() -> dict[int, tuple[int, str]]:
    """``pid -> (parent pid, command line)`` of every process that can be read in /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])  # after "pid (comm) state"
        found[int(entry.name)] = (ppid, cmdline)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


@dataclass(frozen=True)
class Executor:
    pid: int
    worker: str  # the name of the worker that started it
    executor_id: str | None  # Spark's executor id (``--executor-id``)


@dataclass
class StandaloneCluster:
    """One master and its workers; :meth:`start` starts them and waits until they are ALIVE."""

    root: Path
    worker_cores: int = 1
    worker_memory: str = "1280m"
    worker_timeout_s: int = 10
    wait_s: float = 180
    master_port: int = 0
    ui_port: int = 0
    master: subprocess.Popen | None = None
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    worker_ports: dict[str, int] = field(default_factory=dict)
    _started: list[subprocess.Popen] = field(default_factory=list)
    _next_worker: int = 0
    _daemon_opts: str = DAEMON_JVM

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    def _spawn(self, name: str, args: list[str], extra_env: dict[str, str]) -> subprocess.Popen:
        env = {**spark_env(), **extra_env}
        log = self.root / f"{name}.log"
        with open(log, "w") as sink:
            proc = subprocess.Popen(
                [str(spark_home() / "bin" / "spark-class"), *args],
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._started.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, workers: int = 2) -> StandaloneCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        self.master_port, self.ui_port = free_port(), free_port()
        # The master declares a worker lost after spark.worker.timeout without a heartbeat, and a worker
        # sends one every quarter of its own spark.worker.timeout: both daemons get the same value.
        self._daemon_opts = f"{DAEMON_JVM} -Dspark.worker.timeout={self.worker_timeout_s}"
        self.master = self._spawn(
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.master_port),
                "--webui-port",
                str(self.ui_port),
            ],
            {"SPARK_DAEMON_MEMORY": "256m", "SPARK_DAEMON_JAVA_OPTS": self._daemon_opts},
        )
        for _ in range(workers):
            self.start_worker(f"worker-{self._next_worker}")
        self.wait_for_workers(workers)
        return self

    def start_worker(self, name: str) -> subprocess.Popen:
        self._next_worker += 1
        self.worker_ports[name] = free_port()
        home = self.root / name
        (home / "work").mkdir(parents=True, exist_ok=True)
        (home / "local").mkdir(parents=True, exist_ok=True)
        proc = self._spawn(
            name,
            [
                "org.apache.spark.deploy.worker.Worker",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.worker_ports[name]),
                "--webui-port",
                str(free_port()),
                "--cores",
                str(self.worker_cores),
                "--memory",
                self.worker_memory,
                "--work-dir",
                str(home / "work"),
                self.url,
            ],
            {
                "SPARK_DAEMON_MEMORY": "256m",
                "SPARK_DAEMON_JAVA_OPTS": self._daemon_opts,
                "SPARK_LOCAL_DIRS": str(home / "local"),  # the executors' scratch and fetch cache
            },
        )
        self.workers[name] = proc
        return proc

    def state(self) -> dict:
        """The master's JSON (``/json/``): workers with their state, applications."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=10) as answer:
            return json.load(answer)

    def alive_workers(self) -> list[dict]:
        return [w for w in self.state()["workers"] if w["state"] == "ALIVE"]

    def worker_state(self, name: str) -> str | None:
        """The master's word on a worker (ALIVE, DEAD, ...), None when it does not list it."""
        port = self.worker_ports[name]
        states = [w["state"] for w in self.state()["workers"] if w["port"] == port]
        return states[-1] if states else None

    def wait_for_workers(self, count: int) -> None:
        """Waits until the master lists exactly ``count`` ALIVE workers (fails with the daemons' logs)."""
        deadline = time.monotonic() + self.wait_s
        seen = None
        while time.monotonic() < deadline:
            for name, proc in [("master", self.master), *self.workers.items()]:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log(name)[-3000:]}")
            try:
                seen = len(self.alive_workers())
            except OSError:
                seen = None  # the master's UI is not up yet
            if seen == count:
                return
            time.sleep(0.5)
        logs = "\n".join(f"--- {n}\n{self.log(n)[-2000:]}" for n in ["master", *self.workers])
        raise RuntimeError(f"the master listed {seen} ALIVE workers, not {count}, within {self.wait_s} s\n{logs}")

    def ensure_workers(self, count: int) -> None:
        """Replaces workers that died (a test killed them) so that ``count`` are ALIVE again."""
        for name, proc in list(self.workers.items()):
            if proc.poll() is not None:
                kill_group(proc)  # its executors, if any survived it
                del self.workers[name]
        while len(self.workers) < count:
            self.start_worker(f"worker-{self._next_worker}")
        self.wait_for_workers(count)

    def executors(self, worker: str | None = None) -> list[Executor]:
        """The executor JVMs (children of the workers) running now, on ``worker`` or on any."""
        parents = {p.pid: n for n, p in self.workers.items() if worker in (None, n) and p.poll() is None}
        found = []
        for pid, (ppid, cmdline) in processes().items():
            if ppid in parents and EXECUTOR_CLASS in cmdline and alive(pid):
                args = cmdline.split()
                executor_id = args[args.index("--executor-id") + 1] if "--executor-id" in args else None
                found.append(Executor(pid, parents[ppid], executor_id))
        return found

    def kill_worker(self, name: str) -> list[int]:
        """SIGKILLs a worker and its executors (its whole process group, at once); returns their pids."""
        proc = self.workers[name]
        assert proc.poll() is None, f"{name} is not running"
        pids = [proc.pid, *(e.pid for e in self.executors(name))]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return pids

    def stray_pids(self) -> list[int]:
        """Live processes that belong to this cluster: started by it, or working under its root."""
        root = str(self.root.resolve())
        # Only processes not yet reaped: the pid of a reaped one may already be another's (pid_max is small).
        mine = {p.pid for p in self._started if p.poll() is None}
        found = []
        for pid, (ppid, cmdline) in processes().items():
            if not alive(pid) or pid == os.getpid():
                continue
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                cwd = ""
            if pid in mine or ppid in mine or cwd.startswith(root) or root in cmdline:
                found.append(pid)
        return found

    def stop(self) -> list[int]:
        """Stops every daemon (workers first, then the master) and SIGKILLs anything of the cluster
        still alive after that; returns the pids that were still alive at the end (none, normally)."""
        for proc in [*self.workers.values(), *([self.master] if self.master else [])]:
            kill_group(proc)
        for proc in self._started:
            kill_group(proc, grace_s=5)
        for pid in self.stray_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        while (left := self.stray_pids()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left
