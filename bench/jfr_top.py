"""The top frames of a JFR recording: bench/jfr_top.py FILE [--top N] [--thread TEXT].

Reads ``jfr print --stack-depth D --events jdk.ExecutionSample,jdk.NativeMethodSample FILE`` (the JDK's
``jfr`` tool: ``$JAVA_HOME/bin/jfr``, else the one on ``PATH``) as it streams, and prints, for the Java
samples and for the native ones (threads in native code, such as ``TF_SessionRun``), the top-N *leaf* frames
(where the thread was) and the top-N *inclusive* frames (every method on the stack, counted once per
sample). Frames are ``package.Class.method``; ``--params`` keeps the parameter lists. ``--thread TEXT``
keeps the samples of threads whose name contains TEXT (``"Executor task"``: Spark's task threads, which JFR
may name ``Executor task idle worker#N``); without it the native samples are mostly idle threads waiting in
native code (``epollWait``, socket reads). A stack deeper than ``--stack-depth`` is cut at its top frames,
so the inclusive counts of its outermost frames are low; bench/jfr_recording.py records 256 frames.

Exits 2 when the ``jfr`` tool is missing or fails on the file.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

EVENTS = ("jdk.ExecutionSample", "jdk.NativeMethodSample")
_LINE = re.compile(r"\s+line: \d+.*$")
_THREAD = re.compile(r'^\s*sampledThread = "(.*)"')


@dataclass
class Samples:
    """Counts of one event type's samples: total, and per leaf and inclusive frame."""

    total: int = 0
    leaf: Counter = field(default_factory=Counter)
    inclusive: Counter = field(default_factory=Counter)

    def add(self, stack: list[str]) -> None:
        self.total += 1
        if stack:
            self.leaf[stack[0]] += 1
            self.inclusive.update(set(stack))


def frame_name(line: str, params: bool) -> str:
    """``"  a.B.c(int, D) line: 12"`` -> ``"a.B.c"`` (``"a.B.c(int, D)"`` with ``params``)."""
    text = _LINE.sub("", line.strip())
    return text if params else text.split("(", 1)[0]


def summarize(lines: Iterable[str], thread: str | None = None, params: bool = False) -> dict[str, Samples]:
    """Parses ``jfr print`` text: the samples of each of :data:`EVENTS`, of the threads whose name holds ``thread``."""
    result = {event: Samples() for event in EVENTS}
    event: str | None = None
    name, stack, in_stack = "", [], False
    for line in lines:
        stripped = line.strip()
        if event is None:
            head = stripped.split(" ", 1)[0]
            if head in result and stripped.endswith("{"):
                event, name, stack, in_stack = head, "", [], False
            continue
        match = _THREAD.match(line)
        if match:
            name = match.group(1)
        elif stripped.startswith("stackTrace = ["):
            in_stack = True
        elif in_stack and stripped == "]":
            in_stack = False
        elif in_stack:
            if stripped != "...":  # the stack was cut at --stack-depth
                stack.append(frame_name(stripped, params))
        elif stripped == "}":
            if thread is None or thread in name:
                result[event].add(stack)
            event = None
    return result


def jfr_tool() -> str:
    """The JDK's ``jfr`` tool; raises ``FileNotFoundError`` naming where it looked."""
    home = os.environ.get("JAVA_HOME")
    candidates = [Path(home) / "bin" / "jfr"] if home else []
    found = next((str(c) for c in candidates if c.is_file()), None) or shutil.which("jfr")
    if not found:
        raise FileNotFoundError(f"no jfr tool: looked in {[str(c) for c in candidates]} and on PATH")
    return found


def report(summary: dict[str, Samples], top: int) -> str:
    out = []
    for event, samples in summary.items():
        kind = "Java" if event == "jdk.ExecutionSample" else "native"
        out.append(f"{kind} samples ({event}): {samples.total}")
        for title, counter in (("leaf", samples.leaf), ("inclusive", samples.inclusive)):
            if not counter:
                continue
            out.append(f"  top {top} {title} frames:")
            for frame, n in counter.most_common(top):
                out.append(f"    {100 * n / samples.total:5.1f}%  {n:6d}  {frame}")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench/jfr_top.py", description=__doc__.split("\n")[0])
    p.add_argument("file", type=Path, help="a JFR recording (.jfr)")
    p.add_argument("--top", type=int, default=15, help="frames per list (default: %(default)s)")
    p.add_argument("--thread", help="only threads whose name contains this text, e.g. 'Executor task'")
    p.add_argument("--params", action="store_true", help="keep parameter lists (overloads apart)")
    p.add_argument("--stack-depth", type=int, default=256, help="frames read per stack (default: %(default)s)")
    args = p.parse_args(argv)
    try:
        tool = jfr_tool()
    except FileNotFoundError as e:
        print(f"jfr_top: {e}", file=sys.stderr)
        return 2
    command = [tool, "print", "--stack-depth", str(args.stack_depth), "--events", ",".join(EVENTS), str(args.file)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        summary = summarize(proc.stdout, args.thread, args.params)
        error = proc.stderr.read()
    if proc.returncode != 0:
        print(f"jfr_top: {' '.join(command)} failed ({proc.returncode}): {error.strip()}", file=sys.stderr)
        return 2
    where = f", threads matching '{args.thread}'" if args.thread else ""
    print(f"{args.file}{where}")
    print(report(summary, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
