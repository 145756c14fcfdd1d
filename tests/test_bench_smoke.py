"""The benchmark harness works end to end on tiny sizes (the real figures come from bench/run)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, cpu_has_bfloat16

sys.path.insert(0, str(REPO_ROOT / "bench"))
from harness import TARGETS  # noqa: E402
from jfr_recording import path_label  # noqa: E402
from jfr_top import summarize  # noqa: E402

pytestmark = [pytest.mark.jvm, pytest.mark.bench]

# The paths issue 20 added: (model, label) -> each must report a positive rate.
NEW_PATHS = [
    *((m, p) for m in ("titanic", "imdb") for p in ("a", "a0", "p0", "d", "h", "i", "h-pq")),
    *((m, p) for m in ("linear", "mlp") for p in ("i", "g-pq", "h-pq")),
    *((m, "j") for m in ("linear", "mlp", "titanic")),  # MLflow's spark_udf (issue 21)
]

# The checks of the new paths' predictions and row counts: (model, check) -> each must pass.
NEW_CHECKS = [
    *((m, "(j) MLflow spark_udf = (d) SQL") for m in ("linear", "mlp")),
    ("titanic", "(j) MLflow spark_udf = (a0)"),
    *(
        (m, c)
        for m in ("titanic", "imdb")
        for c in (
            "(a) our feed = (a0) TF Java's tensors",
            "(p0) Python TF = (a0) TF Java",
            "(d) SQL = (a0), row by row",
            "(i) rows written",
            "(h-pq) rows written",
            "(h-pq) predictions = (i)'s, both sorted",
        )
    ),
    *(
        (m, c)
        for m in ("linear", "mlp")
        for c in (
            "(i) rows written",
            "(i2) rows written",
            "(g-pq) rows written",
            "(g-pq) predictions = (i)'s, both sorted",
            "(h-pq) rows written",
            "(h-pq) predictions = (i)'s, both sorted",
        )
    ),
]


def test_bench_harness_smoke_run_writes_a_report(tmp_path):
    out, document, jfr = tmp_path / "RESULTS.md", tmp_path / "results.json", tmp_path / "jfr"
    harness = str(REPO_ROOT / "bench" / "harness.py")
    command = [sys.executable, harness, "--smoke", "--models", "linear,mlp,titanic,imdb", "--out", str(out)]
    command += ["--json", str(document), "--jfr", str(jfr), "--jfr-paths", "d"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = out.read_text()
    for path in ("(a) raw TF Java", "(b) RDD batched", "(c) Transformer", "(d) SQL with the extension",
                 "(e) SQL without the extension", "(f) book chapter 6-7", "(g) PySpark predict_batch_udf",
                 "(h) PySpark iterator pandas_udf", "(g-pq) PySpark predict_batch_udf Parquet to Parquet",
                 "(h-pq) PySpark iterator pandas_udf Parquet to Parquet"):  # fmt: skip
        assert f"| mlp | {path}" in report, path
    assert "| titanic | (a0) TF Java on pre-built tensors" in report
    assert "| imdb | (p0) Python TF on pre-built tensors" in report
    for section in ("## Soak", "## Ratios", "## Targets (issue 20)", "## Checks"):
        assert section in report, section
    assert "- commit: `" in report and "- command: `" in report

    results = json.loads(document.read_text())
    rates = {(r["model"], path_label(r["path"])): r["rows_per_s"] for r in results["rows"]}
    for key in NEW_PATHS:
        assert rates.get(key, 0) > 0, key
    # (d16), bfloat16 (issue 22): timed on a CPU with bfloat16 instructions, refused with its reason elsewhere.
    refused = {r["model"]: r["reason"] for r in results["bf16_refused"]}
    for model in ("linear", "mlp", "titanic", "imdb"):
        if cpu_has_bfloat16():
            assert rates.get((model, "d16"), 0) > 0 and model not in refused, (model, refused)
        else:
            assert "BFLOAT16_NOT_SUPPORTED" in refused.get(model, ""), (model, refused)
    assert "- CPU bfloat16 flags (/proc/cpuinfo): " in report
    checks = {(c["model"], c["check"]): c for c in results["checks"]}
    for key in NEW_CHECKS:
        assert key in checks, key
        assert checks[key]["ok"], checks[key]
    assert all(c["ok"] for c in results["checks"]), [c for c in results["checks"] if not c["ok"]]
    # Every model of the targets ran, so every target has a value (7: its MLP (d)/(g) is retired).
    assert len(TARGETS) == 7 and [t["target"].split(" ")[0] for t in results["targets"]] == [m for m, *_ in TARGETS]
    assert all(t["status"] in ("met", "missed") and t["value"] > 0 for t in results["targets"]), results["targets"]

    # --jfr-paths d: one recording per model's (d), and nothing else; jfr_top reads them.
    assert sorted(p.name for p in jfr.iterdir()) == ["imdb-d.jfr", "linear-d.jfr", "mlp-d.jfr", "titanic-d.jfr"]
    top = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "jfr_top.py"), str(jfr / "titanic-d.jfr"), "--top", "5"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert top.returncode == 0, top.stderr
    assert "Java samples (jdk.ExecutionSample): " in top.stdout


JFR_TEXT = """\
jdk.ExecutionSample {
  startTime = 22:10:01.123 (2026-12-02)
  sampledThread = "Executor task launch worker for task 0.0 in stage 1.0 (TID 1)" (javaThreadId = 77)
  state = "STATE_RUNNABLE"
  stackTrace = [
    tfspark.tensor.InputFeeder.walk(ArrayData, int, Function0) line: 201
    tfspark.tensor.InputFeeder.add(Object, Function0) line: 97
    tfspark.tensor.BatchingIterator.fill() line: 100
    ...
  ]
}

