"""Runs the README's "Bring your own model" section as written: export (``export_keras``), check and
verify, score (SQL and pyspark).

The code blocks between ``<!-- byom:start -->`` and ``<!-- byom:end -->`` are extracted and run in
order from the repository root, in the environment ``bin/env.sh`` sets up, so the section cannot
drift from what works.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.jvm

README = REPO_ROOT / "README.md"


def _blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- byom:start -->", 1)[1].split("<!-- byom:end -->", 1)[0]
    found = re.findall(r"^( *)```(bash|python)\n(.*?)^\1```", section, flags=re.S | re.M)
    return [(lang, "\n".join(line[len(indent) :] for line in body.splitlines())) for indent, lang, body in found]


def _env() -> dict[str, str]:
    # What `. bin/env.sh` exports, read back from a shell that sourced it.
    out = subprocess.run(
        ["bash", "-c", ". bin/env.sh && env -0"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def test_the_readme_section_has_the_three_steps():
    langs = [lang for lang, _ in _blocks()]
    assert langs == ["bash", "bash", "bash", "python"], langs


def test_bring_your_own_model_runs_as_written():
    shutil.rmtree(REPO_ROOT / "out" / "my-models", ignore_errors=True)
    env = _env()
    outputs = []
    for lang, code in _blocks():
        command = ["bash", "-e", "-c", code] if lang == "bash" else [str(REPO_ROOT / ".venv/bin/python"), "-c", code]
        run = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, (
            f"README block failed ({lang}):\n{code}\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"
        )
        outputs.append(run.stdout)
    export, check, sql, pyspark = outputs
    assert (REPO_ROOT / "out/my-models/churn/1/saved_model.pb").is_file()
    assert (REPO_ROOT / "out/my-models/churn/1/assets.extra/golden.json").is_file(), (
        "export_keras writes golden vectors"
    )
    assert "serving_default: ok (warm-up from golden vectors, 1 case" in check, check
    assert "golden vectors of out/my-models/churn/1 reproduce" in check, check
    probabilities = [float(x) for x in re.findall(r"^\s*(0\.\d+|1\.0)\s*$", sql, flags=re.M)]
    assert len(probabilities) == 1 and 0.0 < probabilities[0] < 1.0, sql
    rows = re.findall(r"^\|\s*(0\.\d+)\s*\|$", pyspark, flags=re.M)
    assert len(rows) == 2, pyspark


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q", "-s"]))
