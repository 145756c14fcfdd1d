package tfspark.jobs

import java.io.File
import java.nio.file.Files

import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TFInference, TestModels}
import tfspark.model.ModelRepository

class BatchScoreSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private def writeCsv(dir: File, lines: Seq[String]): File = {
    val f = new File(dir, "features.csv")
    Files.write(f.toPath, lines.mkString("", "\n", "\n").getBytes("UTF-8"))
    f
  }

  private def options(args: String*) = BatchScore.Options.parse(args)

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
    val dir = TestModels.tempDir("batchscore-exit")
    assert(
      BatchScore.exitCode(
        Array("--repository", dir.getPath, "--input", writeCsv(dir, Seq("a,b", "1,2")).getPath, "--output", new File(dir, "o").getPath)
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
    assert(BatchScore.exitCode(clash) === 2)
    assert(!new File(dir, "o").exists())
    assert(BatchScore.exitCode((repo ++ Seq("--input", input.getPath, "--output", "")).toArray) === 2)
    assert(BatchScore.exitCode((repo ++ Seq("--input", input.getPath, "--output", "x", "--batch-size", "2147483647")).toArray) === 2)
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
    assert(BatchScore.exitCode(args.toArray) === 1)
    assert(BatchScore.exitCode((args :+ "--allow-empty").toArray) === 0)
    assert(new File(dir, "o/_SUCCESS").exists())

    val headerOnly = new File(dir, "header.csv")
    Files.write(headerOnly.toPath, "x1,x2\n".getBytes("UTF-8"))
    val noRows = checkError("INPUT_EMPTY", Map("what" -> "no rows")) {
      BatchScore.run(spark, options(repo ++ Seq("--input", headerOnly.getPath, "--output", new File(dir, "h").getPath): _*))
    }
    assert(noRows.getMessage.contains("types cannot be inferred"), noRows.getMessage)
    assert(
      BatchScore.exitCode(
        (repo ++ Seq("--input", headerOnly.getPath, "--output", new File(dir, "h").getPath, "--allow-empty")).toArray
      ) === 0
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
    assert(BatchScore.Options.parse(Seq("--input", folder.getPath, "--output", "x")).inputFormat === "parquet")
  }
}
