"""The docstrings' examples run: ``>>>`` lines are tests, with no skip markers.

The toolkit's and ``tfspark.examples``' run here; those of the pyspark modules run in a fresh
process with its own session (tests/spark_doctests.py), because their first line starts one.
"""

from __future__ import annotations

import doctest
import importlib
import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT


@pytest.mark.parametrize("name", ["tfspark.examples", "tfspark.toolkit.sample_inputs", "tfspark.toolkit.export"])
def test_doctests_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the export example writes models/churn/1 where it runs
    run = doctest.testmod(importlib.import_module(name), verbose=False, report=True)
    assert run.attempted > 0 and run.failed == 0, run


@pytest.mark.jvm
def test_doctests_of_the_pyspark_modules_run(tmp_path):
    out = tmp_path / "doctests.json"
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tests" / "spark_doctests.py"), str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert all(failed == 0 and attempted > 0 for failed, attempted in results.values()), (results, done.stdout)
