"""Every code block of README.md runs as written (tests/readme_blocks.py says how each one runs).

One case per block, in README order, named by its section and its index there: a failure shows the
block, its exit status, stdout and stderr. Each case asserts exit 0, no TF C++ INFO and no Spark INFO
lines on the console (quiet by default), no change to committed files, and, for the blocks in
``EXPECTED``, the essential part of the result the README shows. Blocks marked not-run are skipped
with their reason, which must not be empty. The examples write to ``out/`` (git-ignored).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from readme_blocks import (
    SCALA,
    SCALA_DONE,
    SQL,
    Block,
    command,
    console_noise,
    environment,
    launcher_for,
    parse,
    readme_blocks,
    tracked_state,
)

from python_trainer.data_dir import REPO_ROOT

pytestmark = pytest.mark.jvm

BLOCKS = readme_blocks()
DIST = REPO_ROOT / "spark-scala" / "target" / "dist"
TIMEOUT_S = 600

# What a block's console must show (regular expressions searched in stdout and stderr together):
# the result the README states beside the code.
EXPECTED: dict[str, list[str]] = {
    "scala-2": [
        r"\|PassengerId\|probability\|survived\|",
        r"Map\(probability -> 0\.[5-9]\d*\)",  # "A wonderful film": positive
        r"(?m)^2\.83813\d*$",  # predictRDD, the book's first row
        r"(?m)^3\.78491\d*$",
        r"(?m)^2\.83813\d* *$",  # predictLocal
    ],
    "spark-ml-transformer-1": [r"\|PassengerId\|probability\|survived\|"],
    "spark-sql-2": [
        r"(?m)^2\.83813\d*$",  # the default model and linear by name
        r"(?m)^A wonderful, moving film\.\t0\.[5-9]\d*$",  # positive
        r"(?m)^Dull and far too long\.\t0\.[0-4]\d*$",  # negative
        r"(?m)^automobile\t9\d\d$",  # most of CIFAR2's 1000 test automobiles
    ],
    "spark-sql-3": [r"Fetched 179 row"],
    "bad-rows-1": [r"(?m)^file:/tmp/truncated\.jpg\tNULL\tMODEL_EXECUTION_FAILED\t"],
    "spark-submit-batchscore-1": [
        r"BatchScore: scored 100000 rows in [\d.]+ s \(\d+ rows/s\) with linear/\d+ -> out/scored \(csv\)"
    ],
    "spark-submit-batchscore-2": [r"BatchScore: scored 1000 rows in [\d.]+ s .* with cifar2/\d+ -> out/cifar2 \(parquet\)"],
    "spark-submit-batchscore-3": [
        r"BatchScore: scored 179 rows in [\d.]+ s .* with titanic/\d+ -> out/titanic \(csv\)"
    ],
    "inspect-a-repository-1": [r"Model titanic, version \d+", r"signature_def\['serving_default'\]"],
    "benchmarks-2": [r"wrote out/bench-smoke\.md"],
}


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return environment()


def _run(block: Block, env: dict[str, str]) -> subprocess.CompletedProcess:
    launcher = launcher_for(BLOCKS, block) if block.kind in (SQL, SCALA) else None
    return subprocess.run(
        command(block, launcher),
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def _report(block: Block, run: subprocess.CompletedProcess, seconds: float) -> str:
    return (
        f"README block {block.id} (line {block.line}, {block.language}), exit {run.returncode} "
        f"after {seconds:.0f} s:\n{block.code}\n--- stdout\n{run.stdout[-6000:]}\n--- stderr\n{run.stderr[-6000:]}"
    )


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind != "text"], ids=lambda b: b.id)
def test_readme_block_runs_as_written(block: Block, env):
    if block.not_run is not None:
        assert block.not_run, f"README block {block.id} (line {block.line}) is not-run without a reason"
        pytest.skip(f"not-run: {block.not_run}")
    if block.launches is not None:
        assert any(b.kind == block.launches and b.line > block.line for b in BLOCKS), (
            f"launcher {block.id} starts {block.launches}, but no {block.launches} block follows it"
        )
        pytest.skip(f"launches the {block.launches} blocks below it")
    if block.kind in (SQL, SCALA) and not (DIST / "tfspark-assembly.jar").is_file():
        pytest.fail(f"{DIST}/tfspark-assembly.jar is missing: run ./sbt sparkScala/dist (bin/test builds it first)")

    before = tracked_state()
    start = time.monotonic()
    run = _run(block, env)
    report = _report(block, run, time.monotonic() - start)
    console = run.stdout + run.stderr

    assert run.returncode == 0, report
    if block.kind == SCALA:
        assert SCALA_DONE in run.stdout, "spark-shell stopped before the end of the block\n" + report
    noise = console_noise(console)
    assert not noise, "INFO lines on the console (quiet by default):\n" + "\n".join(noise[:10]) + "\n" + report
    changed = {p: s for p, s in tracked_state().items() if before.get(p) != s}
    assert not changed, (
        f"the block changed files of the checkout that git does not ignore: {sorted(changed)}\n" + report
    )
    for pattern in EXPECTED.get(block.id, []):
        assert re.search(pattern, console), f"expected /{pattern}/ on the console\n" + report


def test_expectations_name_blocks_that_run():
    running = {b.id for b in BLOCKS if b.runs}
    assert set(EXPECTED) <= running, sorted(set(EXPECTED) - running)


def test_every_sql_and_scala_block_has_a_launcher_above_it():
    for block in BLOCKS:
        if block.runs and block.kind in (SQL, SCALA):
            assert launcher_for(BLOCKS, block).launches == block.kind


def test_the_parser_reads_languages_markers_sections_and_indented_blocks():
    text = """# Title
