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
}