jdk.ExecutionSample {
  startTime = 22:10:01.133 (2026-12-02)
  sampledThread = "Executor task launch worker for task 1.0 in stage 1.0 (TID 2)" (javaThreadId = 78)
  state = "STATE_RUNNABLE"
  stackTrace = [
    tfspark.tensor.BatchingIterator.fill() line: 90
    tfspark.tensor.BatchingIterator.hasNext() line: 57
  ]
}

jdk.ExecutionSample {
  startTime = 22:10:01.143 (2026-12-02)
  sampledThread = "Thread-3" (javaThreadId = 12)
  state = "STATE_RUNNABLE"
  stackTrace = [
    java.lang.String.hashCode() line: 1
  ]
}

jdk.NativeMethodSample {
  startTime = 22:10:01.150 (2026-12-02)
  sampledThread = "Executor task launch worker for task 0.0 in stage 1.0 (TID 1)" (javaThreadId = 77)
  state = "STATE_IN_NATIVE"
  stackTrace = [
    org.tensorflow.internal.c_api.global.tensorflow.TF_SessionRun(TF_Session, ...) line: 0
    tfspark.tensor.BatchRunner.runRange(int, int) line: 222
  ]
}
"""


def test_jfr_top_counts_leaf_and_inclusive_frames_per_event_and_thread():
    everything = summarize(JFR_TEXT.splitlines())
    java, native = everything["jdk.ExecutionSample"], everything["jdk.NativeMethodSample"]
    assert (java.total, native.total) == (3, 1)
    assert java.leaf["tfspark.tensor.InputFeeder.walk"] == 1 and java.leaf["java.lang.String.hashCode"] == 1
    assert java.inclusive["tfspark.tensor.BatchingIterator.fill"] == 2  # the leaf of one sample, inside the other
    assert native.leaf["org.tensorflow.internal.c_api.global.tensorflow.TF_SessionRun"] == 1

    tasks = summarize(JFR_TEXT.splitlines(), thread="Executor task launch")["jdk.ExecutionSample"]
    assert tasks.total == 2 and "java.lang.String.hashCode" not in tasks.inclusive
    with_params = summarize(JFR_TEXT.splitlines(), params=True)["jdk.ExecutionSample"]
    assert with_params.leaf["tfspark.tensor.InputFeeder.walk(ArrayData, int, Function0)"] == 1
