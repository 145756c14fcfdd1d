"""The benchmark harness works end to end on tiny sizes (the real figures come from bench/run)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO_ROOT

pytestmark = [pytest.mark.jvm, pytest.mark.bench]


def test_bench_harness_smoke_run_writes_a_report(tmp_path):
    out = tmp_path / "RESULTS.md"
    harness = str(REPO_ROOT / "bench" / "harness.py")
    result = subprocess.run(
        [sys.executable, harness, "--smoke", "--models", "linear,mlp", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = out.read_text()
    for path in ("(a) raw TF Java", "(b) RDD batched", "(c) Transformer", "(d) SQL with the extension",
                 "(e) SQL without the extension", "(f) book chapter 6-7", "(g) PySpark predict_batch_udf",
                 "(h) PySpark iterator pandas_udf"):  # fmt: skip
        assert f"| mlp | {path}" in report, path
    assert "## Soak" in report and "## Ratios" in report
    assert "- commit: `" in report and "- command: `" in report
