"""The code blocks of README.md and of docs/*.md, and how each one runs as a user would run it.

The files are read in order: README.md first, then the pages of ``docs/`` by name; within a file,
blocks run in the order they appear, so a page may rely on what README's blocks built (the jars of
``./sbt sparkScala/dist``, ``out/linear_features.csv``) and on its own earlier blocks.

A fenced block's info string names its language: ``bash``/``sh``/``shell`` run with bash, ``python``
with the virtualenv's python, ``sql`` and ``scala`` in a Spark session; a block without a language,
or with any other, is text (plan output, layouts). Two HTML comments, on the last non-blank line
before a fence, mark blocks that do not run on their own:

- ``<!-- not-run: REASON -->``: the block is not run (it takes too long, rewrites committed files,
  opens an interactive program); the reason says why and must not be empty.
- ``<!-- launches: sql -->`` / ``<!-- launches: scala -->``: a shell block that starts ``spark-sql`` /
  ``spark-shell``. It is not run by itself: every later SQL (Scala) block of the same file runs as
  one session of it, the block saved to a file and ``-f FILE`` (``-i FILE``) added to its last line.

Every block runs from the repository root in the environment that ``bin/env.sh`` exports, with
``TF_CPP_MIN_LOG_LEVEL`` left to its default there, so that the console is what a user sees.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BLOCK_FILES = REPO_ROOT / "out" / "readme-blocks"

SHELL = "shell"
PYTHON = "python"
SQL = "sql"
SCALA = "scala"
TEXT = "text"
_KINDS = {"bash": SHELL, "sh": SHELL, "shell": SHELL, "python": PYTHON, "sql": SQL, "scala": SCALA}
RUNNABLE = (SHELL, PYTHON, SQL, SCALA)

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^( *)(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_NOT_RUN = re.compile(r"^\s*<!--\s*not-run\s*:?(.*?)-->\s*$")
_LAUNCHES = re.compile(r"^\s*<!--\s*launches\s*:\s*(\w+)\s*-->\s*$")

# The line the Scala file prints last: spark-shell stops loading a file at its first compile error
# or exception, and exits 0 either way, so only this line proves that the whole block ran.
SCALA_DONE = "README block: done"

# TF Java's native library logs these through absl, before absl::InitializeLog: no
# TF_CPP_MIN_LOG_LEVEL removes them, and Java 17 has no way to call absl::SetMinLogLevel. The first comes
# once per JVM. The second is the source file of grappler's bfloat16 rewrite (docs/precision.md): every
# line it writes at a load in bfloat16, which the benchmark's (d16) path makes ("Running ...", "Converted
# N/M nodes ...", "No allowlist ops found ..." on a model with no matmul or convolution).
KNOWN_TF_INFO = (
    "MLIR V1 optimization pass is not enabled",
    "auto_mixed_precision.cc:",
)
_TF_INFO = re.compile(r"\bI (tensorflow|external)/|^I\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]")
_SPARK_INFO = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d INFO ")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, what it holds and how it is marked."""

    source: str  # the file, relative to the repository root: "README.md", "docs/sql.md"
    section: str  # the nearest heading above it
    index: int  # 1-based, among the fenced blocks of that section (text blocks count)
    line: int  # 1-based line of the opening fence
    language: str  # the info string's first word, "" when there is none
    code: str
    not_run: str | None = None  # the reason of a not-run marker, "" when it gives none
    launches: str | None = None  # SQL or SCALA for a launcher block

    @property
    def kind(self) -> str:
        return _KINDS.get(self.language.lower(), TEXT)

    @property
    def id(self) -> str:
        """``<section>-<index>`` for README's blocks, ``docs-<page>-<section>-<index>`` for a page's."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.section.lower()).strip("-")
        if self.source == "README.md":
            return f"{slug}-{self.index}"
        page = re.sub(r"[^a-z0-9]+", "-", Path(self.source).with_suffix("").as_posix().lower()).strip("-")
        return f"{page}-{slug}-{self.index}"

    @property
    def runs(self) -> bool:
        """True for a block the test runs itself: a runnable language, no marker."""
        return self.kind in RUNNABLE and self.not_run is None and self.launches is None


def parse(text: str, source: str = "README.md") -> list[Block]:
    """Every fenced block of a Markdown text, in order; ``source`` names the file in ids and errors.

    :raises ValueError: for a fence that is never closed, or a launcher marker of an unknown kind
    """
    lines = text.splitlines()
    blocks: list[Block] = []
    section, per_section, i = "", 0, 0
    while i < len(lines):
        heading = _HEADING.match(lines[i])
        fence = _FENCE.match(lines[i])
        if heading and not fence:
            section, per_section = heading.group(2), 0
            i += 1
            continue
        if not fence:
            i += 1
            continue
        indent, marks, language = fence.group(1), fence.group(2), fence.group(3)
        close = re.compile(rf"^ {{0,{len(indent) + 3}}}{re.escape(marks[0])}{{{len(marks)},}}\s*$")
        end = next((j for j in range(i + 1, len(lines)) if close.match(lines[j])), None)
        if end is None:
            raise ValueError(f"{source} line {i + 1}: the code block is never closed")
        body = "\n".join(
            line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[i + 1 : end]
        )
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        not_run = _NOT_RUN.match(previous)
        launches = _LAUNCHES.match(previous)
        if launches and launches.group(1) not in (SQL, SCALA):
            raise ValueError(f"{source} line {i}: launches: must be sql or scala, not {launches.group(1)!r}")
        per_section += 1
        blocks.append(
            Block(
                source=source,
                section=section,
                index=per_section,
                line=i + 1,
                language=language,
                code=body + "\n",
                not_run=not_run.group(1).strip() if not_run else None,
                launches=launches.group(1) if launches else None,
            )
        )
        i = end + 1
    return blocks


def documents(root: Path = REPO_ROOT) -> list[Path]:
    """The files whose blocks run, in the order they run: README.md, then docs/*.md by name."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def readme_blocks(root: Path = REPO_ROOT) -> list[Block]:
    """The blocks of every file of :func:`documents`, file after file."""
    return [
        block
        for path in documents(root)
        for block in parse(path.read_text(encoding="utf-8"), path.relative_to(root).as_posix())
    ]


def launcher_for(blocks: list[Block], block: Block) -> Block:
    """The launcher that a SQL or Scala block runs in: the last one of its kind above it, in its file.

    :raises LookupError: when no launcher of that kind comes before the block in its file
    """
    found = [b for b in blocks if b.launches == block.kind and b.source == block.source and b.line < block.line]
    if not found:
        raise LookupError(
            f"no <!-- launches: {block.kind} --> block above the {block.kind} block {block.id} in {block.source}"
        )
    return found[-1]


def environment() -> dict[str, str]:
    """What ``. bin/env.sh`` exports, sourced from an environment without TF_CPP_MIN_LOG_LEVEL, so
    that its default applies (pytest's conftest sets one for the test process)."""
    base = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run(
        ["bash", "-c", ". bin/env.sh && env -0"], cwd=REPO_ROOT, env=base, capture_output=True, check=True
    ).stdout.decode()
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    # What the blocks download (pip's packages for the pyspark section's virtualenv, TF's native
    # jar that the tfspark package fetches) is kept in the checkout's ignored cache, as bin/setup's is.
    cache = Path(env.get("TFSPARK_CACHE") or REPO_ROOT / ".cache")
    env.setdefault("PIP_CACHE_DIR", str(cache / "pip"))
    env.setdefault("TFSPARK_JAR_CACHE", str(cache / "tfspark-jars"))
    return env


def command(block: Block, launcher: Block | None) -> list[str]:
    """The command line that runs ``block`` from the repository root (SQL and Scala: in ``launcher``,
    with the block written to ``out/readme-blocks/<id>.<sql|scala>``)."""
    if block.kind == SHELL:
        return ["bash", "-e", "-o", "pipefail", "-c", block.code]
    if block.kind == PYTHON:
        return [str(REPO_ROOT / ".venv" / "bin" / "python"), "-c", block.code]
    if launcher is None:
        raise ValueError(f"the {block.kind} block {block.id} needs its launcher")
    BLOCK_FILES.mkdir(parents=True, exist_ok=True)
    source = BLOCK_FILES / f"{block.id}.{block.kind}"
    if block.kind == SQL:
        source.write_text(block.code, encoding="utf-8")
        option = "-f"
    else:
        source.write_text(f'{block.code}\nprintln("{SCALA_DONE}")\n', encoding="utf-8")
        option = "-i"
    last = launcher.code.rstrip().splitlines()[-1]
    if "#" in last or last.endswith("\\"):
        raise ValueError(f"launcher {launcher.id}: its last line must end the command (no comment, no '\\')")
    return ["bash", "-e", "-o", "pipefail", "-c", f"{launcher.code.rstrip()} {option} {shlex.quote(str(source))}"]


@dataclass(frozen=True)
class Outcome:
    """How a block's command ended: exit status (-9 when it ran past its time), console, duration."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool


def execute(argv: list[str], env: dict[str, str], timeout_s: float) -> Outcome:
    """Runs ``argv`` from the repository root with stdin closed, in a process group of its own: past
    ``timeout_s`` the whole group (bash, spark-submit, the JVMs) is killed, and what it printed kept."""
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        timed_out = True
    return Outcome(proc.returncode, stdout, stderr, time.monotonic() - start, timed_out)


def console_noise(output: str) -> list[str]:
    """The lines of ``output`` that quiet-by-default forbids: TF C++ INFO lines (TSL's ``I tensorflow/``,
    ``I external/`` and absl's ``I0000 ...``, less :data:`KNOWN_TF_INFO`) and log4j INFO lines of Spark."""
    noisy = []
    for line in re.split(r"[\r\n]+", output):
        if _TF_INFO.search(line) and not any(known in line for known in KNOWN_TF_INFO):
            noisy.append(line)
        elif _SPARK_INFO.search(line):
            noisy.append(line)
    return noisy


def tracked_state(root: Path = REPO_ROOT) -> dict[str, tuple[str, int, int]]:
    """The checkout's changes as git sees them (tracked files changed, untracked files not ignored),
    each with its size and modification time: a block that writes committed files changes it."""
    listing = subprocess.run(
        ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    state = {}
    for entry in filter(None, listing.split("\0")):
        status, path = entry[:2], entry[3:]
        stat = (root / path).stat() if (root / path).exists() else None
        state[path] = (status, stat.st_size if stat else -1, stat.st_mtime_ns if stat else -1)
    return state


def restore(changed: list[str], before: dict[str, tuple[str, int, int]], root: Path = REPO_ROOT) -> list[str]:
    """Puts back, from git's index, the tracked files among ``changed`` that had no change of their own
    before the block ran (so nothing of the user's is lost); returns them. Files the block added, and
    files that were already modified, are left as they are."""
    now = tracked_state(root)
    clean_before = [p for p in changed if p not in before and p in now and now[p][0] != "??"]
    if clean_before:
        subprocess.run(["git", "checkout", "--", *clean_before], cwd=root, capture_output=True, check=True)
    return clean_before
