package tfspark.jobs

import java.io.{ByteArrayOutputStream, File, PrintStream}
import java.nio.file.Files

import io.delta.tables.DeltaTable
import org.apache.spark.sql.functions.col
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TestModels}
import tfspark.conf.Precision

/**
 * BatchScore into and out of Delta Lake (`--output-format delta`, `--output-table`, `--input-table`,
 * a Delta folder as `--input`): one commit per run, the modes, a run written once (Delta's
 * `txnAppId`/`txnVersion`), and the errors of a missing Delta or a bad option.
 */
class DeltaOutputSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private lazy val warehouse = TestModels.tempDir("delta-warehouse")

  override protected def extraConf: Map[String, String] = Map(
    "spark.sql.extensions" -> s"tfspark.sql.TFSparkExtensions,${DeltaSupport.Extension}",
    DeltaSupport.CatalogKey -> DeltaSupport.Catalog,
    "spark.sql.warehouse.dir" -> warehouse.getPath
  )

  private def writeCsv(dir: File, name: String, rows: Range): File = {
    dir.mkdirs()
    val f = new File(dir, name)
    val lines = "id,x1,x2" +: rows.map(i => s"$i,${i * 0.5},${-i * 0.25}")
    Files.write(f.toPath, lines.mkString("", "\n", "\n").getBytes("UTF-8"))
    f
  }

  private def args(input: File, output: File, more: String*): Seq[String] =
    Seq("--model", "linear", "--repository", TestModels.modelsDir.getPath, "--input", input.getPath, "--features", "x1,x2") ++
      Seq("--output", output.getPath, "--output-format", "delta") ++ more

  private def run(args: Seq[String]): BatchScore.Summary = BatchScore.run(spark, BatchScoreOptions.parse(args))

  /** The commit files of the table at `dir`: one per commit. */
  private def commits(dir: File): Seq[String] =
    Option(new File(dir, "_delta_log").listFiles()).toSeq.flatten.map(_.getName).filter(_.endsWith(".json")).sorted

  private def rows(dir: File): Long = spark.read.format("delta").load(dir.getPath).count()

  /** Runs `exitCode` and returns it with what it printed on stdout and stderr. */
  private def exitCodeAndOutput(args: Seq[String]): (Int, String, String) = {
    val (out, err) = (new ByteArrayOutputStream(), new ByteArrayOutputStream())
    val saved = System.err
    System.setErr(new PrintStream(err, true, "UTF-8"))
    val code =
      try Console.withOut(new PrintStream(out, true, "UTF-8"))(BatchScore.exitCode(args.toArray))
      finally System.setErr(saved)
    (code, out.toString("UTF-8"), err.toString("UTF-8"))
  }

  test("a new table: the rows written are the scored rows, in one commit that names the run") {
    val dir = TestModels.tempDir("delta-new")
    val input = writeCsv(dir, "a.csv", 1 to 50)
    val out = new File(dir, "scored")
    val options = BatchScoreOptions.parse(args(input, out))
    val summary = BatchScore.run(spark, options)
    assert(summary.rows === 50 && summary.failedRows === 0 && summary.skipped.isEmpty)
    assert(summary.line.startsWith("BatchScore: scored 50 rows in ") && summary.line.endsWith(s"-> ${out.getPath} (delta, version 0)"))
    assert(summary.phases.all.map(_._1).contains(BatchScore.Phase.DeltaCheck))
    assert(!summary.phases.all.map(_._1).contains(BatchScore.Phase.Recovery), "no rename-based commit for Delta")
    val expected = BatchScore.plan(spark, options)._1.select("id", "prediction").collect().toSet
    val written = spark.read.format("delta").load(out.getPath)
    assert(written.select("id", "prediction").collect().toSet === expected)
    assert(written.count() === 50)
    assert(commits(out) === Seq("00000000000000000000.json"))
    val history = DeltaTable.forPath(spark, out.getPath).history().select("version", "operation", "userMetadata").collect()
    assert(history.length === 1)
    assert(history.head.getString(1) === "WRITE")
    assert(history.head.getString(2).matches("tfspark BatchScore run tfspark-batchscore-[0-9a-f]{32}"), history.head)
    assert(dir.list().toSet === Set("a.csv", "scored"), "nothing beside the table")
  }

  test("--append adds one commit per run; the same run again adds nothing and says so") {
    val dir = TestModels.tempDir("delta-append")
    val first = writeCsv(dir, "a.csv", 1 to 50)
    val second = writeCsv(new File(dir, "day2"), "b.csv", 51 to 75)
    val out = new File(dir, "scored")
    assert(run(args(first, out)).rows === 50)
    val appended = run(args(second, out, "--append"))
    assert(appended.rows === 25 && appended.format === "delta, version 1")
    assert(rows(out) === 75 && commits(out).size === 2)
    // A retry of either run (after a kill once its commit was made, say): nothing written, one line says why.
    for ((again, what) <- Seq(args(second, out, "--append") -> "the append", args(first, out) -> "the first run")) {
      val (code, stdout, _) = exitCodeAndOutput(again)
      assert(code === 0, what)
      assert(stdout.contains("already holds this run's commit (version ") && stdout.contains("nothing written"), s"$what: $stdout")
      assert(!stdout.contains("BatchScore: scored"), s"$what: $stdout")
      assert(rows(out) === 75 && commits(out).size === 2, what)
    }
    // The same files under another --run-id are a new run.
    assert(run(args(second, out, "--append", "--run-id", "day2-rescored")).rows === 25)
    assert(rows(out) === 100 && commits(out).size === 3)
  }

  test("--run-id: a table that has committed the id is not written again, by BatchScore's check or Delta's") {
    val dir = TestModels.tempDir("delta-runid")
    val input = writeCsv(dir, "a.csv", 1 to 20)
    val out = new File(dir, "scored")
    assert(run(args(input, out, "--run-id", "r1")).rows === 20)
    val again = run(args(input, out, "--append", "--run-id", "r1"))
    assert(again.skipped.exists(_.contains("version 0, txnAppId tfspark-batchscore-r1")), again.line)
    assert(again.skipped.exists(_.contains("another --run-id writes again")), again.line)
    assert(run(args(input, out, "--append", "--run-id", "r2")).rows === 20)
    assert(rows(out) === 40 && commits(out).size === 2)
    // A commit of the id that BatchScore's history check cannot see (no userMetadata: as if the
    // history had been cleaned up): Delta's own txnAppId/txnVersion check skips the write.
    spark.read
      .format("delta")
      .load(out.getPath)
      .limit(1)
      .write
      .format("delta")
      .mode("append")
      .option("txnAppId", DeltaOutput.appId("r3"))
      .option("txnVersion", "1")
      .save(out.getPath)
    assert(rows(out) === 41 && commits(out).size === 3)
    val skipped = run(args(input, out, "--append", "--run-id", "r3"))
    assert(skipped.skipped.exists(_.startsWith("Delta skipped the write: ")), skipped.line)
    assert(skipped.rows === 0 && rows(out) === 41 && commits(out).size === 3, "no new commit")
  }

  test("the summary counts the commit's rows: Delta's metrics, or the versions read back (metrics off, --on-error null)") {
    val dir = TestModels.tempDir("delta-counts")
    def csv(name: String, values: Seq[String]): File = {
      val f = new File(dir, name)
      Files.write(f.toPath, ("id,x1,x2" +: values).mkString("", "\n", "\n").getBytes("UTF-8"))
      f
    }
    val out = new File(dir, "scored")
    val withNulls = csv("a.csv", (1 to 10).map(i => if (i == 3 || i == 7) s"$i,,1.0" else s"$i,$i,1.0"))
    val first = run(args(withNulls, out, "--on-error", "null"))
    assert(first.rows === 10 && first.failedRows === 2, first.line)
    val metrics = "spark.databricks.delta.history.metricsEnabled"
    spark.conf.set(metrics, "false")
    try {
      val second =
        run(args(csv("b.csv", (11 to 15).map(i => if (i == 12) s"$i,,1.0" else s"$i,$i,1.0")), out, "--append", "--on-error", "null"))
      assert(second.rows === 5 && second.failedRows === 1, second.line)
      val third = run(args(csv("c.csv", (16 to 19).map(i => s"$i,$i,1.0")), out, "--append"))
      assert(third.rows === 4 && third.failedRows === 0, third.line)
    } finally spark.conf.unset(metrics)
    assert(rows(out) === 19 && commits(out).size === 3)
  }

  test("--overwrite replaces the table's rows in one commit; the old version stays readable") {
    val dir = TestModels.tempDir("delta-overwrite")
    val out = new File(dir, "scored")
    assert(run(args(writeCsv(dir, "a.csv", 1 to 50), out)).rows === 50)
    val replaced = run(args(writeCsv(new File(dir, "new"), "b.csv", 101 to 125), out, "--overwrite"))
    assert(replaced.rows === 25 && replaced.format === "delta, version 1")
    assert(spark.read.format("delta").load(out.getPath).select("id").collect().map(_.getInt(0)).sorted.toSeq === (101 to 125))
    assert(spark.read.format("delta").option("versionAsOf", 0).load(out.getPath).count() === 50)
    assert(commits(out).size === 2)
  }

  test("an existing table without --append or --overwrite, and a path with other data, are refused (exit 2)") {
    val dir = TestModels.tempDir("delta-exists")
    val out = new File(dir, "scored")
    assert(run(args(writeCsv(dir, "a.csv", 1 to 10), out)).rows === 10)
    val other = writeCsv(new File(dir, "new"), "b.csv", 11 to 20)
    checkError("INVALID_ARGUMENT", Map("what" -> "--output", "got" -> s"'${out.getPath}' (it exists)")) { run(args(other, out)) }
    val (code, _, err) = exitCodeAndOutput(args(other, out))
    assert(code === 2 && err.contains("[INVALID_ARGUMENT]") && err.contains("--append or --overwrite"), err)
    assert(commits(out).size === 1)
    // A Parquet output is not a table to add a Delta log to, even with --overwrite.
    val parquet = new File(dir, "parquet")
    spark.range(3).write.parquet(parquet.getPath)
    val e = checkError("INVALID_ARGUMENT", Map("what" -> "--output")) { run(args(other, parquet, "--overwrite")) }
    assert(e.getMessage.contains("is not a Delta table: _SUCCESS"), e.getMessage)
    assert(!new File(parquet, "_delta_log").exists())
    // An input without files (--allow-empty) has no columns to create a table with: nothing is written, and the summary says so.
    val none = new File(dir, "none") { mkdirs() }
    val empty = run(args(none, new File(dir, "empty")) ++ Seq("--input-format", "csv", "--allow-empty"))
    assert(empty.skipped.exists(_.startsWith("the input has no files (--allow-empty): nothing written to ")), empty.line)
    assert(!new File(dir, "empty").exists())
  }

  test("Delta input: a folder with _delta_log/ is read as Delta, not as its Parquet files; --input-table; --output-table") {
    val dir = TestModels.tempDir("delta-input")
    val features = new File(dir, "features")
    val session = spark
    import session.implicits._
    (1 to 30).map(i => (i, i * 0.5f, -i * 0.25f)).toDF("id", "x1", "x2").repartition(3).write.format("delta").save(features.getPath)
    DeltaTable.forPath(spark, features.getPath).delete(col("id") > 20) // rewrites files; the old ones stay on disk
    assert(spark.read.parquet(features.getPath).count() > 20, "read as Parquet, the folder has more rows than the table")
    val options = BatchScoreOptions.parse(
      Seq("--model", "linear", "--repository", TestModels.modelsDir.getPath, "--input", features.getPath, "--features", "x1,x2") ++
        Seq("--output", new File(dir, "scored").getPath)
    )
    assert(options.inputFormat === "delta")
    assert(BatchScore.run(spark, options).rows === 20)
    // Tables of the session's catalog, in and out.
    spark.read.format("delta").load(features.getPath).write.format("delta").saveAsTable("features_in")
    val tables = Seq("--model", "linear", "--repository", TestModels.modelsDir.getPath, "--features", "x1,x2") ++
      Seq("--input-table", "features_in", "--output-table", "scored_out")
    val summary = run(tables)
    assert(summary.rows === 20 && summary.line.endsWith("-> scored_out (delta, version 0)"), summary.line)
    assert(spark.table("scored_out").count() === 20)
    // The new table got the run's settings from the session, for that write only: none is left
    // there, and none became a property of the table (writer options of saveAsTable would).
    val runSettings = Seq("write.txnAppId", "write.txnVersion", "commitInfo.userMetadata").map("spark.databricks.delta." + _)
    assert(runSettings.forall(k => !spark.conf.getAll.contains(k)), spark.conf.getAll.keys)
    val properties = spark.sql("SHOW TBLPROPERTIES scored_out").collect().map(_.getString(0))
    assert(!properties.exists(p => p.contains("txn") || p.contains("userMetadata")), properties.toSeq)
    assert(run(tables).skipped.exists(_.startsWith("table scored_out already holds this run's commit")))
    assert(run(tables :+ "--append").skipped.isDefined && spark.table("scored_out").count() === 20)
    checkError("INVALID_ARGUMENT", Map("what" -> "--output-table")) {
      run(Seq("--model", "linear", "--input-table", "features_in", "--output-table", "FEATURES_IN"))
    }
  }

  test("bad Delta options are usage errors, before Spark starts") {
    val base = Seq("--model", "linear", "--input", "in.csv")
    val cases = Seq(
      Seq("--output", "o", "--append") -> "--append",
      Seq("--output", "o", "--output-format", "csv", "--run-id", "r") -> "--run-id",
      Seq("--output", "o", "--output-format", "delta", "--append", "--overwrite") -> "--append",
      Seq("--output", "o", "--output-format", "delta", "--run-id", "a b") -> "--run-id",
      Seq("--output-table", "t", "--output-format", "parquet") -> "--output-format",
      Seq("--output", "o", "--output-table", "t") -> "--output-table",
      Seq("--output-table", "") -> "--output-table"
    )
    for ((more, what) <- cases) {
      checkError("INVALID_ARGUMENT", Map("what" -> what))(BatchScoreOptions.parse(base ++ more))
      assert(BatchScore.exitCode((base ++ more).toArray) === 2, more)
    }
    checkError("INVALID_ARGUMENT", Map("what" -> "--input-format")) {
      BatchScoreOptions.parse(Seq("--model", "linear", "--input-table", "t", "--input-format", "csv", "--output", "o"))
    }
    checkError("INVALID_ARGUMENT", Map("what" -> "--recursive")) {
      BatchScoreOptions.parse(Seq("--model", "linear", "--input", "t", "--input-format", "delta", "--recursive", "--output", "o"))
    }
    assert(BatchScoreOptions.parse(Seq("--model", "linear", "--input", "in.csv", "--output-table", "t")).outputFormat === "delta")
    // Spark's format names are case-insensitive: DELTA takes the Delta route, never the rename-based one.
    val upper = BatchScoreOptions.parse(base ++ Seq("--output", "o", "--output-format", "DELTA", "--input-format", "Delta", "--append"))
    assert(upper.outputFormat === "delta" && upper.inputFormat === "delta" && upper.append)
    Seq("--output-table NAME", "--input-table NAME", "--append", "--run-id ID", "io.delta:delta-spark_2.13:4.4.0").foreach { o =>
      assert(BatchScoreOptions.Usage.contains(o), o)
    }
  }

  test("a missing Delta jar or session setting is DELTA_NOT_AVAILABLE, naming the fix") {
    val noDelta = new ClassLoader(ClassLoader.getPlatformClassLoader) {}
    val e = checkError("DELTA_NOT_AVAILABLE", Map("what" -> "--output-format delta", "version" -> "4.4.0")) {
      DeltaSupport.requireClasses("--output-format delta", noDelta)
    }
    Seq("--packages io.delta:delta-spark_2.13:4.4.0", "io.delta.tables.DeltaTable", DeltaSupport.Catalog, DeltaSupport.Extension).foreach {
      s =>
        assert(e.getMessage.contains(s), e.getMessage)
    }
    // spark-submit without --packages: exit 1, one line, before Spark starts.
    val dir = TestModels.tempDir("delta-missing")
    val thread = Thread.currentThread()
    val saved = thread.getContextClassLoader
    thread.setContextClassLoader(noDelta)
    val (code, _, err) =
      try exitCodeAndOutput(args(writeCsv(dir, "a.csv", 1 to 3), new File(dir, "o")))
      finally thread.setContextClassLoader(saved)
    assert(code === 1 && err.contains("BatchScore failed: [DELTA_NOT_AVAILABLE] --output-format delta needs Delta Lake"), err)
    assert(dir.list().toSet === Set("a.csv"))
    // A session of one's own without Delta's catalog.
    val bare = spark.newSession()
    bare.conf.unset(DeltaSupport.CatalogKey)
    checkError("DELTA_NOT_AVAILABLE", Map("what" -> "--input-format delta")) {
      DeltaSupport.requireSession("--input-format delta", bare)
    }
    assert(
      DeltaSupport.sessionSettings(new org.apache.spark.SparkConf(false), "a.B")._1 === Map(
        "spark.sql.extensions" -> s"a.B,${DeltaSupport.Extension}",
        DeltaSupport.CatalogKey -> DeltaSupport.Catalog
      )
    )
    assert(
      DeltaSupport
        .sessionSettings(new org.apache.spark.SparkConf(false).set(DeltaSupport.CatalogKey, "x.Y"), DeltaSupport.Extension)
        ._1
        .isEmpty
    )
  }

  test("BatchScore into Delta: a bfloat16 run is another run than the same run in float32, whose identity is unchanged") {
    val options =
      BatchScoreOptions.parse(Seq("--model", "linear", "--input", "/data/in.csv", "--output", "/data/out", "--output-format", "delta"))
    def runId(o: BatchScoreOptions) =
      DeltaOutput.derivedRunId(o, "linear/1", "ab" * 32, Nil, new org.apache.hadoop.conf.Configuration())
    val low = options.copy(precision = Precision.BFloat16(Precision.DefaultMaxDeviation))
    assert(runId(low) !== runId(options), "a retry in the other precision must not count as this run")
    assert(runId(low) === runId(options.copy(precision = Precision.BFloat16(0.5))), "the limit does not change the rows written")
    // The float32 identity as it was before precisions existed (the text DeltaOutput hashed then).
    val before = Seq(
      "tfspark BatchScore run 1",
      s"model linear linear/1 ${"ab" * 32}",
      "input csv file:/data/in.csv 0 files",
      "features ",
      "input-map ",
      "drop ",
      s"null-policy ${options.nullPolicy} on-error ${options.onError} id-col ",
      "prediction-col prediction binary-outputs ",
      "output file:/data/out"
    ).mkString("\n")
    val digest = java.security.MessageDigest.getInstance("SHA-256").digest(before.getBytes("UTF-8")).map("%02x".format(_)).mkString.take(32)
    assert(runId(options) === digest)
  }
}
