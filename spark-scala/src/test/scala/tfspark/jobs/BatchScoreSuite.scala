package tfspark.jobs

import java.io.{ByteArrayOutputStream, File, PrintStream}
import java.nio.file.Files

import scala.jdk.CollectionConverters._

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileSystem, Path}

import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TFInference, TestModels}
import tfspark.model.ModelRepository

class BatchScoreSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private def writeCsv(dir: File, lines: Seq[String]): File = {
    val f = new File(dir, "features.csv")
    Files.write(f.toPath, lines.mkString("", "\n", "\n").getBytes("UTF-8"))
    f
  }

  /** The options of `args`; `--model` is required, and most tests score the `linear` test model. */
  private def options(args: String*) = BatchScoreOptions.parse(withModel(args))

  /** `spark-submit`'s exit status for `args` (with `--model linear` unless they name a model). */
  private def exitCode(args: Seq[String]): Int = BatchScore.exitCode(withModel(args).toArray)

  private def withModel(args: Seq[String]) = if (args.contains("--model")) args else Seq("--model", "linear") ++ args

  test("scores a CSV of features into CSV with the predictions the driver computes") {
    val dir = TestModels.tempDir("batchscore")
    val input = writeCsv(dir, Seq("id,x1,x2") ++ (1 to 50).map(i => s"$i,${i * 0.5},${-i * 0.25}"))
    val out = new File(dir, "scored")
    val summary = BatchScore.run(
      spark,
      options(
        "--repository",
        TestModels.modelsDir.getPath,
        "--input",
        input.getPath,
        "--features",
        "x1,x2",
        "--output",
        out.getPath,
        "--output-format",
        "csv"
      )
    )
    assert(summary.rows === 50)
    assert(summary.line.startsWith("BatchScore: scored 50 rows in "))
    // The rate is over scoring and writing; the phases line says where the rest of the run went.
    assert(summary.seconds === summary.phases.seconds(BatchScore.Phase.Scoring) && summary.seconds > 0)
    val phases = summary.phases.all.map(_._1)
    assert(
      phases === Seq(
        "recovering an interrupted run",
        "model load and warm-up",
        "reading the input",
        "scoring and writing",
        "counting the output",
        "committing the output"
      )
    )
    assert(
      summary.phasesLine.matches(
        """BatchScore: recovering an interrupted run [\d.]+ s, model load and warm-up [\d.]+ s, .*; [\d.]+ s in all"""
      ),
      summary.phasesLine
    )
    val scored = spark.read.option("header", "true").option("inferSchema", "true").csv(out.getPath).orderBy("id").collect()
    val expected = TFInference
      .predictLocal(ModelRepository(TestModels.modelsDir.getPath).resolve("linear"), (1 to 50).map(i => Array(i * 0.5f, -i * 0.25f)))
      .map(_.head)
    assert(scored.map(_.getAs[Double]("prediction").toFloat).toSeq.zip(expected).forall { case (a, b) => math.abs(a - b) < 1e-4 })
    assert(!dir.list().exists(_.contains("staging")), "no staging directory is left behind")
  }

  test("scores CIFAR2 JPEGs read with Spark's binaryFile source") {
    val dir = TestModels.tempDir("batchscore-cifar2")
    val out = new File(dir, "scored")
    val summary = BatchScore.run(
      spark,
      options(
        "--repository",
        TestModels.modelsDir.getPath,
        "--model",
        "cifar2",
        "--input-format",
        "binaryFile",
        "--input",
        new File(TestModels.dataDir, "cifar2/test/automobile").getPath,
        "--input-map",
        "image_bytes=content",
        "--drop",
        "content",
        "--output",
        out.getPath
      )
    )
    info(summary.line)
    assert(summary.rows === 1000)
    val labels = spark.read.parquet(out.getPath).select("prediction.label").collect().map(_.getString(0))
    assert(labels.count(_ == "automobile") > 900)
    assert(!spark.read.parquet(out.getPath).columns.contains("content"))
  }

  test("scores the Titanic CSV by column name, flattening the outputs for CSV") {
    val dir = TestModels.tempDir("batchscore-titanic")
    val out = new File(dir, "scored")
    BatchScore.run(
      spark,
      options(
        "--repository",
        TestModels.modelsDir.getPath,
        "--model",
        "titanic",
        "--null-policy",
        "fill",
        "--input",
        new File(TestModels.dataDir, "titanic/test.csv").getPath,
        "--output",
        out.getPath,
        "--output-format",
        "csv"
      )
    )
    val scored = spark.read.option("header", "true").csv(out.getPath)
    assert(scored.columns.contains("prediction_probability") && scored.columns.contains("prediction_survived"))
    assert(scored.count() === 179)
  }

  test("a failing run leaves no output directory") {
    val dir = TestModels.tempDir("batchscore-fail")
    val input = writeCsv(dir, Seq("x1,x2,x3", "1,2,3"))
    val out = new File(dir, "scored")
    checkError("INPUT_SHAPE_MISMATCH", Map("expected" -> "2", "got" -> "3")) {
      BatchScore.run(spark, options("--repository", TestModels.modelsDir.getPath, "--input", input.getPath, "--output", out.getPath))
    }
    assert(!out.exists())
    assert(dir.list().toSet === Set("features.csv"))
  }

  test("a row that fails mid-job (a null feature) leaves no output and no staging directory") {
    val dir = TestModels.tempDir("batchscore-null")
    val input = writeCsv(dir, Seq("x1,x2") ++ (1 to 20).map(i => s"$i,$i") :+ ",3")
    val out = new File(dir, "scored")
    checkError("NULL_INPUT", Map("model" -> "linear", "input" -> "features")) {
      BatchScore.run(spark, options("--repository", TestModels.modelsDir.getPath, "--input", input.getPath, "--output", out.getPath))
    }
    assert(dir.list().toSet === Set("features.csv"))
  }

  test("usage errors exit 2, job errors exit 1, --help exits 0") {
    assert(BatchScore.exitCode(Array("--help")) === 0)
    assert(BatchScore.exitCode(Array("--bogus", "x")) === 2)
    assert(BatchScore.exitCode(Array("--input", "x.csv")) === 2)
    // --model is required: no demo model is picked for the user.
    checkError("INVALID_ARGUMENT", Map("what" -> "--model", "got" -> "missing")) {
      BatchScoreOptions.parse(Seq("--input", "x.csv", "--output", "o"))
    }
    assert(BatchScore.exitCode(Array("--input", "x.csv", "--output", "o")) === 2)
    val dir = TestModels.tempDir("batchscore-exit")
    assert(
      BatchScore.exitCode(
        Array(
          "--model",
          "linear",
          "--repository",
          dir.getPath,
          "--input",
          writeCsv(dir, Seq("a,b", "1,2")).getPath,
          "--output",
          new File(dir, "o").getPath
        )
      ) === 1
    )
  }

  test("an existing output is not overwritten without --overwrite") {
    val dir = TestModels.tempDir("batchscore-exists")
    val input = writeCsv(dir, Seq("x1,x2", "1,2"))
    val out = new File(dir, "scored")
    out.mkdirs()
    checkError("INVALID_ARGUMENT", Map("what" -> "--output")) {
      BatchScore.run(spark, options("--repository", TestModels.modelsDir.getPath, "--input", input.getPath, "--output", out.getPath))
    }
  }

  /** The test repository; `--model linear` unless the arguments that follow name another. */
  private def repo = Seq("--repository", TestModels.modelsDir.getPath)

  test("--on-error null: a mixed folder of images costs one row per bad file, named by its path") {
    val dir = TestModels.tempDir("batchscore-mixed")
    val images = new File(dir, "images")
    images.mkdirs()
    new File(TestModels.dataDir, "cifar2/test/airplane").listFiles().sortBy(_.getName).take(20).foreach { f =>
      Files.copy(f.toPath, new File(images, f.getName).toPath)
    }
    Files.write(new File(images, "truncated.jpg").toPath, Array[Byte](-1, -40, -1))
    val args = repo ++ Seq("--model", "cifar2", "--input-format", "binaryFile", "--input", images.getPath) ++
      Seq("--input-map", "image_bytes=content", "--drop", "content", "--batch-size", "8")
    val failed = checkError("MODEL_EXECUTION_FAILED") {
      BatchScore.run(spark, options(args ++ Seq("--output", new File(dir, "failed").getPath): _*))
    }
    assert(failed.messageParameters("row").contains("truncated.jpg"), failed.getMessage)
    assert(!new File(dir, "failed").exists())

    val out = new File(dir, "scored")
    val summary = BatchScore.run(spark, options(args ++ Seq("--on-error", "null", "--output", out.getPath): _*))
    assert(summary.rows === 21 && summary.failedRows === 1, summary.line)
    assert(summary.line.contains("(1 row failed: see the error column)"), summary.line)
    val written = spark.read.parquet(out.getPath)
    val bad = written.where("prediction_error IS NOT NULL").select("path", "prediction", "prediction_error.errorClass").collect()
    assert(bad.length === 1 && bad.head.getString(0).endsWith("truncated.jpg") && bad.head.isNullAt(1))
    assert(bad.head.getString(2) === "MODEL_EXECUTION_FAILED")
    assert(written.where("prediction IS NOT NULL").count() === 20)

    // CSV has no structs: the error becomes prediction_error_errorClass and prediction_error_message.
    val csv = new File(dir, "csv")
    val csvSummary =
      BatchScore.run(spark, options(args ++ Seq("--on-error", "null", "--output", csv.getPath, "--output-format", "csv"): _*))
    assert(csvSummary.failedRows === 1)
    val columns = spark.read.option("header", "true").csv(csv.getPath).columns.toSet
    assert(Set("prediction_probability", "prediction_error_errorClass", "prediction_error_message").subsetOf(columns), columns)
  }

  test("--id-col names failing rows; nulls in assembled features follow --null-policy") {
    val dir = TestModels.tempDir("batchscore-idcol")
    val input = writeCsv(dir, Seq("x1,x2,key") ++ (1 to 30).map(i => s"$i,$i,k$i") :+ ",3,k-null")
    val e = checkError("NULL_INPUT") {
      BatchScore.run(
        spark,
        options(repo ++ Seq("--input", input.getPath, "--features", "x1,x2", "--id-col", "key", "--output", new File(dir, "a").getPath): _*)
      )
    }
    assert(e.messageParameters("row").startsWith("row {key: \"k-null\"}"), e.getMessage)
    assert(e.getMessage.contains("--null-policy null"))
    val out = new File(dir, "b")
    val summary = BatchScore.run(
      spark,
      options(repo ++ Seq("--input", input.getPath, "--features", "x1,x2", "--null-policy", "null", "--output", out.getPath): _*)
    )
    assert(summary.rows === 31)
    assert(spark.read.parquet(out.getPath).where("prediction IS NULL").select("key").collect().map(_.getString(0)).toSeq === Seq("k-null"))
  }

  test("the output plan is checked first: a column clash and an empty --output are usage errors (exit 2)") {
    val dir = TestModels.tempDir("batchscore-clash")
    val input = writeCsv(dir, Seq("x1,x2", "1,2"))
    val clash = (repo ++ Seq(
      "--input",
      input.getPath,
      "--features",
      "x1,x2",
      "--prediction-col",
      "x1",
      "--output",
      new File(dir, "o").getPath
    )).toArray
    checkError("INVALID_ARGUMENT", Map("what" -> "--prediction-col")) { BatchScore.run(spark, options(clash.toIndexedSeq: _*)) }
    assert(exitCode(clash.toIndexedSeq) === 2)
    assert(!new File(dir, "o").exists())
    assert(exitCode(repo ++ Seq("--input", input.getPath, "--output", "")) === 2)
    assert(exitCode(repo ++ Seq("--input", input.getPath, "--output", "x", "--batch-size", "2147483647")) === 2)
    // --drop of the clashing column makes the name free.
    val ok = BatchScore.run(spark, options(clash.toIndexedSeq ++ Seq("--drop", "x1"): _*))
    assert(ok.rows === 1)
  }

  test("an input with no files or no rows is an error (exit 1) unless --allow-empty; subfolders need --recursive") {
    val dir = TestModels.tempDir("batchscore-empty")
    val emptyDir = new File(dir, "empty")
    emptyDir.mkdirs()
    val e = checkError("INPUT_EMPTY", Map("what" -> "no files")) {
      BatchScore.run(
        spark,
        options(repo ++ Seq("--input", emptyDir.getPath, "--input-format", "parquet", "--output", new File(dir, "o").getPath): _*)
      )
    }
    assert(e.getMessage.contains("--allow-empty"))
    val args = repo ++ Seq("--input", emptyDir.getPath, "--input-format", "parquet", "--output", new File(dir, "o").getPath)
    assert(exitCode(args) === 1)
    assert(exitCode(args :+ "--allow-empty") === 0)
    assert(new File(dir, "o/_SUCCESS").exists())

    val headerOnly = new File(dir, "header.csv")
    Files.write(headerOnly.toPath, "x1,x2\n".getBytes("UTF-8"))
    val noRows = checkError("INPUT_EMPTY", Map("what" -> "no rows")) {
      BatchScore.run(spark, options(repo ++ Seq("--input", headerOnly.getPath, "--output", new File(dir, "h").getPath): _*))
    }
    assert(noRows.getMessage.contains("types cannot be inferred"), noRows.getMessage)
    assert(
      exitCode(repo ++ Seq("--input", headerOnly.getPath, "--output", new File(dir, "h").getPath, "--allow-empty")) === 0
    )
    // Typed columns without rows (Parquet) are a valid, empty input: an empty output, exit 0.
    val session = spark
    import session.implicits._
    val typed = new File(dir, "typed.parquet").getPath
    Seq((1.0f, 2.0f)).toDF("x1", "x2").where("x1 < 0").write.parquet(typed)
    assert(BatchScore.run(spark, options(repo ++ Seq("--input", typed, "--output", new File(dir, "t").getPath): _*)).rows === 0)

    // binaryFile does not descend into subfolders unless asked.
    val nested = new File(dir, "nested/automobile")
    nested.mkdirs()
    new File(TestModels.dataDir, "cifar2/test/automobile").listFiles().sortBy(_.getName).take(3).foreach { f =>
      Files.copy(f.toPath, new File(nested, f.getName).toPath)
    }
    val images = repo ++ Seq("--model", "cifar2", "--input-format", "binaryFile", "--input", new File(dir, "nested").getPath) ++
      Seq("--input-map", "image_bytes=content", "--drop", "content")
    val noFiles = checkError("INPUT_EMPTY", Map("what" -> "no files")) {
      BatchScore.run(spark, options(images ++ Seq("--output", new File(dir, "n1").getPath): _*))
    }
    assert(noFiles.getMessage.contains("--recursive"))
    assert(BatchScore.run(spark, options(images ++ Seq("--recursive", "--output", new File(dir, "n2").getPath): _*)).rows === 3)
  }

  test("a Parquet folder without --input-format is read as Parquet (from its files' extension)") {
    val dir = TestModels.tempDir("batchscore-folder")
    val folder = new File(dir, "features")
    val session = spark
    import session.implicits._
    Seq((1.0f, 2.0f), (3.0f, 4.0f)).toDF("x1", "x2").write.parquet(folder.getPath)
    val summary = BatchScore.run(spark, options(repo ++ Seq("--input", folder.getPath, "--output", new File(dir, "o").getPath): _*))
    assert(summary.rows === 2)
    assert(options("--input", folder.getPath, "--output", "x").inputFormat === "parquet")
  }

  /** Every file under `dir` (relative name -> bytes); empty when it does not exist. */
  private def snapshot(dir: File): Map[String, Seq[Byte]] = {
    val root = dir.toPath
    if (!dir.exists()) Map.empty
    else {
      val files = Files.walk(root)
      try {
        files.iterator().asScala.filter(Files.isRegularFile(_)).map(f => root.relativize(f).toString -> Files.readAllBytes(f).toSeq).toMap
      } finally files.close()
    }
  }

  /** Runs `exitCode` and returns it with what it printed on stderr. */
  private def exitCodeAndStderr(args: Seq[String]): (Int, String) = {
    val buffer = new ByteArrayOutputStream()
    val saved = System.err
    System.setErr(new PrintStream(buffer, true, "UTF-8"))
    val code =
      try exitCode(args)
      finally System.setErr(saved)
    (code, buffer.toString("UTF-8"))
  }

  test("an --output that is, contains or lies inside the input is refused (exit 2) and nothing is touched") {
    val dir = TestModels.tempDir("batchscore-overlap")
    val p = new File(dir, "p")
    p.mkdirs()
    val good = writeCsv(p, Seq("x1,x2") ++ (1 to 10).map(i => s"$i,$i"))
    val folder = new File(dir, "features")
    val session = spark
    import session.implicits._
    Seq((1.0f, 2.0f)).toDF("x1", "x2").write.parquet(folder.getPath)
    val link = new File(dir, "link-to-p")
    Files.createSymbolicLink(link.toPath, p.toPath)
    val cases = Seq(
      "the output contains the input file" -> (good.getPath, p.getPath, "contains the input"),
      "the output is the input file" -> (good.getPath, good.getPath, "is the input"),
      "the output is the input folder" -> (folder.getPath, folder.getPath, "is the input"),
      "the output lies inside the input folder" -> (folder.getPath, new File(folder, "scored").getPath, "lies inside the input"),
      "the output is the input's folder through a link" -> (good.getPath, link.getPath, "contains the input"),
      "the input is read through a link to the output's folder" -> (new File(link, "features.csv").getPath, p.getPath, "contains"),
      "the output's parent is a relative path to the input" -> (good.getPath, new File(p, "../p").getPath, "contains the input"),
      "the input is a glob inside the output" -> (new File(p, "*.csv").getPath, p.getPath, "contains the input")
    )
    val before = snapshot(dir)
    for ((what, (input, output, relation)) <- cases) {
      val args = repo ++ Seq("--input", input, "--features", "x1,x2", "--output", output, "--overwrite")
      val e = checkError("INVALID_ARGUMENT", Map("what" -> "--output")) { BatchScore.run(spark, options(args: _*)) }
      assert(e.getMessage.contains(relation), s"$what: ${e.getMessage}")
      val (code, err) = exitCodeAndStderr(args)
      assert(code === 2, s"$what: $err")
      assert(err.contains("[INVALID_ARGUMENT]") && err.contains(relation), s"$what: $err")
      assert(snapshot(dir) === before, s"$what: files changed")
    }
    // Beside the input, in the same folder, is fine; so is a glob's folder with the output outside its matches.
    assert(BatchScore.run(spark, options(repo ++ Seq("--input", good.getPath, "--output", new File(p, "scored").getPath): _*)).rows === 10)
    val globbed = repo ++ Seq("--input", new File(p, "*.csv").getPath, "--output", new File(p, "scored2").getPath)
    assert(BatchScore.run(spark, options(globbed: _*)).rows === 10)
  }

  /** A previous output (the 10-row scoring) and arguments that rescore 25 rows over it with --overwrite. */
  private def previousOutput(prefix: String): (File, File, Seq[String]) = {
    val dir = TestModels.tempDir(prefix)
    val out = new File(dir, "scored")
    val old = writeCsv(new File(dir, "old") { mkdirs() }, Seq("x1,x2") ++ (1 to 10).map(i => s"$i,$i"))
    assert(
      BatchScore.run(spark, options(repo ++ Seq("--input", old.getPath, "--output", out.getPath, "--output-format", "csv"): _*)).rows === 10
    )
    val input = writeCsv(new File(dir, "new") { mkdirs() }, Seq("x1,x2") ++ (1 to 25).map(i => s"$i,$i"))
    (dir, out, repo ++ Seq("--input", input.getPath, "--output", out.getPath, "--output-format", "csv", "--overwrite"))
  }

  private def rows(out: File): Long = spark.read.option("header", "true").csv(out.getPath).count()

  test("a kill after each step of the output's commit is recovered by the next run, which says so on stderr") {
    // The state a kill -9 leaves after each step: the steps up to it, run by hand, then the run abandoned.
    val killed: Seq[(String, OutputCommit => Unit, Seq[String])] = Seq(
      ("while scoring", c => new File(c.staging.toUri.getPath, "_temporary/0").mkdirs(), Seq("deleted")),
      ("after writing", c => c.write(s => spark.range(3).write.option("header", "true").csv(s.toString)), Seq("deleted")),
      (
        "between the renames",
        c => { c.write(s => spark.range(3).write.option("header", "true").csv(s.toString)); c.moveAside() },
        Seq("restored", "deleted")
      ),
      (
        "after the swap",
        c => { c.write(s => spark.range(3).write.option("header", "true").csv(s.toString)); c.moveAside(); c.swap() },
        Seq("deleted")
      ),
      (
        "during the delete",
        c => {
          c.write(s => spark.range(3).write.option("header", "true").csv(s.toString)); c.moveAside(); c.swap(); c.trashOld()
          new File(c.trash.toUri.getPath).listFiles().filter(_.getName.startsWith("part-")).foreach(_.delete())
        },
        Seq("deleted")
      )
    )
    for ((point, kill, actions) <- killed) {
      val (dir, out, args) = previousOutput("batchscore-kill")
      val previous = snapshot(out)
      val interrupted = new OutputCommit(FileSystem.getLocal(new Configuration()), new Path(out.getPath), _ => ())
      kill(interrupted)
      // Without --overwrite: the previous output is restored (or the new one kept), then refused as existing.
      val (refused, refusedErr) = exitCodeAndStderr(args.filterNot(_ == "--overwrite"))
      assert(refused === 2, s"$point: $refusedErr")
      assert(refusedErr.contains("(it exists)"), s"$point: $refusedErr")
      val recovered = refusedErr.linesIterator.filter(l => l.startsWith("BatchScore: ") && l.contains(" interrupted run")).toSeq
      assert(recovered.map(_.stripPrefix("BatchScore: ").takeWhile(_ != ' ')) === actions, s"$point: $refusedErr")
      assert(dir.list().toSet === Set("old", "new", "scored"), s"$point: ${dir.list().toSeq}")
      if (point == "after the swap" || point == "during the delete") assert(rows(out) === 3, point)
      else assert(snapshot(out) === previous, s"$point: the previous output is not intact")
      // With --overwrite: nothing left to recover, the new output in place.
      val (code, err) = exitCodeAndStderr(args)
      assert(code === 0, s"$point: $err")
      assert(!err.contains("interrupted run"), s"$point: $err")
      assert(rows(out) === 25 && new File(out, "_SUCCESS").exists(), point)
      assert(dir.list().toSet === Set("old", "new", "scored"), s"$point: ${dir.list().toSeq}")
    }
  }

  test("a failure at each step of the output's commit leaves the previous output or the new one, whole") {
    for (step <- OutputCommit.Steps) {
      val (dir, out, args) = previousOutput("batchscore-step")
      val previous = snapshot(out)
      val hook: OutputCommit.Step => Unit = s => if (s == step) throw new java.io.IOException(s"injected at $s")
      if (OutputCommit.Steps.indexOf(step) < OutputCommit.Steps.indexOf(OutputCommit.Trash)) {
        val e = intercept[java.io.IOException](BatchScore.run(spark, options(args: _*), new PhaseTimes, hook))
        assert(e.getMessage === s"injected at $step")
        assert(snapshot(out) === previous, s"$step: the previous output is not intact")
      } else {
        assert(BatchScore.run(spark, options(args: _*), new PhaseTimes, hook).rows === 25)
        assert(rows(out) === 25)
      }
      assert(dir.list().toSet === Set("old", "new", "scored"), s"$step: ${dir.list().toSeq}")
    }
  }
}
