"""A real MLflow tracking server for the registry tests: PyPI's ``mlflow`` from its own virtualenv
(``.cache/mlflow-server``, made by bin/setup: the full package needs protobuf 7, which TensorFlow 2.18
does not allow), with a SQLite backend store and a local artifact root in a temporary folder, on a
loopback port reserved when pytest starts (:data:`PORT`: the shared pyspark session of conftest is
configured with it, since the tracking server is a static setting), stopped by its process group."""

from __future__ import annotations

import contextlib
import os
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from spark_processes import free_port, serving

CACHE = Path(os.environ.get("TFSPARK_CACHE") or REPO_ROOT / ".cache")
MLFLOW = CACHE / "mlflow-server" / "bin" / "mlflow"

# Reserved when pytest imports this module, before any session starts.
PORT = free_port()
URL = f"http://127.0.0.1:{PORT}"


@contextlib.contextmanager
def mlflow_server(folder: Path):
    """Runs ``mlflow server`` on :data:`PORT` with its store and artifacts in ``folder``; yields :data:`URL`
    once it answers its health check."""
    if not MLFLOW.is_file():
        pytest.fail(f"{MLFLOW} is missing: run bin/setup, which installs the MLflow tracking server there")
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        str(MLFLOW),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(PORT),
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--workers",
        "1",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no job workers (GenAI features): four fewer processes
    with serving(command, PORT, folder / "server.log", folder, "mlflow server", wait_s=120, env=env):
        for _ in range(120):
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{URL}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            time.sleep(0.5)
        else:
            log = (folder / "server.log").read_text()[-3000:]
            pytest.fail(f"mlflow server on {URL} did not answer its health check:\n{log}")
        yield URL
