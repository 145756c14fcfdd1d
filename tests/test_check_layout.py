"""``python -m python_trainer check`` diagnoses repository layout mistakes as the JVM does.

The same three mistakes as spark-scala's RepositoryLayoutSuite (ModelRepository.resolve), with the same
words and the error class MODEL_LOAD_FAILED (exit 1): a SavedModel directly in ``<repo>/<name>/``, a
version folder without ``saved_model.pb``, a model folder whose sub-folders are not versions; in plain
folders and through symbolic links.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from python_trainer import cli
from tfspark.toolkit.layout import layout_problem


def _check(path: Path, capsys, *extra: str) -> tuple[int, str]:
    code = cli.main(["check", *extra, str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _mistakes(root: Path, models_dir: Path) -> Path:
    repo = root / "repo"
    shutil.copytree(models_dir / "linear" / "1", repo / "flat")
    (repo / "half" / "1" / "variables").mkdir(parents=True)
    shutil.copytree(models_dir / "linear" / "1", repo / "named" / "latest")
    (repo / "named" / "v2").mkdir()
    return repo


def _linked(real: Path, root: Path) -> Path:
    repo = root / "linked-store"
    (repo / "half").mkdir(parents=True)
    (repo / "named").mkdir()
    os.symlink(real / "flat", repo / "flat")
    os.symlink(real / "half" / "1", repo / "half" / "1")
    for name in ("latest", "v2"):
        os.symlink(real / "named" / name, repo / "named" / name)
    link = root / "linked-repo"
    os.symlink(repo, link)
    return link


@pytest.fixture(params=["plain", "linked"])
def repo(request, tmp_path, models_dir) -> Path:
    real = _mistakes(tmp_path, models_dir)
    return real if request.param == "plain" else _linked(real, tmp_path)


def test_a_savedmodel_without_a_version_folder_is_told_to_move(repo, capsys):
    code, out = _check(repo / "flat", capsys)
    assert code == 1, out
    assert f"move it into {repo / 'flat' / '1'}/" in out and "without a version folder" in out
    assert "verdict: FAILED [MODEL_LOAD_FAILED]: the folder is not laid out as" in out
    assert "serving_default: ok" in out, "the model itself still loads and runs"


def test_a_version_folder_without_saved_model_pb_names_the_missing_file(repo, capsys):
    missing = f"{repo / 'half' / '1' / 'saved_model.pb'} is missing"
    for path in (repo / "half" / "1", repo / "half"):
        code, out = _check(path, capsys)
        assert code == 1 and missing in out and "MODEL_LOAD_FAILED" in out, out


def test_non_numeric_folders_are_named(repo, capsys):
    code, out = _check(repo / "named", capsys, "--json")
    assert code == 1, out
    report = json.loads(out)
    assert report["error_class"] == "MODEL_LOAD_FAILED" and not report["ok"]
    assert "none of its sub-folders is a version: latest, v2" in report["layout_error"]


def test_the_layout_words_match_the_jvm():
    """The JVM's words (ModelRepository.scala) for the same mistakes, kept in step with layout.py."""
    source = (
        Path(__file__).resolve().parents[1] / "spark-scala/src/main/scala/tfspark/model/ModelRepository.scala"
    ).read_text()
    for words in (
        "without a version folder: ",
        "move it into ",
        "has no saved_model.pb (",
        " is missing): ",
        "none of its sub-folders is a version: ",
    ):
        assert words in source, words


def test_a_good_layout_has_no_problem(tmp_path, models_dir):
    assert layout_problem(models_dir / "linear" / "1") is None
    assert layout_problem(models_dir / "linear") is None
    good = tmp_path / "good"
    shutil.copytree(models_dir / "linear" / "1", good / "1")
    (good / "2").mkdir()  # being written: version 1 serves, as in the JVM
    assert layout_problem(good) is None


def test_signatures_and_check_read_an_unknown_rank_tf1_export(capsys):
    """A TF1 placeholder without a shape: `signatures` says unknown rank (null) instead of crashing."""
    model = Path(__file__).resolve().parents[1] / "spark-scala/src/test/resources/models/unknown_rank/1"
    assert cli.main(["signatures", str(model)]) == 0
    sigs = json.loads(capsys.readouterr().out)
    assert sigs["serving_default"]["inputs"] == [{"key": "x", "dtype": "float32", "shape": None}]
    assert {o["key"]: o["shape"] for o in sigs["serving_default"]["outputs"]} == {"row_sum": None, "y": None}
