"""tfspark's long-lived-session soak: many consecutive SQL queries in one Spark session, two models
alternating, the driver JVM's memory after each query, and a control without ``tfpredict``.

Run it with ``.venv/bin/python bench/soak.py`` (``--help``); it writes ``bench/SOAK.md``.

Two runs, each in a fresh Python process and so a fresh driver JVM (pyspark keeps its JVM for the
life of the Python process, so a second session in the same process would not start from zero):

- ``tfpredict``: ``--queries`` queries of ``--rows`` generated rows each through SQL ``tfpredict``,
  alternating the generated ``mlp`` (64 floats, one array argument) and the committed ``titanic``
  (eight raw columns, ints, floats and strings, through ``struct(*)``);
- ``control``: the same queries with a plain Spark expression of a similar shape instead of
  ``tfpredict`` (``array_max`` over the same 64-float array; arithmetic and ``length`` over the
  same eight columns), so whatever grows in both is Spark's or the JVM's, not tfspark's.

After each query: the driver JVM's VmRSS (in local mode the driver JVM does the work), RssAnon,
heap used and committed (``java.lang.Runtime``), live threads, JavaCPP's ``Pointer.totalBytes()``
(tfpredict run only: the control does not load JavaCPP) and the query's seconds. With Native Memory
Tracking (on unless ``--no-nmt``): ``jcmd <pid> VM.native_memory baseline`` after query
``--from-query`` and ``summary.diff`` after the last, per category. NMT sees what the JVM allocates
(heap, classes, threads, code, GC, Unsafe/direct buffers under Other); memory that native code
such as TensorFlow or JavaCPP's JNI takes with ``malloc`` is not tracked, so the RSS growth that
NMT's committed total does not account for is reported too.

Inputs are generated from ``spark.range`` by hashing the row id (deterministic: a ``tfpredict``
call with a non-deterministic argument such as ``rand()`` is not batched), in 2 partitions, with
nothing cached, and every query is run to the end into the ``noop`` sink.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import ROOT, WORK, jvm_rss_kb, machine, model_repository, noop

from tfspark.jars import CHECKOUT_DIST

# Each run, in its own JVM: what its queries project, and whether its heap is fixed (-Xms = -Xmx,
# pre-touched, so that G1's resizing of the heap cannot move the RSS).
RUNS = {"tfpredict": ("tfpredict", False), "control": ("control", False), "tfpredict-fixed-heap": ("tfpredict", True)}
NMT_OPTION = "-XX:NativeMemoryTracking=summary"
DEFAULT_DRIVER_MEMORY = "6g"  # as bench/run's harness

# The MLP's 64 features, from the row id. Double literals (100D): Spark reads 100.0 as a DECIMAL, and
# 64 decimal divisions per row made the input, not the model, the cost of a query.
MLP_COLS = ", ".join(f"CAST(hash(id, {i}) % 1000 / 100D AS FLOAT)" for i in range(64))

# Titanic's raw columns, named and typed as its serving_default inputs (README, "Models"); no nulls.
TITANIC_COLS = [
    "CAST(pmod(hash(id, 101), 3) + 1 AS BIGINT) AS pclass",
    "concat('Doe', id, ', ', element_at(array('Mr', 'Mrs', 'Miss', 'Master', 'Dr', ''), pmod(hash(id, 109), 6) + 1),"
    " '. John') AS name",
    "IF(pmod(hash(id, 102), 2) = 0, 'male', 'female') AS sex",
    "CAST(pmod(hash(id, 103), 800) / 10D AS FLOAT) AS age",
    "CAST(pmod(hash(id, 104), 5) AS BIGINT) AS sibsp",
    "CAST(pmod(hash(id, 105), 4) AS BIGINT) AS parch",
    "CAST(pmod(hash(id, 106), 50000) / 100D AS FLOAT) AS fare",
    "element_at(array('', 'C85', 'B42', 'E46', 'G6'), pmod(hash(id, 107), 5) + 1) AS cabin",
    "element_at(array('S', 'C', 'Q', ''), pmod(hash(id, 108), 4) + 1) AS embarked",
]

# The expression each query projects, per run and model: one value per row from the same inputs.
EXPRESSIONS = {
    ("tfpredict", "mlp"): f"tfpredict('mlp', array({MLP_COLS})) AS p",
    # array_max builds the same array per row and reduces it to one value. (aggregate(array, 0D,
    # (acc, x) -> ...) is not compiled, a higher-order function, and ran slower still.) Whole-stage
    # codegen puts the 64 generated columns in one method too large for the JIT here, so this query
    # is slower than tfpredict's, whose argument BatchEvalTF evaluates apart; its seconds say nothing.
    ("control", "mlp"): f"array_max(array({MLP_COLS})) AS p",
    ("tfpredict", "titanic"): "tfpredict('titanic', struct(*)).probability AS p",
    ("control", "titanic"): "pclass * 0.3D + IF(sex = 'male', 1D, 0D) + age * 0.01D + sibsp + parch"
    " + fare * 0.001D + length(cabin) + length(embarked) + length(name) AS p",
}
MODELS = ("mlp", "titanic")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="bench/soak.py",
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog="Example: .venv/bin/python bench/soak.py --queries 100 --rows 500000 --out bench/SOAK.md",
    )
    p.add_argument("--queries", type=int, default=100, help="consecutive queries per run (default: %(default)s)")
    p.add_argument("--rows", type=int, default=500_000, help="generated rows per query (default: %(default)s)")
    p.add_argument(
        "--from-query",
        type=int,
        default=10,
        help="the drift is measured from this query (the ones before are warm-up) to the last (default: %(default)s)",
    )
    p.add_argument("--batch-size", type=int, default=4096, help="spark.tfpredict.batchSize (default: %(default)s)")
    p.add_argument(
        "--driver-memory", default=DEFAULT_DRIVER_MEMORY, help="the driver's -Xmx, as bench/run (default: %(default)s)"
    )
    p.add_argument(
        "--runs",
        default="tfpredict,control",
        help=f"comma-separated runs, each in a fresh JVM, of {', '.join(RUNS)} (default: %(default)s)",
    )
    p.add_argument(
        "--fixed-heap",
        default="2g",
        help="the heap of the tfpredict-fixed-heap run: -Xms = -Xmx = this, with -XX:+AlwaysPreTouch "
        "(default: %(default)s)",
    )
    p.add_argument("--no-nmt", action="store_true", help="without -XX:NativeMemoryTracking=summary and jcmd")
    p.add_argument("--out", default=str(ROOT / "bench" / "SOAK.md"), help="the report (default: %(default)s)")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite --out from the last runs' measurements (bench/.work/soak-*.json) without running",
    )
    p.add_argument("--child", choices=list(RUNS), help=argparse.SUPPRESS)  # one run, in this process
    p.add_argument("--json", help=argparse.SUPPRESS)  # where the child writes its measurements
    args = p.parse_args(argv)
    if args.queries < 2 or not 1 <= args.from_query < args.queries:
        p.error("need --queries ≥ 2 and 1 ≤ --from-query < --queries")
    for kind in args.runs.split(","):
        if kind not in RUNS:
            p.error(f"unknown run {kind!r}: expected some of {', '.join(RUNS)}")
    return args


# --- one run (the child process) ---------------------------------------------------------------


def thread_groups(pid: int) -> dict[str, int]:
    """The process's threads by name (the OS name: Java's thread name, cut to 15 characters), numbers folded."""
    groups: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = re.sub(r"[#-]?\d+$", "#N", (task / "comm").read_text().strip())
        except OSError:
            continue
        groups[name] = groups.get(name, 0) + 1
    return dict(sorted(groups.items(), key=lambda kv: -kv[1]))


def proc_status(pid: int) -> dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return {k: v.strip() for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line)}


def jcmd(pid: int, *command: str) -> str:
    """The output of ``jcmd <pid> <command...>`` (the JDK's jcmd next to the running java first)."""
    java_home = Path(os.path.realpath(f"/proc/{pid}/exe")).parent
    exe = java_home / "jcmd" if (java_home / "jcmd").is_file() else shutil.which("jcmd")
    done = subprocess.run([str(exe), str(pid), *command], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"jcmd {' '.join(command)} failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


_NMT_CATEGORY = re.compile(
    r"^-\s+(?P<name>[A-Za-z][A-Za-z &/-]*?) \(reserved=\d+KB(?: [+-]\d+KB)?, "
    r"committed=(?P<committed>\d+)KB(?: (?P<delta>[+-]\d+)KB)?\)"
)
_NMT_TOTAL = re.compile(
    r"^Total: reserved=\d+KB(?: [+-]\d+KB)?, committed=(?P<committed>\d+)KB(?: (?P<delta>[+-]\d+)KB)?"
)


def parse_nmt(text: str) -> dict[str, dict[str, int]]:
    """``{category: {"committed_kb", "delta_kb"}}`` from ``VM.native_memory summary[.diff]``; "Total" too."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        m = _NMT_TOTAL.match(line)
        name = "Total" if m else None
        if not m:
            m = _NMT_CATEGORY.match(line)
            name = m and m.group("name").strip()
        if m:
            out[name] = {"committed_kb": int(m.group("committed")), "delta_kb": int(m.group("delta") or 0)}
    return out


def run_child(args) -> dict:
    """One run in this process: start the session, run the queries, measure after each."""
    kind = args.child
    queries, fixed_heap = RUNS[kind]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    memory = args.fixed_heap if fixed_heap else args.driver_memory
    # spark_conf() sets spark.driver.extraJavaOptions (JavaCPP's cache folder); ours go into
    # spark.driver.defaultJavaOptions, which Spark puts in front of it: both reach the JVM.
    options = [] if args.no_nmt else [NMT_OPTION]
    if fixed_heap:
        options += [f"-Xms{memory}", "-XX:+AlwaysPreTouch"]
    submit = ["--driver-memory", memory, "--conf", "spark.ui.showConsoleProgress=false"]
    if options:
        submit += ["--conf", "spark.driver.defaultJavaOptions=" + " ".join(options)]
    os.environ["PYSPARK_SUBMIT_ARGS"] = shlex.join([*submit, "pyspark-shell"])
    from pyspark.sql import SparkSession

    from tfspark import configure_spark_with_tfspark

    repo = model_repository()
    builder = SparkSession.builder.master("local[2]").appName(f"tfspark-soak-{kind}")
    builder = builder.config("spark.tfpredict.batchSize", str(args.batch_size))
    spark = configure_spark_with_tfspark(builder, repository=repo).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    jvm = spark._jvm
    pid = int(jvm.java.lang.ProcessHandle.current().pid())
    jvm_args = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    missing = [o for o in options if o not in jvm_args]
    if missing:
        raise RuntimeError(f"the driver JVM did not get {missing}: {jvm_args}")
    runtime = jvm.java.lang.Runtime.getRuntime()
    # JavaCPP's count of live native allocations it deallocates (tensors' pointers among them).
    pointer = jvm.org.bytedeco.javacpp.Pointer if queries == "tfpredict" else None
    frames = {
        "mlp": lambda: spark.range(args.rows, numPartitions=2),
        "titanic": lambda: spark.range(args.rows, numPartitions=2).selectExpr(*TITANIC_COLS),
    }
    result = {
        "kind": kind,
        "pid": pid,
        "jvm_args": jvm_args,
        "commit": commit(),
        "jar": f"tfspark-assembly.jar of {jar_time()}",
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "expressions": {m: EXPRESSIONS[(queries, m)] for m in MODELS},
        "queries": [],
        "nmt": {},
    }
    print(f"soak {kind}: {args.queries} queries of {args.rows:,} rows, driver JVM pid {pid}", flush=True)
    for q in range(1, args.queries + 1):
        model = MODELS[(q - 1) % len(MODELS)]
        start = time.perf_counter()
        noop(frames[model]().selectExpr(EXPRESSIONS[(queries, model)]))
        seconds = time.perf_counter() - start
        rss_kb, hwm_kb = jvm_rss_kb(spark)
        status = proc_status(pid)
        total, free = runtime.totalMemory(), runtime.freeMemory()
        row = {
            "query": q,
            "model": model,
            "seconds": seconds,
            "rss_kb": rss_kb,
            "hwm_kb": hwm_kb,
            "rss_anon_kb": int(status["RssAnon"].split()[0]),
            "rss_file_kb": int(status["RssFile"].split()[0]),
            "threads": int(status["Threads"]),
            "heap_used_b": total - free,
            "heap_committed_b": total,
            "javacpp_bytes": int(pointer.totalBytes()) if pointer else None,
            "javacpp_count": int(pointer.totalCount()) if pointer else None,
        }
        result["queries"].append(row)
        print(
            f"  {q:4d} {model:8s} {seconds:6.2f} s  RSS {rss_kb / 1024:7.1f} MB  heap {row['heap_used_b'] / 2**20:7.1f}"
            f" / {total / 2**20:7.1f} MB  threads {row['threads']}",
            flush=True,
        )
        if q == args.from_query:
            result["threads_at_from"] = thread_groups(pid)
        if not args.no_nmt and q == args.from_query:
            result["nmt"]["at_from"] = parse_nmt(jcmd(pid, "VM.native_memory", "summary"))
            jcmd(pid, "VM.native_memory", "baseline")
    result["threads_at_end"] = thread_groups(pid)
    if not args.no_nmt:
        diff = jcmd(pid, "VM.native_memory", "summary.diff")
        result["nmt"]["diff_text"] = diff
        result["nmt"]["diff"] = parse_nmt(diff)
    if queries == "tfpredict":
        counts = jvm.tfspark.model.ModelCache.loadCounts()  # a Scala Map: its string form is enough
        result["model_loads"] = str(counts.toString())
    # After the last measurement: a full GC (the class histogram forces one) says how much of the
    # heap is live, and the RSS after it how much a GC gives back.
    histogram = jcmd(pid, "GC.class_histogram")
    total_line = next((line for line in histogram.splitlines() if line.startswith("Total")), "")
    result["live_heap_b"] = int(total_line.split()[2]) if total_line else None
    result["histogram_top"] = histogram.splitlines()[:13]
    result["rss_after_full_gc_kb"] = jvm_rss_kb(spark)[0]
    result["load_at_end"] = os.getloadavg()[0]
    if jar_time() not in result["jar"]:
        result["jar"] += f" (rebuilt during the run, at {jar_time()})"
    spark.stop()
    return result


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    return f"`{head.stdout.strip()}`" + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def jar_time() -> str:
    jar = CHECKOUT_DIST / "tfspark-assembly.jar"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(jar.stat().st_mtime)) if jar.is_file() else "?"


# --- the report ----------------------------------------------------------------------------------


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    xs, ys = zip(*points, strict=True)
    return statistics.linear_regression(xs, ys).slope


def drift(run: dict, first: int) -> dict:
    qs = run["queries"]
    window = [r for r in qs if r["query"] >= first]
    a, z = window[0], window[-1]
    half = [r for r in qs if r["query"] >= (first + z["query"]) // 2]

    def mb(kb):
        return kb / 1024

    out = {
        "rss_from_mb": mb(a["rss_kb"]),
        "rss_to_mb": mb(z["rss_kb"]),
        "pct": z["rss_kb"] / a["rss_kb"] - 1,
        "fit_mb_per_query": slope([(r["query"], mb(r["rss_kb"])) for r in window]),
        "fit_second_half_mb_per_query": slope([(r["query"], mb(r["rss_kb"])) for r in half]),
        "anon_fit_mb_per_query": slope([(r["query"], mb(r["rss_anon_kb"])) for r in window]),
        "heap_committed_from_mb": a["heap_committed_b"] / 2**20,
        "heap_committed_to_mb": z["heap_committed_b"] / 2**20,
        "heap_floor_from_mb": min(r["heap_used_b"] for r in window[:10]) / 2**20,
        "heap_floor_to_mb": min(r["heap_used_b"] for r in window[-10:]) / 2**20,
        "threads": (a["threads"], z["threads"]),
        "javacpp": (a["javacpp_bytes"], z["javacpp_bytes"]),
        "javacpp_count": (a.get("javacpp_count"), z.get("javacpp_count")),
        "seconds": sum(r["seconds"] for r in qs),
        "peak_mb": max(r["hwm_kb"] for r in qs) / 1024,
        # RSS less the committed heap: what the heap's sizing does not explain.
        "nonheap_from_mb": (a["rss_kb"] * 1024 - a["heap_committed_b"]) / 2**20,
        "nonheap_to_mb": (z["rss_kb"] * 1024 - z["heap_committed_b"]) / 2**20,
        "nonheap_fit_mb_per_query": slope(
            [(r["query"], (r["rss_kb"] * 1024 - r["heap_committed_b"]) / 2**20) for r in window]
        ),
        # G1 resizing the heap: (query, committed MB before, after) for each change in the window.
        "heap_resizes": [
            (r["query"], p["heap_committed_b"] / 2**20, r["heap_committed_b"] / 2**20)
            for p, r in zip(window, window[1:], strict=False)
            if r["heap_committed_b"] != p["heap_committed_b"]
        ],
    }
    # The RSS follows a resize as the new regions get touched: start one query after the last one.
    resized = min(out["heap_resizes"][-1][0] + 1, z["query"] - 2) if out["heap_resizes"] else first
    steady = [r for r in window if r["query"] >= resized]
    out["steady_from"] = resized
    out["steady_pct"] = steady[-1]["rss_kb"] / steady[0]["rss_kb"] - 1
    out["steady_fit_mb_per_query"] = slope([(r["query"], mb(r["rss_kb"])) for r in steady]) if len(steady) > 2 else 0.0
    return out


def report(args, runs: dict[str, dict]) -> str:
    first, last = args.from_query, args.queries
    commands = list(dict.fromkeys(run["command"] for run in runs.values()))
    lines = [
        "# Long-lived-session soak",
        "",
        f"- machine: {machine()}; Spark local[2], TF 2.18 (Java 1.1.0); other work was running on it, so "
        "the seconds are noisy: the RSS is what this measures",
        "- command: " + "; ".join(f"`{c}`" for c in commands),
        f"- method: per run, one fresh pyspark session (batch size {args.batch_size}) in its own Python process "
        f"and JVM, and {args.queries} consecutive queries of {args.rows:,} generated rows each (hash of the row "
        f"id, 2 partitions, nothing cached, into the noop sink), alternating {' and '.join(MODELS)}; after "
        "each query the driver JVM's VmRSS (in local mode it does the work), heap used and committed "
        f"(java.lang.Runtime) and the query's seconds. The drift runs from query {first} to {last}: RSS "
        "change in %, and the least-squares slope of RSS over those queries. The bar: < 5%.",
    ]
    for kind, run in runs.items():
        options = " ".join(a for a in run["jvm_args"] if not a.startswith(("--add-", "-Djdk.reflect", "-Dio.netty")))
        lines.append(
            f"- run {kind}: started {run.get('started', '?')}, commit {run.get('commit', '?')}, "
            f"{run.get('jar', 'tfspark-assembly.jar of ?')}; load average "
            f"{run.get('load_at_end', float('nan')):.1f} at its end; driver JVM options `{options}` "
            "(and Spark's --add-opens)"
        )
    lines += [
        "",
        "| run | model | expression |",
        "|---|---|---|",
    ]
    for kind, run in runs.items():
        for model, expr in run["expressions"].items():
            shown = expr if len(expr) < 160 else expr[:150] + " …"
            lines.append(f"| {kind} | {model} | `{shown}` |")
    drifts = {kind: drift(run, first) for kind, run in runs.items()}
    lines += reading(runs, drifts, first, last)
    lines += [
        "",
        "## Drift",
        "",
        f"| run | RSS q{first} (MB) | RSS q{last} (MB) | drift | slope q{first}–{last} (MB/query) | "
        f"slope, second half (MB/query) | RssAnon slope (MB/query) | heap committed q{first} → q{last} (MB) | "
        f"heap used, lowest of first/last 10 (MB) | threads | peak RSS (MB) | seconds, all queries | bar < 5% |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind, d in drifts.items():
        lines.append(
            f"| {kind} | {d['rss_from_mb']:.0f} | {d['rss_to_mb']:.0f} | {d['pct']:+.1%} | "
            f"{d['fit_mb_per_query']:+.2f} | {d['fit_second_half_mb_per_query']:+.2f} | "
            f"{d['anon_fit_mb_per_query']:+.2f} | "
            f"{d['heap_committed_from_mb']:.0f} → {d['heap_committed_to_mb']:.0f} | "
            f"{d['heap_floor_from_mb']:.0f} → {d['heap_floor_to_mb']:.0f} | {d['threads'][0]} → {d['threads'][1]} | "
            f"{d['peak_mb']:.0f} | {d['seconds']:.0f} | {'met' if abs(d['pct']) < 0.05 else 'MISSED'} |"
        )
    lines += [
        "",
        "Where it comes from: the Java heap's committed size (G1 resizes it as it sees fit, up to -Xmx) "
        "against everything else in the RSS.",
        "",
        f"| run | heap resizes in q{first}–{last} (query: MB → MB) | RSS − heap committed q{first} → q{last} (MB) | "
        "its slope (MB/query) | from the last resize to the end: RSS drift | its slope (MB/query) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for kind, d in drifts.items():
        resizes = ", ".join(f"q{q}: {x:.0f} → {y:.0f}" for q, x, y in d["heap_resizes"]) or "none"
        lines.append(
            f"| {kind} | {resizes} | {d['nonheap_from_mb']:.0f} → {d['nonheap_to_mb']:.0f} | "
            f"{d['nonheap_fit_mb_per_query']:+.2f} | q{d['steady_from']}–{last}: {d['steady_pct']:+.1%} | "
            f"{d['steady_fit_mb_per_query']:+.2f} |"
        )
    tf = runs.get("tfpredict")
    if tf:
        j0, j1 = drifts["tfpredict"]["javacpp"]
        c0, c1 = drifts["tfpredict"]["javacpp_count"]
        lines += [
            "",
            f"tfpredict run: JavaCPP `Pointer.totalBytes()` {j0 / 2**20:.1f} MB at q{first}, {j1 / 2**20:.1f} MB at "
            f"q{last}; `Pointer.totalCount()` {c0} → {c1}; model loads per content (ModelCache.loadCounts) "
            f"`{tf.get('model_loads')}`.",
        ]
    if all(run["nmt"] for run in runs.values()):
        lines += nmt_section(runs, first, last)
    lines += threads_section(runs, first, last)
    lines += [
        "",
        "## After the last query: a full GC",
        "",
        "`jcmd <pid> GC.class_histogram` forces a full GC; the live heap it counts, and the RSS after it:",
        "",
        "| run | live heap (MB) | RSS before (MB) | RSS after (MB) |",
        "|---|---:|---:|---:|",
    ]
    for kind, run in runs.items():
        live = run["live_heap_b"]
        lines.append(
            f"| {kind} | {live / 2**20 if live else float('nan'):.0f} | {run['queries'][-1]['rss_kb'] / 1024:.0f} | "
            f"{run['rss_after_full_gc_kb'] / 1024:.0f} |"
        )
    lines += ["", "## Every query", ""]
    kinds = list(runs)
    head = "| query | model | " + " | ".join(f"{k} RSS (MB) | {k} heap used / committed (MB) | {k} s" for k in kinds)
    lines += [head + " |", "|---:|---|" + "---:|---:|---:|" * len(kinds)]
    for i in range(args.queries):
        cells = []
        for k in kinds:
            r = runs[k]["queries"][i]
            cells.append(
                f"{r['rss_kb'] / 1024:.0f} | {r['heap_used_b'] / 2**20:.0f} / {r['heap_committed_b'] / 2**20:.0f} | "
                f"{r['seconds']:.2f}"
            )
        model = runs[kinds[0]]["queries"][i]["model"]
        lines.append(f"| {i + 1} | {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def untracked_mb(run: dict, first: int) -> tuple[float, float] | None:
    """RSS growth from query ``first`` to the end that NMT does not account for: native ``malloc`` outside
    the JVM (TensorFlow, JavaCPP's JNI). Two estimates: less NMT's committed total, and less only the
    categories that grew (what the JVM frees, arena chunks above all, glibc often keeps resident).
    """
    diff = run["nmt"].get("diff")
    if not diff:
        return None
    rss0 = next(r["rss_kb"] for r in run["queries"] if r["query"] == first)
    rss_delta = run["queries"][-1]["rss_kb"] - rss0
    grown = sum(max(0, v["delta_kb"]) for n, v in diff.items() if n != "Total")
    return (rss_delta - diff["Total"]["delta_kb"]) / 1024, (rss_delta - grown) / 1024


def reading(runs: dict[str, dict], drifts: dict[str, dict], first: int, last: int) -> list[str]:
    """The figures below, in sentences: each run's drift and where NMT puts it, then tfpredict against the control."""
    lines = ["", "## Reading", ""]
    n = last - first
    for kind, run in runs.items():
        d = drifts[kind]
        text = (
            f"- **{kind}**: RSS {d['rss_from_mb']:.0f} → {d['rss_to_mb']:.0f} MB from query {first} to {last}, "
            f"{d['pct']:+.1%} ({d['fit_mb_per_query']:+.2f} MB/query fitted): the bar < 5% is "
            f"{'met' if abs(d['pct']) < 0.05 else 'missed'}."
        )
        diff = run["nmt"].get("diff")
        if diff:
            top = sorted(
                ((c, v["delta_kb"] / 1024) for c, v in diff.items() if c != "Total"), key=lambda x: -abs(x[1])
            )[:5]
            u_total, u_grown = untracked_mb(run, first)
            text += (
                f" NMT's committed total moved {diff['Total']['delta_kb'] / 1024:+.0f} MB of the RSS's "
                f"{d['rss_to_mb'] - d['rss_from_mb']:+.0f} MB: "
                + ", ".join(f"{c} {v:+.1f}" for c, v in top)
                + f". RSS growth NMT does not track (native malloc: TensorFlow, JavaCPP's JNI): {u_total:+.0f} MB, "
                f"or {u_grown:+.0f} MB counting what the JVM freed as still resident."
            )
        if d["heap_resizes"]:
            text += (
                " G1 resized the heap at "
                + ", ".join(f"query {q} ({x:.0f} → {y:.0f} MB committed)" for q, x, y in d["heap_resizes"])
                + f"; from the query after the last resize to the end the RSS moved {d['steady_pct']:+.1%} "
                f"({d['steady_fit_mb_per_query']:+.2f} MB/query)."
            )
        else:
            text += " The committed heap did not change in the window."
        live = run.get("live_heap_b")
        text += (
            f" RSS less the committed heap: {d['nonheap_from_mb']:.0f} → {d['nonheap_to_mb']:.0f} MB "
            f"({d['nonheap_fit_mb_per_query']:+.2f} MB/query); threads {d['threads'][0]} → {d['threads'][1]}; "
            f"live heap after a full GC at the end: {live / 2**20 if live else float('nan'):.0f} MB."
        )
        lines.append(text)
    if "tfpredict" not in drifts or "control" not in drifts or not runs["tfpredict"]["nmt"].get("diff"):
        return lines
    t, c = drifts["tfpredict"], drifts["control"]
    tf_runs = [k for k in runs if RUNS[k][0] == "tfpredict"]
    extra = t["nonheap_fit_mb_per_query"] - c["nonheap_fit_mb_per_query"]
    native = {k: untracked_mb(runs[k], first) for k in tf_runs if runs[k]["nmt"].get("diff")}
    lt, lc = (runs[k].get("live_heap_b") or 0 for k in ("tfpredict", "control"))
    td, cd = runs["tfpredict"]["nmt"]["diff"], runs["control"]["nmt"]["diff"]
    apart = {
        cat: (td[cat]["delta_kb"] - cd.get(cat, {"delta_kb": 0})["delta_kb"]) / 1024
        for cat in td
        if cat not in ("Total", "Java Heap", "GC")
        and abs(td[cat]["delta_kb"] - cd.get(cat, {"delta_kb": 0})["delta_kb"]) > 2048
    }
    lines.append(
        f"- **tfpredict against the control**: outside the heap {t['nonheap_fit_mb_per_query']:+.2f} against "
        f"{c['nonheap_fit_mb_per_query']:+.2f} MB/query ({extra:+.2f}); NMT categories other than the heap and "
        "GC that grew differently by more than 2 MB: "
        + (", ".join(f"{cat} {v:+.1f} MB" for cat, v in apart.items()) or "none")
        + f"; live heap at the end {lt / 2**20:.0f} against {lc / 2**20:.0f} MB; native growth NMT does not "
        "track, in the runs with tfpredict: "
        + ", ".join(f"{k} {a:+.0f} / {b:+.0f} MB over {n} queries" for k, (a, b) in native.items())
        + "."
    )
    te, ce = runs["tfpredict"].get("threads_at_end"), runs["control"].get("threads_at_end")
    thread_note = ""
    if te and ce:
        more = sorted(((name, te.get(name, 0) - ce.get(name, 0)) for name in {*te, *ce}), key=lambda x: -abs(x[1]))
        thread_note = (
            " (the thread names whose counts differ most at the end, tfpredict less control: "
            + ", ".join(f"`{name}` {d:+d}" for name, d in more[:3])
            + ")"
        )
    fixed = drifts.get("tfpredict-fixed-heap")
    # Growth only: a negative figure is committed memory not touched yet (a heap just grown), not a leak.
    native_flat = all(min(a, b) / n < 0.1 for a, b in native.values())
    only_threads = set(apart) <= {"Thread", "Arena Chunk"}
    if native_flat and abs(lt - lc) < 20 * 2**20 and only_threads:
        lines.append(
            "- Nothing here grows per query because of tfpredict: TensorFlow's native memory (outside NMT) does "
            "not grow, the live heap ends as the control's, and outside the heap the same categories grow in "
            "both runs (JIT code, metaspace, thread stacks). The drift is the JVM's and Spark's: G1 growing the "
            "committed heap (a step, bounded by -Xmx, whenever G1 decides), JIT code and metaspace, and thread "
            f"stacks{thread_note}."
            + (
                f" With the heap fixed (-Xms = -Xmx, pre-touched), tfpredict's drift from query {first} to {last} is "
                f"{fixed['pct']:+.1%} ({fixed['fit_mb_per_query']:+.2f} MB/query)."
                if fixed
                else ""
            )
        )
    else:
        lines.append(
            "- tfpredict's run grows in ways the control does not: see the categories above, the NMT table and "
            "the threads table."
        )
    return lines


def threads_section(runs: dict[str, dict], first: int, last: int) -> list[str]:
    """Thread names, counted at query ``first`` and at the end, per run: the groups that hold most threads."""
    kinds = [k for k in runs if runs[k].get("threads_at_end")]
    if not kinds:
        return []
    names: dict[str, int] = {}
    for k in kinds:
        for group in (runs[k]["threads_at_end"], runs[k].get("threads_at_from", {})):
            for name, count in group.items():
                names[name] = max(names.get(name, 0), count)
    shown = [name for name, count in sorted(names.items(), key=lambda kv: -kv[1]) if count >= 3]
    lines = [
        "",
        "## Threads",
        "",
        f"The driver JVM's threads by name (`/proc/<pid>/task/*/comm`, Java's names cut to 15 characters, numbers "
        f"folded into #N) after query {first} and after the last; names with at least 3 threads.",
        "",
        "| threads | " + " | ".join(f"{k} q{first} | {k} q{last}" for k in kinds) + " |",
        "|---|" + "---:|---:|" * len(kinds),
    ]
    for name in shown:
        cells = [
            f"{runs[k].get('threads_at_from', {}).get(name, 0)} | {runs[k]['threads_at_end'].get(name, 0)}"
            for k in kinds
        ]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    totals = [
        f"{sum(runs[k].get('threads_at_from', {}).values())} | {sum(runs[k]['threads_at_end'].values())}" for k in kinds
    ]
    lines.append("| all | " + " | ".join(totals) + " |")
    if any(name.startswith("block-manager") for name in shown):
        lines += [
            "",
            "`block-manager-s` and `block-manager-a` are Spark's block-manager-storage-async-thread-pool and "
            "block-manager-ask-thread-pool (Spark 4.2: `ThreadUtils.newDaemonCachedThreadPool(name, 100)`, a "
            "ThreadPoolExecutor with 100 core threads, an unbounded queue and a 60 s keep-alive): each task they get "
            "(removing a broadcast, each stage's task binary among them, once the driver's GC has collected it) "
            "starts a new thread until 100 are alive, and a thread ends after 60 s idle. Their count follows how "
            "many such removals ran in the last minute (queries and GCs per minute), and cannot pass 100 each.",
        ]
    return lines


def nmt_section(runs: dict[str, dict], first: int, last: int) -> list[str]:
    kinds = list(runs)
    names = []
    for run in runs.values():
        for name in [*run["nmt"]["diff"], *run["nmt"]["at_from"]]:
            if name not in names:
                names.append(name)
    lines = [
        "",
        "## Native memory (NMT)",
        "",
        f"`-XX:NativeMemoryTracking=summary`; `jcmd <pid> VM.native_memory baseline` after query {first}, "
        f"`summary.diff` after query {last}. Committed KB; Δ = q{last} − q{first}. NMT tracks what the JVM "
        "allocates; native code's own `malloc` (TensorFlow, JavaCPP's JNI) is outside it, hence the last row.",
        "",
        "| category | " + " | ".join(f"{k} q{first} (MB) | {k} q{last} (MB) | {k} Δ (MB)" for k in kinds) + " |",
        "|---|" + "---:|---:|---:|" * len(kinds),
    ]

    def cell(run, name):
        now = run["nmt"]["diff"].get(name)
        if not now:
            return "– | – | –"
        before = now["committed_kb"] - now["delta_kb"]
        return f"{before / 1024:.1f} | {now['committed_kb'] / 1024:.1f} | {now['delta_kb'] / 1024:+.1f}"

    for name in ["Total", *[n for n in names if n != "Total"]]:
        lines.append(f"| {name} | " + " | ".join(cell(runs[k], name) for k in kinds) + " |")
    rss, untracked, grown = [], [], []
    for k in kinds:
        run = runs[k]
        rss0 = next(r["rss_kb"] for r in run["queries"] if r["query"] == first)
        rss1 = run["queries"][-1]["rss_kb"]
        u_total, u_grown = untracked_mb(run, first)
        rss.append(f"{rss0 / 1024:.1f} | {rss1 / 1024:.1f} | {(rss1 - rss0) / 1024:+.1f}")
        untracked.append(f"| | {u_total:+.1f}")
        grown.append(f"| | {u_grown:+.1f}")
    lines.append("| VmRSS | " + " | ".join(rss) + " |")
    lines.append("| RSS Δ − NMT committed Δ (untracked native) | " + " | ".join(untracked) + " |")
    lines.append(
        "| RSS Δ − the NMT categories that grew (freed memory counted as resident) | " + " | ".join(grown) + " |"
    )
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        result = run_child(args)
        passed = argv if argv is not None else sys.argv[1:]
        result["command"] = (".venv/bin/python bench/soak.py " + " ".join(passed[: passed.index("--child")])).strip()
        result["args"] = vars(args)
        Path(args.json).write_text(json.dumps(result), encoding="utf-8")
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    runs = {}
    passed = argv if argv is not None else sys.argv[1:]
    for kind in args.runs.split(","):
        out = WORK / f"soak-{kind}.json"
        if not args.report_only:
            out.unlink(missing_ok=True)
            child = [sys.executable, str(Path(__file__).resolve()), *passed, "--child", kind, "--json", str(out)]
            subprocess.run(child, check=True)
        runs[kind] = json.loads(out.read_text(encoding="utf-8"))
    if args.report_only:
        args.queries, args.rows, args.from_query = (
            runs[next(iter(runs))]["args"][k] for k in ("queries", "rows", "from_query")
        )
        args.batch_size, args.driver_memory = (
            runs[next(iter(runs))]["args"][k] for k in ("batch_size", "driver_memory")
        )
    Path(args.out).write_text(report(args, runs), encoding="utf-8")
    for kind in runs:
        d = drift(runs[kind], args.from_query)
        print(
            f"{kind}: RSS q{args.from_query} {d['rss_from_mb']:.0f} MB -> q{args.queries} {d['rss_to_mb']:.0f} MB "
            f"({d['pct']:+.1%}, {d['fit_mb_per_query']:+.2f} MB/query)"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
