"""Every code block of README.md and docs/*.md runs as written (tests/readme_blocks.py says how
each one runs).

One case per block, README's first and then each page of docs/ by name, in the order of the text,
named by its page, its section and its index there: a failure shows the block, its file and line,
its exit status, stdout and stderr. Each case asserts exit 0, no TF C++ INFO and no Spark INFO
lines on the console (quiet by default), no change to committed files, and, for the blocks in
``EXPECTED``, the essential part of the result the README shows. Blocks marked not-run are skipped
with their reason, which must not be empty. The examples write to ``out/`` (git-ignored).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import REPO_ROOT
from readme_blocks import (
    SCALA,
    SCALA_DONE,
    SQL,
    Block,
    Outcome,
    command,
    console_noise,
    environment,
    execute,
    launcher_for,
    parse,
    readme_blocks,
    restore,
    tracked_state,
)

BLOCKS = readme_blocks()
DIST = REPO_ROOT / "spark-scala" / "target" / "dist"
TIMEOUT_S = 600

# What a block's console must show (regular expressions searched in stdout and stderr together):
# the result the text states beside the code.
EXPECTED: dict[str, list[str]] = {
    "scala-dataframe-and-rdd-api-2": [
        r"\|PassengerId\|probability\|survived\|",
        r"Map\(probability -> (0\.[5-9]\d*|1\.0)\)",  # "A wonderful film": positive
        r"(?m)^2\.83813\d*$",  # predictRDD, the book's first row
        r"(?m)^3\.78491\d*$",
        r"(?m)^2\.83813\d* *$",  # predictLocal
    ],
    "spark-ml-transformer-1": [r"\|PassengerId\|probability\|survived\|"],
    "spark-sql-2": [
        r"(?m)^2\.83813\d*$",  # the default model and linear by name
        r"(?m)^A wonderful, moving film\.\t0\.[5-9]\d*$",  # positive
        r"(?m)^Dull and far too long\.\t(0\.[0-4]\d*|\d(\.\d+)?E-\d+)$",  # negative (a confident model prints 1.2E-5)
        r"(?m)^automobile\t9\d\d$",  # most of CIFAR2's 1000 test automobiles
    ],
    "spark-submit-batchscore-1": [
        r"BatchScore: scored 100000 rows in [\d.]+ s \(\d+ rows/s\) with linear/\d+ -> out/scored \(csv\)",
        r"BatchScore: start-up [\d.]+ s, recovering an interrupted run [\d.]+ s, model load and warm-up [\d.]+ s, "
        r"reading the input [\d.]+ s, scoring and writing [\d.]+ s, counting the output [\d.]+ s, "
        r"committing the output [\d.]+ s; [\d.]+ s in all",
    ],
    "pyspark-1": [r"MODEL_VERSION_NOT_FOUND - versions: 1"],
    "from-the-mlflow-registry-1": [
        r"(?m)^alias champion -> version 1: models:/titanic@champion$",
        r"(?m)^Sage, Miss\. Constance Gladys\t0\.\d+$",  # the test CSV's first passenger, scored through the registry
        r"BatchScore: scored 179 rows in [\d.]+ s .* with titanic/1 -> out/mlflow/passengers \(delta, version 0\)",
    ],
    "docs-batchscore-images-and-raw-csv-1": [
        r"BatchScore: scored 1000 rows in [\d.]+ s .* with cifar2/\d+ -> out/cifar2 \(parquet\)"
    ],
    "docs-batchscore-images-and-raw-csv-2": [
        r"BatchScore: scored 179 rows in [\d.]+ s .* with titanic/\d+ -> out/titanic \(csv\)"
    ],
    # Delta: the first run commits version 0, the same run again writes nothing and says so.
    "into-a-delta-table-1": [
        r"BatchScore: scored 100000 rows in [\d.]+ s \(\d+ rows/s\) with linear/\d+ "
        r"-> out/scored-delta \(delta, version 0\)",
        r"BatchScore: out/scored-delta already holds this run's commit "
        r"\(version 0, txnAppId tfspark-batchscore-[0-9a-f]{32}\): nothing written",
    ],
    "docs-benchmarks-run-it-3": [r"wrote out/bench-smoke\.md"],
    # Bring your own model: the export checks, the golden vectors replay, SQL and pyspark score it.
    "docs-bring-your-own-model-export-check-score-2": [
        r"serving_default: ok \(warm-up from golden vectors, 1 case",
        r"golden vectors of out/my-models/churn/1 reproduce",
    ],
    "docs-bring-your-own-model-export-check-score-3": [r"(?m)^0\.\d+$"],
    "docs-bring-your-own-model-export-check-score-4": [r"(?s)\|churn_probability\|.*\|\s*0\.\d+\|.*\|\s*0\.\d+\|"],
    "docs-model-repository-inspect-a-repository-1": [
        r"Model titanic, version \d+",
        r"signature_def\['serving_default'\]",
    ],
    "docs-scala-api-one-engine-batched-2": [r"\|\s*1\|\s*2\.83813\d*\|"],
    "docs-pyspark-the-column-function-and-the-transformer-1": [
        r"\|A wonderful, moving film\.\s*\|\s*(0\.[5-9]\d*|1\.0)\s*\|",  # positive
        r"\|PassengerId\|probability\|survived\|",
    ],
    "docs-sql-missing-values-1": [r"Fetched 179 row"],
    "docs-sql-bad-rows-1": [r"(?m)^file:/tmp/truncated\.jpg\tNULL\tMODEL_EXECUTION_FAILED\t"],
    "docs-streaming-example-1": [r"BatchEvalTF \[linear/1:serving_default\]", r"\|\s*3\|\s*15\.64613\d*\|"],
}


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return environment()


def _run(block: Block, env: dict[str, str]) -> Outcome:
    launcher = launcher_for(BLOCKS, block) if block.kind in (SQL, SCALA) else None
    return execute(command(block, launcher), env, TIMEOUT_S)


def _report(block: Block, run: Outcome) -> str:
    ended = f"killed after {TIMEOUT_S} s" if run.timed_out else f"exit {run.returncode} after {run.seconds:.0f} s"
    return (
        f"block {block.id} ({block.source} line {block.line}, {block.language}), {ended}:\n{block.code}"
        f"--- stdout\n{run.stdout[-6000:]}\n--- stderr\n{run.stderr[-6000:]}"
    )


# Running the blocks is the slow readme tier; the checks of the block list below stay in the fast tier.
@pytest.mark.jvm
@pytest.mark.readme
@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind != "text"], ids=lambda b: b.id)
def test_readme_block_runs_as_written(block: Block, env):
    if block.not_run is not None:
        assert block.not_run, f"block {block.id} ({block.source} line {block.line}) is not-run without a reason"
        pytest.skip(f"not-run: {block.not_run}")
    if block.launches is not None:
        assert any(b.kind == block.launches and b.line > block.line for b in BLOCKS), (
            f"launcher {block.id} starts {block.launches}, but no {block.launches} block follows it"
        )
        pytest.skip(f"launches the {block.launches} blocks below it")
    if block.kind in (SQL, SCALA) and not (DIST / "tfspark-assembly.jar").is_file():
        pytest.fail(f"{DIST}/tfspark-assembly.jar is missing: run ./sbt sparkScala/dist (bin/test builds it first)")

    before = tracked_state()
    run = _run(block, env)
    report = _report(block, run)
    console = run.stdout + run.stderr

    changed = sorted(path for path, state in tracked_state().items() if before.get(path) != state)
    restored = restore(changed, before)
    assert not changed, (
        f"the block changed files of the checkout that git does not ignore: {changed} "
        f"(put back from git: {restored})\n" + report
    )
    assert run.returncode == 0, report
    if block.kind == SCALA:
        assert SCALA_DONE in run.stdout, "spark-shell stopped before the end of the block\n" + report
    noise = console_noise(console)
    assert not noise, "INFO lines on the console (quiet by default):\n" + "\n".join(noise[:10]) + "\n" + report
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


def test_docs_pages_run_after_the_readme_and_each_sql_block_uses_a_launcher_of_its_own_file(tmp_path):
    (tmp_path / "docs").mkdir()
    readme = "## Run\n<!-- launches: sql -->\n```bash\nspark-sql\n```\n```sql\nSELECT 1;\n```\n"
    (tmp_path / "README.md").write_text(readme)
    (tmp_path / "docs" / "b.md").write_text("# B\n```sql\nSELECT 2;\n```\n")
    (tmp_path / "docs" / "a.md").write_text("# A page\n## Part\n<!-- launches: sql -->\n```bash\nspark-sql -S\n```\n")
    blocks = readme_blocks(tmp_path)
    assert [(b.source, b.id) for b in blocks] == [
        ("README.md", "run-1"),
        ("README.md", "run-2"),
        ("docs/a.md", "docs-a-part-1"),
        ("docs/b.md", "docs-b-b-1"),
    ]
    assert launcher_for(blocks, blocks[1]) is blocks[0]
    with pytest.raises(LookupError, match="in docs/b.md"):
        launcher_for(blocks, blocks[3])


def test_console_noise_finds_tf_and_spark_info_lines_only():
    output = (
        "2026-11-28 13:03:30.123456: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on\n"
        "I0000 00:00:1795871063.344150   26757 mlir_graph_optimization_pass.cc:401] "
        "MLIR V1 optimization pass is not enabled\n"
        "I0000 00:00:1795871063.344150   26757 loader.cc:12] Reading SavedModel\n"
        "I0000 00:00:1796350566.943469    2794 auto_mixed_precision.cc:2329] Running "
        "auto_mixed_precision_onednn_bfloat16 graph optimizer\n"
        "I0000 00:00:1796350566.943723    2794 auto_mixed_precision.cc:1508] No allowlist ops found, nothing to do\n"
        "I0000 00:00:1796350566.957136    2794 auto_mixed_precision.cc:2260] Converted 8/24 nodes to bfloat16\n"
        "26/11/28 13:05:05 INFO SparkContext: Running Spark version 4.2.0\r[Stage 0:>   (0 + 1) / 1]\n"
        "26/11/28 13:05:04 WARN NativeCodeLoader: Unable to load native-hadoop library\n"
        "INFO is a word in a result\n"
    )
    assert [line[:30] for line in console_noise(output)] == [
        "2026-11-28 13:03:30.123456: I ",
        "I0000 00:00:1795871063.344150 ",
        "26/11/28 13:05:05 INFO SparkCo",
    ]


def test_files_a_block_changes_are_found_and_only_clean_ones_put_back(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, check=True)

    git("init", "-q")
    for name in ("model.pb", "mine.txt"):
        (tmp_path / name).write_text("committed\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    (tmp_path / "mine.txt").write_text("the user's own change\n")
    before = tracked_state(tmp_path)
    (tmp_path / "model.pb").write_text("rewritten by a block\n")
    (tmp_path / "mine.txt").write_text("rewritten by a block\n")
    (tmp_path / "new.txt").write_text("added by a block\n")
    changed = sorted(p for p, state in tracked_state(tmp_path).items() if before.get(p) != state)
    assert changed == ["mine.txt", "model.pb", "new.txt"]
    assert restore(changed, before, tmp_path) == ["model.pb"]
    assert (tmp_path / "model.pb").read_text() == "committed\n"
    assert (tmp_path / "mine.txt").read_text() == "rewritten by a block\n"


def test_a_block_past_its_time_is_killed_with_its_children():
    run = execute(["bash", "-c", "echo started; sleep 60 & sleep 60"], dict(os.environ), timeout_s=1)
    assert run.timed_out and run.returncode == -9 and run.seconds < 30
    assert run.stdout == "started\n"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
