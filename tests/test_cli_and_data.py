"""The CLI's contract and the data-directory resolution."""

from __future__ import annotations

import subprocess
import sys

import pytest

from python_trainer import data_dir
from python_trainer.errors import DataNotFoundError, UnknownWorkflowError
from python_trainer.workflows import get_workflow


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "python_trainer", *args], capture_output=True, text=True, check=False)


def test_unknown_workflow_is_a_usage_error():
    result = run_cli("train", "no_such_model")
    assert result.returncode == 2
    assert "invalid choice: 'no_such_model'" in result.stderr


def test_get_workflow_names_the_known_ones():
    with pytest.raises(UnknownWorkflowError) as info:
        get_workflow("nope")
    assert info.value.params == {"expected": ["cifar2", "covid", "imdb", "linear", "titanic"], "got": "nope"}


def test_missing_data_file_lists_every_place_looked_at(tmp_path, monkeypatch):
    monkeypatch.setenv(data_dir.ENV_VAR, str(tmp_path / "env"))
    with pytest.raises(DataNotFoundError) as info:
        data_dir.resolve_data_file("titanic/nothing.csv")
    assert str(tmp_path / "env" / "titanic" / "nothing.csv") in str(info.value)
    assert info.value.params["looked_at"][0] == str(tmp_path / "env")


def test_data_dir_finds_the_shared_data_sets():
    path = data_dir.resolve_data_file("titanic/train.csv")
    assert path.is_file()


def test_explicit_data_dir_wins(tmp_path):
    (tmp_path / "covid-19.csv").write_text("date\n")
    assert data_dir.resolve_data_file("covid-19.csv", data_dir=tmp_path) == tmp_path / "covid-19.csv"


def test_verify_and_signatures_commands(models_dir):
    ok = run_cli("verify", str(models_dir / "linear" / "1"))
    assert ok.returncode == 0 and "reproduce" in ok.stdout
    sigs = run_cli("signatures", str(models_dir / "linear" / "1"))
    assert sigs.returncode == 0
    assert '"key": "features"' in sigs.stdout


def test_sample_writes_feature_rows(tmp_path):
    out = tmp_path / "f.csv"
    result = run_cli("sample", "linear", "--rows", "5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "x1,x2" and len(lines) == 6
