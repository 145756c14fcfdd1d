"""A pip user's path without a clone, checked from this checkout (no jar, no JVM).

- ``python -m tfspark examples --out DIR`` writes the README's example models as a repository;
- ``python -m python_trainer`` commands that need TensorFlow, run where it cannot be imported (a
  meta-path blocker in a ``sitecustomize`` on PYTHONPATH), say ``pip install 'tfspark[train]'`` in
  one line and exit 2;
- the trainer installed outside a clone (a copy of ``python_trainer`` in a site-packages-like
  folder) writes ``./models`` in the current directory and asks for ``--data-dir`` or
  ``$TFSPARK_DATA_DIR``; the same look-up in the clone keeps its folders.

tests/test_pip_wheel.py repeats the first two from the wheel in a clean virtualenv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MODELS, REPO_ROOT

from python_trainer import data_dir
from python_trainer.errors import DataNotFoundError

BLOCKER = """
import sys
class _NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NoTensorFlow())
"""


def run(args: list[str], *, pythonpath: list[Path], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "TFSPARK_DATA_DIR"}
    environ.update(env or {})
    environ["PYTHONPATH"] = os.pathsep.join(map(str, pythonpath))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=300)


def test_examples_write_a_repository_of_the_committed_models(tmp_path):
    done = run(["-m", "tfspark", "examples", "--out", "repo"], pythonpath=[REPO_ROOT], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    repo = tmp_path / "repo"
    assert sorted(p.name for p in repo.iterdir()) == ["imdb", "linear", "titanic"]
    saved = repo / "titanic" / "1" / "saved_model.pb"
    assert not saved.is_symlink() and saved.read_bytes() == (MODELS / "titanic" / "1" / "saved_model.pb").read_bytes()

    again = run(["-m", "tfspark", "examples", "--out", "repo"], pythonpath=[REPO_ROOT], cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.startswith("[INVALID_ARGUMENT]") and "pass --force" in again.stderr, again.stderr
    (repo / "linear" / "1" / "saved_model.pb").write_bytes(b"changed")
    forced = run(["-m", "tfspark", "examples", "--out", "repo", "--force"], pythonpath=[REPO_ROOT], cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (repo / "linear" / "1" / "saved_model.pb").read_bytes() == (
        MODELS / "linear" / "1" / "saved_model.pb"
    ).read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ["check", "models/linear/1"],
        ["verify", "models/linear/1"],
        ["signatures", "models/linear/1"],
        ["train", "linear", "--smoke", "--out", "{tmp}"],
        ["export", "--keras", "m.keras", "--sample", "rows.csv", "--out", "{tmp}/m/1"],
    ],
)
def test_commands_that_need_tensorflow_say_how_to_install_it(tmp_path, args):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = run(["-m", "python_trainer", *args], pythonpath=[blocker, REPO_ROOT], cwd=REPO_ROOT)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        f"error: [TRAINER_ERROR] '{args[0]}' needs the train extra (tensorflow is not installed): "
        "pip install 'tfspark[train]'"
    ]


@pytest.fixture
def installed(tmp_path) -> Path:
    """``python_trainer`` and ``tfspark`` as pip installs them: in a site-packages folder with no build.sbt above."""
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    for package in ("python_trainer", "tfspark"):  # the trainer imports the toolkit (tfspark.toolkit)
        skip = shutil.ignore_patterns("__pycache__", "example_models", "lib")
        shutil.copytree(REPO_ROOT / package, site / package, ignore=skip)
    return site


def test_installed_trainer_writes_and_reads_where_the_user_runs_it(tmp_path, installed):
    work = tmp_path / "work"
    work.mkdir()
    probe = (
        "from python_trainer import data_dir; "
        "print(data_dir.checkout_root(), data_dir.default_repository(), data_dir.candidate_dirs())"
    )
    done = run(["-c", probe], pythonpath=[installed], cwd=work)
    assert done.stdout.split(" ", 2) == ["None", str(work / "models"), "[]\n"], done.stdout + done.stderr
    with_env = run(["-c", probe], pythonpath=[installed], cwd=work, env={"TFSPARK_DATA_DIR": "/data"})
    assert with_env.stdout.strip().endswith("[PosixPath('/data')]"), with_env.stdout

    sample = run(["-m", "python_trainer", "sample", "titanic", "--out", "p.csv"], pythonpath=[installed], cwd=work)
    assert sample.returncode == 2
    assert sample.stderr.splitlines() == [
        "error: [DATA_NOT_FOUND] data file 'titanic/test.csv' needs a data directory: outside a clone of tfspark "
        "none is assumed. Pass --data-dir DIR or set $TFSPARK_DATA_DIR=DIR, DIR being the folder that holds "
        "the book's data sets."
    ]
    shared = REPO_ROOT.parent / "shared" / "data"
    given = run(
        ["-m", "python_trainer", "sample", "titanic", "--out", "p.csv", "--rows", "5"],
        pythonpath=[installed],
        cwd=work,
        env={"TFSPARK_DATA_DIR": str(shared)},
    )
    assert given.returncode == 0, given.stderr
    assert len((work / "p.csv").read_text().splitlines()) == 6  # header and five passengers, in the cwd

    trained = run(["-m", "python_trainer", "train", "linear", "--smoke"], pythonpath=[installed], cwd=work)
    assert trained.returncode == 0, trained.stderr
    assert (work / "models" / "linear" / "1" / "saved_model.pb").is_file()
    assert not (installed / "models").exists(), "nothing is written inside site-packages"


def test_the_clone_keeps_its_folders(monkeypatch):
    monkeypatch.delenv("TFSPARK_DATA_DIR", raising=False)
    assert data_dir.checkout_root() == REPO_ROOT
    assert data_dir.default_repository() == REPO_ROOT / "models"
    assert data_dir.candidate_dirs() == [REPO_ROOT / "data", REPO_ROOT.parent / "shared" / "data"]
    with pytest.raises(DataNotFoundError, match="looked at: .*no/such.csv") as caught:
        data_dir.resolve_data_file("no/such.csv")
    assert caught.value.params["looked_at"] == [str(d) for d in data_dir.candidate_dirs()]
