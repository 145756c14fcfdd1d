package tfspark

import java.io.File
import java.nio.file.Files

import org.apache.spark.sql.Row
import org.apache.spark.sql.execution.SparkPlan
import org.scalatest.funsuite.AnyFunSuite

import tfspark.conf.{NullPolicy, OnError, TFSparkConf}
import tfspark.model.ModelRepository
import tfspark.sql.BatchEvalTFExec

/**
 * Bad rows: errors name the row by its content, a failed batch is bisected to the rows TF fails
 * on, `onError=null` isolates them, nulls inside arrays follow the null policy, and no batch size
 * can ask for more memory than a batch may take.
 */
class RowErrorsSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private def repository = ModelRepository(TestModels.modelsDir.getPath)
  private def cifar2 = TFInference.ship(spark.sparkContext, repository.resolve("cifar2"))
  private def linear = TFInference.ship(spark.sparkContext, repository.resolve("linear"))

  private def withConf[T](pairs: (String, String)*)(body: => T): T =
    try { pairs.foreach { case (k, v) => spark.conf.set(k, v) }; body }
    finally pairs.foreach { case (k, _) => spark.conf.unset(k) }

  /** 12 CIFAR2 test images and 2 files that are not images, in one folder read with binaryFile. */
  private lazy val mixedImages: File = {
    val dir = TestModels.tempDir("mixed-images")
    new File(TestModels.dataDir, "cifar2/test/automobile").listFiles().sortBy(_.getName).take(12).foreach { f =>
      Files.copy(f.toPath, new File(dir, f.getName).toPath)
    }
    Files.write(new File(dir, "broken.jpg").toPath, Array[Byte](1, 2, 3))
    Files.write(new File(dir, "notes.jpg").toPath, "not an image".getBytes("UTF-8"))
    dir
  }

  private def images = spark.read.format("binaryFile").load(mixedImages.getPath).select("path", "content")

  private def metric(plan: SparkPlan, name: String): Long =
    plan.collect { case e: BatchEvalTFExec => e.metrics(name).value }.sum

  test("by default a bad image fails the job, and the error names the file, not a row count") {
    images.createOrReplaceTempView("mixed_images")
    val e = checkError("MODEL_EXECUTION_FAILED", Map("model" -> "cifar2")) {
      spark.sql("SELECT path, tfpredict('cifar2', content) FROM mixed_images").collect()
    }
    val row = e.messageParameters("row")
    assert(row.startsWith("row {path: \"file:") && (row.contains("broken.jpg") || row.contains("notes.jpg")), row)
    assert(e.getMessage.contains("spark.tfpredict.onError=null") && e.getMessage.contains("--on-error null"))
    // A query that scores `content` without selecting `path` still names the file: the scan has it.
    val unselected = checkError("MODEL_EXECUTION_FAILED", Map("model" -> "cifar2")) {
      spark.sql(s"SELECT tfpredict('cifar2', content) FROM binaryFile.`${mixedImages.getPath}`").collect()
    }
    val label = unselected.messageParameters("row")
    assert(label.startsWith("row {path: \"file:") && (label.contains("broken.jpg") || label.contains("notes.jpg")), label)
    // The plan reads path for the label, and the query's result still has only its own column.
    assert(
      spark
        .sql(s"SELECT tfpredict('cifar2', content) AS p FROM binaryFile.`${mixedImages.getPath}` WHERE length < 20")
        .columns
        .toSeq === Seq("p")
    )
  }

  test("onError=null: each bad image costs its own row, and the good rows equal a clean run") {
    images.createOrReplaceTempView("mixed_images")
    withConf(TFSparkConf.OnError -> "null", TFSparkConf.BatchSize -> "8") {
      val df = spark.sql("SELECT path, tfpredict('cifar2', content) AS p FROM mixed_images")
      val rows = df.collect()
      assert(rows.length === 14)
      val (bad, good) = rows.partition(_.getAs[Row]("p").getAs[Row]("error") != null)
      assert(bad.map(_.getString(0).split('/').last).toSet === Set("broken.jpg", "notes.jpg"))
      bad.foreach { r =>
        val error = r.getAs[Row]("p").getAs[Row]("error")
        assert(error.getString(0) === "MODEL_EXECUTION_FAILED")
        assert(error.getString(1).contains(r.getString(0)), "the message names the file")
        assert(!error.getString(1).contains("onError=null"), "no advice to set what is set: " + error.getString(1))
        assert(r.getAs[Row]("p").isNullAt(0), "no result for a failed row")
      }
      assert(metric(df.queryExecution.executedPlan, "numRowErrors") === 2)
      val clean = spark
        .sql(
          "SELECT path, tfpredict('cifar2', content).result AS r FROM mixed_images WHERE path NOT LIKE '%broken%' AND path NOT LIKE '%notes%'"
        )
        .collect()
        .map(r => r.getString(0) -> r.getAs[Row](1))
        .toMap
      good.foreach(r => assert(r.getAs[Row]("p").getAs[Row]("result") === clean(r.getString(0)), r.getString(0)))
    }
  }

  test("the DataFrame API and the Transformer put the error in its own column") {
    val scored =
      TFInference.predictDataFrame(images, cifar2, inputCols = Map("image_bytes" -> "content"), batchSize = 5, onError = OnError.ReturnNull)
    assert(scored.columns.toSeq === Seq("path", "content", "prediction", "prediction_error"))
    val rows = scored.select("path", "prediction", "prediction_error.errorClass").collect()
    assert(rows.count(_.getString(2) == "MODEL_EXECUTION_FAILED") === 2)
    assert(rows.filter(_.isNullAt(2)).forall(!_.isNullAt(1)))
    val transformer = new ml.TFModelTransformer()
      .setModel("cifar2")
      .setRepository(TestModels.modelsDir.getPath)
      .setInputMapping(Map("image_bytes" -> "content"))
      .setOnError("null")
      .setErrorCol("why")
    val out = transformer.transform(images)
    assert(transformer.transformSchema(images.schema).fieldNames.toSeq === out.columns.toSeq)
    assert(out.where("why IS NOT NULL").count() === 2)
    assert(out.queryExecution.executedPlan.toString.contains("BatchEvalTF"))
  }

  test("one bad row among a million: fail names it by the id column; null isolates exactly that row") {
    val session = spark
    import session.implicits._
    spark
      .range(1000000)
      .selectExpr("id", "IF(id = 777777, array(1f, 2f, 3f), array(CAST(id % 7 AS FLOAT), 1f)) AS features")
      .createOrReplaceTempView("million")
    withConf(TFSparkConf.RowLabel -> "id") {
      checkError("INPUT_SHAPE_MISMATCH", Map("expected" -> "2", "got" -> "3", "row" -> "row {id: 777777}")) {
        spark.sql("SELECT id, tfpredict('linear', features) FROM million").collect()
      }
      withConf(TFSparkConf.OnError -> "null") {
        val df = spark.sql("SELECT id, tfpredict('linear', features) AS p FROM million")
        val failed = df.where("p.error IS NOT NULL").select($"id", $"p.error.errorClass", $"p.error.message").collect()
        assert(failed.map(_.getLong(0)).toSeq === Seq(777777L))
        assert(failed.head.getString(1) === "INPUT_SHAPE_MISMATCH" && failed.head.getString(2).contains("id: 777777"))
        assert(df.where("p.result IS NOT NULL").count() === 999999)
      }
    }
    // Without a label setting, a row is named by its first columns.
    checkError("INPUT_SHAPE_MISMATCH", Map("row" -> "row {id: 777777, features: [1.0, 2.0, 3.0]}")) {
      spark.sql("SELECT id, features, tfpredict('linear', features) FROM million").collect()
    }
  }

  test("nulls inside arrays follow the null policy") {
    spark
      .sql("SELECT 1 AS id, array(1.0f, CAST(NULL AS FLOAT)) AS features UNION ALL SELECT 2, array(3.0f, 4.0f)")
      .createOrReplaceTempView("holes")
    val e = checkError("NULL_INPUT", Map("model" -> "linear", "input" -> "features")) {
      spark.sql("SELECT tfpredict('linear', features) FROM holes").collect()
    }
    assert(e.getMessage.contains("spark.tfpredict.nullPolicy=null") && e.getMessage.contains("--null-policy null"))
    withConf(TFSparkConf.NullPolicy -> "null") {
      val got = spark.sql("SELECT id, tfpredict('linear', features) FROM holes ORDER BY id").collect()
      assert(got(0).isNullAt(1) && !got(1).isNullAt(1))
    }
    withConf(TFSparkConf.NullPolicy -> "fill") {
      val filled = spark.sql("SELECT tfpredict('linear', features) FROM holes WHERE id = 1").head().getFloat(0)
      val nan = spark.sql("SELECT tfpredict('linear', array(1.0f, CAST('NaN' AS FLOAT)))").head().getFloat(0)
      assert(filled.isNaN === nan.isNaN && (filled.isNaN || filled == nan), "fill feeds NaN for a null float element")
    }
    // The same through the DataFrame API, where nulls come from data.
    val df = spark.sql("SELECT features FROM holes")
    assert(TFInference.predictDataFrame(df, linear, nullPolicy = NullPolicy.ReturnNull).where("prediction IS NULL").count() === 1)
  }

  test("plain Scala rows (predictMaps) with a null element are NULL_INPUT, never a silent zero") {
    val rows = spark.sparkContext.parallelize(Seq[Map[String, Any]](Map("features" -> Seq(1f, 2f)), Map("features" -> Seq(1f, null))), 1)
    checkError("NULL_INPUT", Map("input" -> "features")) {
      TFInference.predictMaps(rows, linear).collect()
    }
  }

  test("batch sizes beyond the limits are INVALID_CONFIG or INVALID_ARGUMENT at analysis, never an OOM") {
    withConf(TFSparkConf.BatchSize -> Int.MaxValue.toString) {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.BatchSize)) {
        spark.sql("SELECT tfpredict('linear', array(1f, 2f))")
      }
    }
    // cifar2:pixels takes 32x32x3 floats a row: 12 KB, so at most 87,381 rows fit in 1 GiB.
    withConf(TFSparkConf.BatchSize -> "200000") {
      val e = checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.BatchSize)) {
        spark.sql("SELECT tfpredict('cifar2:pixels', array_repeat(array_repeat(array_repeat(0f, 3), 32), 32))")
      }
      assert(e.messageParameters("expected").startsWith("at most 87381 rows"), e.getMessage)
      assert(spark.sql("SELECT tfpredict('linear', array(1f, 2f))").count() === 1, "a small model takes that batch size")
    }
    checkError("INVALID_ARGUMENT", Map("what" -> "batchSize")) {
      TFInference.predictDataFrame(spark.sql("SELECT array(1f, 2f) AS features"), linear, batchSize = 1 << 21)
    }
    checkError("INVALID_ARGUMENT", Map("what" -> "batchSize")) {
      TFInference.predictRDD(spark.sparkContext.parallelize(Seq(Array(1f, 2f))), linear, batchSize = 0)
    }
  }

  test("the row-by-row path (batchedSql=false) isolates and names rows the same way") {
    withConf(TFSparkConf.BatchedSql -> "false", TFSparkConf.OnError -> "null") {
      val rows = spark.sql("SELECT tfpredict('linear', array(1f, 2f, 3f)) AS p").collect()
      assert(rows.head.getAs[Row](0).getAs[Row]("error").getString(0) === "INPUT_SHAPE_MISMATCH")
    }
    withConf(TFSparkConf.BatchedSql -> "false") {
      checkError("INPUT_SHAPE_MISMATCH", Map("row" -> "the row whose argument is [1.0, 2.0, 3.0]")) {
        spark.sql("SELECT tfpredict('linear', array(1f, 2f, 3f))").collect()
      }
    }
  }
}
