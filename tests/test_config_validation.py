"""Nothing silent in the settings: every ``spark.tfpredict.*`` key is checked where users set it.

A malformed value, an unknown key (a typo: the error names the closest known key) or a runtime ``SET`` of a
key fixed at start is ``INVALID_CONFIG``, driven the way users drive each client:

- ``spark-sql`` at its prompt: ``SET`` then a query; the CLI reports the error and goes on;
- ``spark-sql`` started with a bad ``--conf``;
- ``spark-submit --class tfspark.jobs.BatchScore`` with a bad ``--conf``: exit 2, nothing written.

The same checks through the SQL and DataFrame APIs in one JVM are in ``TFSparkConfSuite``.
"""

from __future__ import annotations

import subprocess

import pytest
from conftest import MODELS
from spark_processes import batch_score_command, quiet_conf_args, run_to_end, spark_script

pytestmark = [pytest.mark.jvm, pytest.mark.submit]

PREDICT = "SELECT tfpredict('linear', array(1.0f, 2.0f)) AS p"
WAIT_S = 180


def run(command: list[str], cwd, stdin: str | None = None) -> subprocess.CompletedProcess:
    return run_to_end(command, cwd, WAIT_S, stdin)


def test_spark_sql_prompt_reports_each_bad_setting_and_goes_on(tmp_path):
    statements = [
        ("SET spark.tfpredict.strictInputs=maybe", "spark.tfpredict.strictInputs is maybe; expected true or false"),
        ("SET spark.tfpredict.unitOutputsAsArrays=yes", "spark.tfpredict.unitOutputsAsArrays is yes"),
        ("SET spark.tfpredict.batchsize=10", "did you mean spark.tfpredict.batchSize?"),
        ("SET spark.tfpredict.null_policy=fill", "did you mean spark.tfpredict.nullPolicy?"),
        ("SET spark.tfpredict.intraOpThreads=abc", "spark.tfpredict.intraOpThreads is abc"),
        ("SET spark.tfpredict.intraOpThreads=2", "spark-submit --conf spark.tfpredict.intraOpThreads=2"),
    ]
    script = ""
    for set_statement, _ in statements:
        key = set_statement.split()[1].split("=")[0]
        script += f"{set_statement};\n{PREDICT};\nRESET {key};\n"
    script += f"{PREDICT};\n"
    result = run([spark_script("spark-sql"), "--master", "local[1]", *quiet_conf_args()], tmp_path, stdin=script)
    for _, message in statements:
        assert message in result.stderr, (message, result.stderr[-3000:])
    assert result.stderr.count("[INVALID_CONFIG]") >= len(statements), result.stderr[-3000:]
    # After the RESETs the same session answers again.
    predictions = [line.split("> ")[-1] for line in result.stdout.splitlines() if line.strip()]
    assert any(p.startswith("2.838") for p in predictions), result.stdout[-2000:]


def test_spark_sql_started_with_a_bad_conf_fails_its_first_query(tmp_path):
    result = run(
        [
            spark_script("spark-sql"),
            "--master",
            "local[1]",
            *quiet_conf_args({"spark.tfpredict.unitOutputsAsArrays": "yes"}),
            "-e",
            PREDICT,
        ],
        tmp_path,
    )
    assert result.returncode != 0
    assert "[INVALID_CONFIG] Configuration spark.tfpredict.unitOutputsAsArrays is yes" in result.stderr


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("spark.tfpredict.batchSize", "abc", "spark.tfpredict.batchSize is abc; expected a whole number from 1"),
        ("spark.tfpredict.nullPolicy", "xyz", "spark.tfpredict.nullPolicy is xyz"),
        ("spark.tfpredict.nullpolicy", "fill", "did you mean spark.tfpredict.nullPolicy?"),
        ("spark.tfpredict.intraOpThreads", "abc", "spark.tfpredict.intraOpThreads is abc"),
    ],
)
def test_batch_score_refuses_a_bad_conf_with_exit_2(tmp_path, key, value, message):
    table = tmp_path / "in.csv"
    table.write_text("x1,x2\n1,2\n3,5\n")
    output = tmp_path / "out"
    command = batch_score_command(
        ["--model", "linear", "--repository", str(MODELS), "--input", str(table), "--output", str(output)], {key: value}
    )
    result = run(command, tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    failure = [line for line in result.stderr.splitlines() if line.startswith("BatchScore failed: ")]
    assert len(failure) == 1 and failure[0].startswith("BatchScore failed: [INVALID_CONFIG] Configuration "), failure
    assert message in failure[0]
    assert not output.exists()
    assert not list(tmp_path.glob("out.*")), "a staging folder was left behind"
