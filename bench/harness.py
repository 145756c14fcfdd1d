"""tfspark's benchmark harness: rows per second of every inference path, in one Spark session, on
the same generated data, with warm medians and ratios against the limit and the peers.

Run it with ``bench/run`` (see ``bench/run --help``); it writes ``bench/RESULTS.md``.

Paths (docs/benchmarks.md): (a) raw TF Java batched Session.run outside Spark, the limit; (b) the RDD
path; (c) the ML Transformer; (d) SQL with the extension; (e) SQL without it, row by row; (f) the
book's chapter 6-7 pattern, a session runner per row; (g) PySpark ``predict_batch_udf``; (h) a
PySpark iterator ``pandas_udf``. (e) and (f) run on a subset and are extrapolated (labelled).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

WORK = ROOT / "bench" / ".work"
MODELS = ROOT / "models"


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows for the numeric models (default: %(default)s)")
    p.add_argument(
        "--subset", type=int, default=20_000, help="rows for the row-by-row paths (e), (f) (default: %(default)s)"
    )
    p.add_argument("--runs", type=int, default=3, help="timed runs per path after one warm-up (default: %(default)s)")
    p.add_argument(
        "--batch-size", type=int, default=4096, help="rows per Session.run / Arrow batch (default: %(default)s)"
    )
    p.add_argument(
        "--soak-rows",
        type=int,
        default=10_000_000,
        help="rows of the one-query SQL soak, 0 to skip; bench/soak.py is the many-query one (default: %(default)s)",
    )
    p.add_argument("--models", default="linear,mlp,titanic,imdb,cifar2", help="comma-separated (default: %(default)s)")
    p.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"), help="the report (default: %(default)s)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one run: checks that every path works")
    args = p.parse_args(argv)
    if args.smoke:
        args.rows, args.subset, args.runs, args.soak_rows = 3000, 300, 1, 20_000
    return args


def model_repository() -> Path:
    """``bench/.work/models``: the generated MLP, and the committed models through links.

    One repository for the whole run (it is fixed when the session starts); bench/soak.py uses it too.
    """
    from mlp_model import export_mlp

    repo = WORK / "models"
    export_mlp(repo)
    for name in ("linear", "titanic", "imdb", "cifar2"):
        (repo / name).exists() or (repo / name).symlink_to(MODELS / name)
    return repo


def jvm_rss_kb(spark) -> tuple[int, int]:
    """(VmRSS, VmHWM) of the driver JVM in KiB."""
    pid = spark._jvm.java.lang.ProcessHandle.current().pid()
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def python_workers_hwm_kb() -> int:
    """The largest VmHWM among live pyspark Python workers (the peers' model copies live there)."""
    best = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
            if b"pyspark" in cmd and (b"daemon" in cmd or b"worker" in cmd):
                for line in (proc / "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        best = max(best, int(line.split()[1]))
        except OSError:
            continue
    return best


def timed(run: Callable[[], object], runs: int) -> float:
    """Median seconds of ``runs`` calls after one warm-up call."""
    run()
    return statistics.median(_seconds(run) for _ in range(runs))


def _seconds(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def noop(df) -> None:
    """Runs the whole plan and discards the rows (a fresh plan each call: no reused shuffle)."""
    df.write.format("noop").mode("overwrite").save()


class Bench:
    def __init__(self, spark, args) -> None:
        self.spark, self.args = spark, args
        self.rows: list[dict] = []

    def record(self, model: str, path: str, rows: int, seconds: float, note: str = "") -> None:
        rss, hwm = jvm_rss_kb(self.spark)
        self.rows.append(
            {
                "model": model,
                "path": path,
                "rows": rows,
                "rows_per_s": rows / seconds if seconds > 0 else float("nan"),
                "note": note,
                "jvm_hwm_mb": hwm // 1024,
                "py_worker_hwm_mb": python_workers_hwm_kb() // 1024,
            }
        )
        print(f"  {model:8s} {path:34s} {rows / seconds:12,.0f} rows/s  {note}", flush=True)

    def rate(self, model: str, path: str) -> float | None:
        for r in self.rows:
            if r["model"] == model and r["path"].startswith(path):
                return r["rows_per_s"]
        return None


def java_strings(spark, values: list[str]):
    """A Java ``String[]`` for py4j calls that take command-line arguments."""
    array = spark.sparkContext._gateway.new_array(spark._jvm.java.lang.String, len(values))
    for i, v in enumerate(values):
        array[i] = v
    return array


def bench_batch_score(b: Bench, model: str, df, rows: int, extra: list[str], keep_features: bool = True) -> None:
    """(i) BatchScore from Parquet to Parquet in this session (JVM start-up excluded).

    With ``keep_features=False`` it is (i2): the same job with ``--drop features``, so the output is
    the prediction alone and Parquet's encoding of the 64-float pass-through array is not timed.
    """
    spark, a = b.spark, b.args
    source, target = WORK / f"{model}-input.parquet", WORK / f"{model}-scored"
    if keep_features:
        df.write.mode("overwrite").parquet(str(source))
    args = ["--model", model, "--input", str(source), "--output", str(target), "--overwrite"]
    args += ["--batch-size", str(a.batch_size), *extra]
    if not keep_features:
        args += ["--drop", "features"]
    jargs = java_strings(spark, args)
    b.record(
        model,
        "(i) BatchScore Parquet to Parquet" if keep_features else "(i2) BatchScore, prediction only",
        rows,
        timed(lambda: spark._jvm.tfspark.bench.BenchPaths.batchScore(spark._jsparkSession, jargs), a.runs),
        "in one session: JVM start-up excluded; writes, then counts what it wrote"
        if keep_features
        else "as (i) with --drop features: the output is the prediction alone",
    )


def numeric_frame(spark, rows: int, width: int):
    cols = ", ".join(f"CAST(rand({i}) * 20 - 10 AS FLOAT)" for i in range(width))
    df = spark.range(rows).selectExpr(f"array({cols}) AS features").repartition(2).cache()
    df.count()
    return df


def bench_numeric(b: Bench, model: str, repo: Path, width: int) -> None:
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import FloatType

    from tfspark import TFModelTransformer

    spark, a = b.spark, b.args
    export_dir = str(repo / model / "1")
    df = numeric_frame(spark, a.rows, width)
    subset = df.limit(a.subset).cache()
    subset.count()
    b.record(
        model,
        "(a) raw TF Java Session.run",
        a.rows,
        a.rows / spark._jvm.tfspark.bench.BenchPaths.rawSessionRun(export_dir, a.rows, width, a.batch_size),
        "1 thread, outside Spark",
    )
    # The fixed cost of one Session.run, which bounds every row-by-row path ((e) and (f)).
    b.record(
        model,
        "(a1) raw TF Java Session.run, 1 row",
        a.subset,
        a.subset / spark._jvm.tfspark.bench.BenchPaths.rawSessionRun(export_dir, a.subset, width, 1),
        "1 thread, batch of one: the per-call overhead",
    )
    arrays = spark._jvm.tfspark.bench.BenchPaths.cachedArrays(df._jdf, "features")  # RDD[Array[Float]], cached
    b.record(
        model,
        "(b) RDD batched",
        a.rows,
        timed(lambda: spark._jvm.tfspark.bench.BenchPaths.rdd(arrays, str(repo), model, a.batch_size), a.runs),
        "from a cached RDD[Array[Float]]",
    )
    scorer = TFModelTransformer(model=model, repository=str(repo), batchSize=a.batch_size)
    b.record(model, "(c) Transformer", a.rows, timed(lambda: noop(scorer.transform(df)), a.runs), "all columns out")
    b.record(
        model,
        "(c2) Transformer, prediction only",
        a.rows,
        timed(lambda: noop(scorer.transform(df).select("prediction")), a.runs),
        "the same output as (d): no 64-float pass-through column",
    )
    b.record(
        model,
        "(d) SQL with the extension",
        a.rows,
        timed(lambda: noop(df.selectExpr(f"tfpredict('{model}', features) AS p")), a.runs),
    )
    bench_batch_score(b, model, df, a.rows, [])
    bench_batch_score(b, model, df, a.rows, [], keep_features=False)
    spark.conf.set("spark.tfpredict.batchedSql", "false")
    try:
        b.record(
            model,
            "(e) SQL without the extension",
            a.subset,
            timed(lambda: noop(subset.selectExpr(f"tfpredict('{model}', features) AS p")), a.runs),
            f"row by row; {a.subset:,} rows, extrapolated",
        )
    finally:
        spark.conf.unset("spark.tfpredict.batchedSql")
    spark._jvm.tfspark.bench.BenchPaths.registerChapter67Udf(spark._jsparkSession, str(repo), model)
    b.record(
        model,
        "(f) book chapter 6-7, runner per row",
        a.subset,
        timed(lambda: noop(subset.selectExpr("book_predict(features) AS p")), a.runs),
        f"{a.subset:,} rows, extrapolated",
    )

    def make_predict_fn():
        import tensorflow as tf

        fn = tf.saved_model.load(export_dir).signatures["serving_default"]
        return lambda x: fn(features=tf.constant(x, tf.float32))["prediction"].numpy().reshape(-1)

    peer = predict_batch_udf(
        make_predict_fn, return_type=FloatType(), batch_size=a.batch_size, input_tensor_shapes=[[width]]
    )
    b.record(model, "(g) PySpark predict_batch_udf", a.rows, timed(lambda: noop(df.select(peer("features"))), a.runs))

    @pandas_udf("float")
    def iterator_udf(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        import numpy as np
        import pandas as pd
        import tensorflow as tf

        fn = tf.saved_model.load(export_dir).signatures["serving_default"]
        for s in batches:
            x = np.stack(s.to_numpy()).astype(np.float32)
            yield pd.Series(fn(features=tf.constant(x))["prediction"].numpy().reshape(-1))

    b.record(
        model,
        "(h) PySpark iterator pandas_udf",
        a.rows,
        timed(lambda: noop(df.select(iterator_udf("features"))), a.runs),
    )
    df.unpersist()
    arrays.unpersist(False)
    subset.unpersist()


def bench_raw_data(b: Bench, model: str) -> None:
    """Titanic raw columns, IMDB text, CIFAR2 JPEG bytes: the JVM paths and the iterator pandas_udf peer."""
    from pyspark.sql.functions import pandas_udf

    from python_trainer.data_dir import resolve_data_file
    from tfspark import TFModelTransformer

    spark, a = b.spark, b.args
    export_dir = str(MODELS / model / "1")
    if model == "titanic":
        base = spark.read.csv(str(resolve_data_file("titanic/test.csv")), header=True, inferSchema=True)
        copies = max(1, (a.rows // 5) // 179)
        df = base.crossJoin(spark.range(copies).withColumnRenamed("id", "copy")).repartition(2).cache()
        arg, out = "struct(*)", "probability"
        spark.conf.set("spark.tfpredict.nullPolicy", "fill")
    elif model == "imdb":
        text = spark.read.csv(
            str(resolve_data_file("imdb/imdb_full_50k.csv.gz")), header=True, multiLine=True, escape='"'
        )
        n = 25_000 if not a.smoke else 500
        df = text.where("split = 'test'").selectExpr("text AS review").limit(n).repartition(2).cache()
        arg, out = "review", None
    else:
        n = 2000 if not a.smoke else 100
        files = str(resolve_data_file("cifar2/test")) + "/*/*.jpg"
        df = (
            spark.read.format("binaryFile")
            .load(files)
            .selectExpr("content AS image_bytes")
            .limit(n)
            .repartition(2)
            .cache()
        )
        arg, out = "image_bytes", "probability"
    rows = df.count()
    try:
        if model == "titanic":
            jvm = spark._jvm.tfspark.bench.BenchPaths
            b.record(
                model,
                "(a) raw TF Java Session.run",
                rows,
                rows / jvm.titanicRaw(export_dir, df._jdf, a.batch_size),
                "1 thread, outside Spark, the same raw columns",
            )
            repository = spark.conf.get("spark.tfpredict.repository")
            b.record(
                model,
                "(b) RDD batched (maps)",
                rows,
                timed(lambda: jvm.titanicRdd(df._jdf, repository, a.batch_size), a.runs),
            )
        sql = f"tfpredict('{model}', {arg})" + (f".{out}" if out and model != "cifar2" else "")
        if model == "cifar2":
            sql = f"tfpredict('{model}', {arg}).probability"
        b.record(model, "(d) SQL with the extension", rows, timed(lambda: noop(df.selectExpr(f"{sql} AS p")), a.runs))
        scorer = TFModelTransformer(
            model=model, batchSize=a.batch_size, nullPolicy="fill" if model == "titanic" else "error"
        )
        b.record(model, "(c) Transformer", rows, timed(lambda: noop(scorer.transform(df)), a.runs), "all columns out")
        if model == "titanic":
            b.record(
                model,
                "(c2) Transformer, prediction only",
                rows,
                timed(lambda: noop(scorer.transform(df).selectExpr(f"prediction.{out} AS p")), a.runs),
                "the same output as (d)",
            )
            bench_batch_score(b, model, df, rows, ["--null-policy", "fill"])
        columns = df.columns

        @pandas_udf("float")
        def iterator_udf(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
            import numpy as np
            import pandas as pd
            import tensorflow as tf

            fn = tf.saved_model.load(export_dir).signatures["serving_default"]
            for frame in batches:
                if model == "titanic":
                    cols = {
                        "pclass": ("Pclass", np.int64),
                        "name": ("Name", object),
                        "sex": ("Sex", object),
                        "age": ("Age", np.float32),
                        "sibsp": ("SibSp", np.int64),
                        "parch": ("Parch", np.int64),
                        "fare": ("Fare", np.float32),
                        "cabin": ("Cabin", object),
                        "embarked": ("Embarked", object),
                    }
                    feed = {}
                    for key, (col, dtype) in cols.items():
                        s = frame[col]
                        if dtype is object:
                            feed[key] = tf.constant(s.fillna("").astype(str).to_numpy())
                        else:
                            feed[key] = tf.constant(s.fillna(np.nan if dtype == np.float32 else 0).to_numpy(dtype))
                    p = fn(**feed)["probability"]
                elif model == "imdb":
                    p = fn(review=tf.constant(frame.to_numpy().astype(str)))["probability"]
                else:
                    p = fn(image_bytes=tf.constant(list(frame)))["probability"]
                yield pd.Series(p.numpy().reshape(-1))

        from pyspark.sql.functions import col, struct

        udf_arg = struct(*[col(c) for c in columns]) if model == "titanic" else col(columns[0])
        b.record(
            model,
            "(h) PySpark iterator pandas_udf",
            rows,
            timed(lambda: noop(df.select(iterator_udf(udf_arg))), a.runs),
        )
    finally:
        spark.conf.unset("spark.tfpredict.nullPolicy")
        df.unpersist()


def soak(b: Bench) -> dict:
    """SQL with the extension over ``soak_rows`` generated rows (MLP); JVM RSS after warm-up and at the end.

    One long query. The long-lived-session soak (many queries, two models, RSS after each, a control
    and native memory tracking) is bench/soak.py.
    """
    spark, a = b.spark, b.args
    # Deterministic features (hash of the row id): a call with a non-deterministic argument such as
    # rand() is not extracted by the rule and would run row by row.
    cols = ", ".join(f"CAST(hash(id, {i}) % 1000 / 100.0 AS FLOAT)" for i in range(64))

    def run(n):
        noop(spark.range(n, numPartitions=2).selectExpr(f"tfpredict('mlp', array({cols})) AS p"))

    run(max(1, a.soak_rows // 10))
    after_warmup = jvm_rss_kb(spark)[0]
    start = time.perf_counter()
    run(a.soak_rows)
    seconds = time.perf_counter() - start
    end = jvm_rss_kb(spark)[0]
    result = {
        "rows": a.soak_rows,
        "seconds": seconds,
        "rss_after_warmup_mb": after_warmup // 1024,
        "rss_end_mb": end // 1024,
        "growth": end / after_warmup - 1,
    }
    print(
        f"  soak: {a.soak_rows:,} rows in {seconds:.1f} s; JVM RSS {after_warmup // 1024} MB -> {end // 1024} MB "
        f"({result['growth']:+.1%})",
        flush=True,
    )
    return result


def machine() -> str:
    """Cores, CPU model and memory of this machine."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_gb = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB"


def report(b: Bench, soak_result: dict | None, command: str) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    lines = [
        "# Benchmark results",
        "",
        f"- commit: `{commit}`{' (with uncommitted changes)' if dirty else ''}",
        f"- machine: {machine()}; Spark local[2], TF 2.18 (Java 1.1.0 / Python 2.18.1)",
        f"- command: `{command}`",
        f"- method: median of {b.args.runs} timed runs after one warm-up, the same generated data for every "
        f"path of a model, batch size {b.args.batch_size} for every batched path; (e) and (f) on "
        f"{b.args.subset:,} rows, extrapolated as rates",
        "",
        "| model | path | rows | rows/s | driver JVM peak RSS (MB) | Python worker peak RSS (MB) | note |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in b.rows:
        lines.append(
            f"| {r['model']} | {r['path']} | {r['rows']:,} | {r['rows_per_s']:,.0f} | {r['jvm_hwm_mb']} | "
            f"{r['py_worker_hwm_mb']} | {r['note']} |"
        )
    lines += ["", "## Ratios", "", "| ratio | model | value | target |", "|---|---|---:|---:|"]

    def ratio(label, model, num, den, target):
        x, y = b.rate(model, num), b.rate(model, den)
        if x and y:
            lines.append(f"| {label} | {model} | {x / y:.2f} | {target} |")

    for model in ("mlp", "linear", "titanic"):
        for path in ("(b)", "(c)", "(c2)", "(d)", "(i)", "(i2)"):
            target = "≥ 0.9" if (model, path) == ("mlp", "(d)") else "≥ 0.85" if model == "mlp" else ""
            ratio(f"{path} / (a) raw TF Java", model, path, "(a)", target)
    for model in ("mlp", "linear"):
        ratio("(d) SQL ext / (g) predict_batch_udf", model, "(d)", "(g)", "≥ 2.8" if model == "mlp" else "≥ 5")
        ratio("(d) SQL ext / (h) pandas_udf", model, "(d)", "(h)", "")
        ratio("(d) SQL ext / (b) RDD", model, "(d)", "(b)", "")
        ratio("(e) SQL row by row / (f) book 6-7", model, "(e)", "(f)", "≥ 20")
        ratio("(f) book 6-7 / (a1) one Session.run per row", model, "(f)", "(a1)", "")
    for model in ("titanic", "imdb", "cifar2"):
        ratio("(d) SQL ext / (h) pandas_udf", model, "(d)", "(h)", "≥ 2.5" if model == "titanic" else "")
    ratio("(c) Transformer / (d) SQL ext", "titanic", "(c)", "(d)", "")
    ratio("(c2) Transformer, same output / (d) SQL ext", "titanic", "(c2)", "(d)", "≈ 1 (within noise)")
    if soak_result:
        lines += [
            "",
            "## Soak",
            "",
            f"{soak_result['rows']:,} rows of the MLP through SQL with the extension in "
            f"{soak_result['seconds']:.1f} s: "
            f"driver JVM RSS {soak_result['rss_after_warmup_mb']} MB after warm-up, {soak_result['rss_end_mb']} MB at "
            f"the end ({soak_result['growth']:+.1%}; the bar is < 5%).",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    from tfspark import configure_spark_with_tfspark
    from tfspark.jars import CHECKOUT_DIST

    repo = model_repository()

    # The cached inputs (1 M rows of 64 floats) and BatchScore's Parquet reads share the driver's heap.
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--driver-memory 6g pyspark-shell")

    builder = SparkSession.builder.master("local[2]").appName("tfspark-bench")
    spark = configure_spark_with_tfspark(
        builder.config("spark.tfpredict.batchSize", str(args.batch_size)),
        repository=repo,
        extra_jars=(CHECKOUT_DIST / "tfspark-extras.jar",),  # tfspark.bench.BenchPaths: not in the production jar
    ).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(args.batch_size))
    b = Bench(spark, args)
    models = args.models.split(",")
    print(f"bench: {args.rows:,} rows, {args.runs} runs, batch {args.batch_size}", flush=True)
    for model, width in (("linear", 2), ("mlp", 64)):
        if model in models:
            bench_numeric(b, model, repo, width)
    for model in ("titanic", "imdb", "cifar2"):
        if model in models:
            bench_raw_data(b, model)
    soak_result = soak(b) if args.soak_rows and "mlp" in models else None
    command = "bench/run " + " ".join(argv if argv is not None else sys.argv[1:])
    Path(args.out).write_text(report(b, soak_result, command.strip()), encoding="utf-8")
    print(f"wrote {args.out}; Python driver peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