## First part
<!-- not-run: takes an hour -->
```bash
long
```

```
plan output
```
### Sub part
<!-- launches: sql -->
```bash
spark-sql --conf a=b
```
1. A step:

   ```sql
   SELECT 1;
   ```
<!-- not-run: -->
```python
print()
```
"""
    blocks = parse(text)
    assert [(b.id, b.kind) for b in blocks] == [
        ("first-part-1", "shell"),
        ("first-part-2", "text"),
        ("sub-part-1", "shell"),
        ("sub-part-2", "sql"),
        ("sub-part-3", "python"),
    ]
    assert blocks[0].not_run == "takes an hour" and not blocks[0].runs
    assert blocks[2].launches == "sql" and blocks[3].code == "SELECT 1;\n" and blocks[3].runs
    assert blocks[4].not_run == ""
    assert command(blocks[3], launcher_for(blocks, blocks[3]))[-1].startswith("spark-sql --conf a=b -f ")
    with pytest.raises(LookupError):
        launcher_for(blocks[3:], blocks[3])
    with pytest.raises(ValueError, match="never closed"):
        parse("```bash\nunclosed\n")


def test_console_noise_finds_tf_and_spark_info_lines_only():
    output = (
        "2026-11-28 13:03:30.123456: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on\n"
        "I0000 00:00:1795871063.344150   26757 mlir_graph_optimization_pass.cc:401] "
        "MLIR V1 optimization pass is not enabled\n"
        "I0000 00:00:1795871063.344150   26757 loader.cc:12] Reading SavedModel\n"
        "26/11/28 13:05:05 INFO SparkContext: Running Spark version 4.2.0\r[Stage 0:>   (0 + 1) / 1]\n"
        "26/11/28 13:05:04 WARN NativeCodeLoader: Unable to load native-hadoop library\n"
        "INFO is a word in a result\n"
    )
    assert [line[:30] for line in console_noise(output)] == [
        "2026-11-28 13:03:30.123456: I ",
        "I0000 00:00:1795871063.344150 ",
        "26/11/28 13:05:05 INFO SparkCo",
    ]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
