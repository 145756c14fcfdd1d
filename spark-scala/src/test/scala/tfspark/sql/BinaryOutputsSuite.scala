package tfspark.sql

import java.io.File
import java.util.Base64

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.json.JsonMapper
import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.types.{BinaryType, StringType, StructType}
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TFInference, TestModels}
import tfspark.conf.{NullPolicy, OnError, TFSparkConf}
import tfspark.jobs.{BatchScore, BatchScoreOptions}
import tfspark.ml.TFModelTransformer
import tfspark.model.ModelRepository

/**
 * TF's one `DT_STRING` holds text and bytes: `thumbnail/1` (`make_test_models.py`) returns PNG
 * bytes (`png`), a byte prefix of them (`head`: empty for n = 0, else starting with 0x89) and
 * UTF-8 text (`label`). Declared binary (`spark.tfpredict.binaryOutputs`, the DataFrame API's and
 * the Transformer's `binaryOutputs`, BatchScore's `--binary-outputs`), the bytes come back exactly
 * as Python TF computed them; left as strings, a value that is not UTF-8 is OUTPUT_NOT_UTF8, never
 * a string with U+FFFD in place of its bytes.
 */
class BinaryOutputsSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  override protected def repositoryRoot: String = TestModels.testModelsDir.getPath

  private val modelDir = new File(TestModels.testModelsDir, "thumbnail/1")

  /** Python TF's outputs (`assets.extra/expected_bytes.json`): n, and per output one value per n. */
  private lazy val (ns, expected): (Seq[Long], Map[String, Seq[Array[Byte]]]) = {
    val root = JsonMapper.builder().build().readTree(new File(modelDir, "assets.extra/expected_bytes.json"))
    val n = root.get("n").elements().asScala.map(_.asLong()).toSeq
    val outputs = root
      .get("outputs")
      .properties()
      .asScala
      .map { e =>
        e.getKey -> e.getValue.elements().asScala.map(v => Base64.getDecoder.decode(v.asText())).toSeq
      }
      .toMap
    (n, outputs)
  }

  private def input: DataFrame = {
    val session = spark
    import session.implicits._
    ns.toDF("n").repartition(2)
  }

  private def withConf[T](pairs: (String, String)*)(body: => T): T = {
    pairs.foreach { case (k, v) => spark.conf.set(k, v) }
    try body
    finally pairs.foreach { case (k, _) => spark.conf.unset(k) }
  }

  private lazy val shipped = TFInference.ship(spark.sparkContext, ModelRepository(TestModels.testModelsDir.getPath).resolve("thumbnail"))

  /** Each output's bytes per row, ordered by n, from a struct column `p` of `scored`. */
  private def bytesOf(scored: DataFrame, column: String = "p"): Map[String, Seq[Seq[Byte]]] = {
    val struct = scored.schema(column).dataType.asInstanceOf[StructType]
    val rows = scored.orderBy("n").select(column).collect().map(_.getStruct(0))
    struct.fieldNames.map { f =>
      f -> rows.toSeq.map { r =>
        r.get(r.fieldIndex(f)) match {
          case b: Array[Byte] => b.toSeq
          case s: String => s.getBytes("UTF-8").toSeq
        }
      }
    }.toMap
  }

  private def expectedBytes(keys: String*): Map[String, Seq[Seq[Byte]]] = keys.map(k => k -> expected(k).map(_.toSeq)).toMap

  test("the generated model returns bytes that are not UTF-8 (the test is about something)") {
    assert(expected("png").forall(b => tfspark.tensor.OutputDecoder.invalidUtf8At(b) == 0))
    assert(expected("head").head.isEmpty && expected("head").tail.forall(_.head == 0x89.toByte))
    assert(new String(expected("label")(1), "UTF-8") === "café #1")
  }

  test("SQL: binaryOutputs gives BinaryType at analysis and Python TF's bytes exactly") {
    input.createOrReplaceTempView("thumbs")
    withConf(TFSparkConf.BinaryOutputs -> " png , head ") {
      val scored = spark.sql("SELECT n, tfpredict('thumbnail', struct(n)) AS p FROM thumbs")
      val types = scored.schema("p").dataType.asInstanceOf[StructType]
      assert(types("png").dataType === BinaryType && types("head").dataType === BinaryType && types("label").dataType === StringType)
      assert(bytesOf(scored) === expectedBytes("head", "label", "png"))
      assert(scored.queryExecution.executedPlan.toString.contains("BatchEvalTF"))
    }
    withConf(TFSparkConf.BinaryOutputs -> "*") {
      val scored = spark.sql("SELECT n, tfpredict('thumbnail', struct(n)) AS p FROM thumbs")
      assert(scored.schema("p").dataType.asInstanceOf[StructType].fields.forall(_.dataType == BinaryType))
      assert(bytesOf(scored) === expectedBytes("head", "label", "png"))
    }
  }

  test("SQL: without binaryOutputs a value that is not UTF-8 is OUTPUT_NOT_UTF8 naming the model, output, row and the fix") {
    input.createOrReplaceTempView("thumbs")
    // Every output of the row that is not UTF-8 is named, so the fix in the message is complete.
    val e = checkError("OUTPUT_NOT_UTF8", Map("model" -> "thumbnail", "output" -> "head,png", "row" -> "row {n: 2}")) {
      spark.sql("SELECT n, tfpredict('thumbnail', struct(n)) AS p FROM thumbs WHERE n = 2").collect()
    }
    assert(e.getSqlState === "22021")
    assert(
      e.getMessage.contains("spark.tfpredict.binaryOutputs=head,png") && e.getMessage.contains("--binary-outputs head,png"),
      e.getMessage
    )
    assert(e.messageParameters("detail") === "byte 0x89 at offset 0 of 2 bytes, starting 89 50", e.getMessage)
    checkError("OUTPUT_NOT_UTF8", Map("output" -> "png", "row" -> "row {n: 0}")) {
      spark.sql("SELECT n, tfpredict('thumbnail', struct(n)) AS p FROM thumbs WHERE n = 0").collect()
    }
    // Row by row (no batching rule) the same.
    withConf(TFSparkConf.BatchedSql -> "false", TFSparkConf.BinaryOutputs -> "png") {
      checkError("OUTPUT_NOT_UTF8", Map("model" -> "thumbnail", "output" -> "head")) {
        spark.sql("SELECT n, tfpredict('thumbnail', struct(n)) AS p FROM thumbs WHERE n = 2").collect()
      }
      assert(spark.sql("SELECT tfpredict('thumbnail', struct(n)).label FROM thumbs WHERE n = 0").head().getString(0) === "café #0")
    }
  }

  test("SQL: with onError=null, OUTPUT_NOT_UTF8 is isolated to its rows; valid UTF-8 rows are scored") {
    input.createOrReplaceTempView("thumbs")
    withConf(TFSparkConf.BinaryOutputs -> "png", TFSparkConf.OnError -> "null", TFSparkConf.BatchSize -> "4") {
      val rows = spark
        .sql("SELECT n, tfpredict('thumbnail', struct(n)) AS p FROM thumbs ORDER BY n")
        .collect()
        .map(r => r.getLong(0) -> r.getStruct(1))
      val (ok, failed) = rows.partition(_._1 == 0)
      assert(ok.head._2.getStruct(0).getAs[Array[Byte]]("png").toSeq === expected("png").head.toSeq)
      assert(ok.head._2.isNullAt(1))
      assert(failed.length === ns.size - 1)
      failed.foreach { case (n, p) =>
        assert(p.isNullAt(0), s"row n=$n")
        assert(p.getStruct(1).getString(0) === "OUTPUT_NOT_UTF8")
        assert(p.getStruct(1).getString(1).contains("Output head of model thumbnail"), p.getStruct(1).getString(1))
      }
    }
  }

  test("SQL: a binaryOutputs key that is not a string output of the signature is INVALID_CONFIG at analysis") {
    input.createOrReplaceTempView("thumbs")
    withConf(TFSparkConf.BinaryOutputs -> "png,pgn") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.BinaryOutputs, "got" -> "png,pgn")) {
        spark.sql("SELECT tfpredict('thumbnail', struct(n)) FROM thumbs")
      }
    }
    withConf(TFSparkConf.BinaryOutputs -> "probability") {
      val e = checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.BinaryOutputs)) {
        spark.sql("SELECT tfpredict('tokens', array(1L, 2L))")
      }
      assert(e.getMessage.contains("has no string output"), e.getMessage)
    }
  }

  test("SQL: model:key entries apply to that model only, so one session queries models with other outputs") {
    input.createOrReplaceTempView("thumbs")
    withConf(TFSparkConf.BinaryOutputs -> "thumbnail:png, thumbnail:head") {
      val scored = spark.sql("SELECT n, tfpredict('thumbnail', struct(n)) AS p FROM thumbs")
      assert(bytesOf(scored) === expectedBytes("head", "label", "png"))
      assert(spark.sql("SELECT tfpredict('tokens', array(1L, 2L))").schema.nonEmpty) // no string output, no entry for it
    }
    withConf(TFSparkConf.BinaryOutputs -> "thumbnail:pgn") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.BinaryOutputs, "got" -> "pgn")) {
        spark.sql("SELECT tfpredict('thumbnail', struct(n)) FROM thumbs")
      }
    }
  }

  test("DataFrame API: binaryOutputs round-trips the bytes; an unknown key is INVALID_ARGUMENT") {
    val scored =
      TFInference.predictDataFrame(input, shipped, "p", batchSize = 4, binaryOutputs = Seq("png", "head"))
    assert(scored.schema("p").dataType.asInstanceOf[StructType]("png").dataType === BinaryType)
    assert(bytesOf(scored) === expectedBytes("head", "label", "png"))
    checkError("INVALID_ARGUMENT", Map("got" -> "nope")) {
      TFInference.predictDataFrame(input, shipped, "p", binaryOutputs = Seq("png", "nope"))
    }
    checkError("OUTPUT_NOT_UTF8", Map("model" -> "thumbnail")) {
      TFInference.predictDataFrame(input, shipped, "p").collect()
    }
    // The same column with onError=null: the error column carries it, rows stay.
    val isolated = TFInference.predictDataFrame(input, shipped, "p", onError = OnError.ReturnNull, nullPolicy = NullPolicy.Error)
    assert(isolated.where("p_error.errorClass = 'OUTPUT_NOT_UTF8'").count() === ns.size)
  }

  test("RDD API (maps): binaryOutputs gives Array[Byte] equal to Python TF's; a string output that is not UTF-8 fails") {
    val rows = spark.sparkContext.parallelize(ns.map(n => Map[String, Any]("n" -> n)), 2)
    val got = TFInference.predictMaps(rows, shipped, batchSize = 4, binaryOutputs = Seq("*")).collect()
    Seq("png", "head", "label").foreach { k =>
      assert(got.toSeq.map(_(k).asInstanceOf[Array[Byte]].toSeq) === expected(k).map(_.toSeq), k)
    }
    checkError("OUTPUT_NOT_UTF8", Map("model" -> "thumbnail", "output" -> "png")) {
      TFInference.predictMaps(rows, shipped, binaryOutputs = Seq("head")).collect()
    }
    checkError("INVALID_ARGUMENT", Map("got" -> "n")) { TFInference.predictMaps(rows, shipped, binaryOutputs = Seq("n")) }
  }

  test("Transformer: binaryOutputs types the column in transformSchema and round-trips the bytes") {
    val scorer = new TFModelTransformer()
      .setModel("thumbnail")
      .setRepository(TestModels.testModelsDir.getPath)
      .setOutputCol("p")
      .setBatchSize(3)
      .setBinaryOutputs(Array("*"))
    val schema = scorer.transformSchema(input.schema)("p").dataType.asInstanceOf[StructType]
    assert(schema.fields.forall(_.dataType == BinaryType), schema)
    assert(bytesOf(scorer.transform(input)) === expectedBytes("head", "label", "png"))
    checkError("OUTPUT_NOT_UTF8", Map("model" -> "thumbnail")) {
      scorer.copy(org.apache.spark.ml.param.ParamMap.empty).setBinaryOutputs(Array.empty).transform(input).collect()
    }
    checkError("INVALID_ARGUMENT", Map("got" -> "label2")) {
      scorer.copy(org.apache.spark.ml.param.ParamMap.empty).setBinaryOutputs(Array("label2")).transformSchema(input.schema)
    }
  }

  test("BatchScore: --binary-outputs writes the bytes to Parquet exactly; without it the job fails with OUTPUT_NOT_UTF8") {
    val dir = TestModels.tempDir("batchscore-binary")
    val in = new File(dir, "in.parquet").getPath
    input.write.parquet(in)
    def args(out: String, extra: String*) =
      Seq("--repository", TestModels.testModelsDir.getPath, "--model", "thumbnail", "--input", in, "--output", out) ++ extra
    val out = new File(dir, "out").getPath
    val summary = BatchScore.run(spark, BatchScoreOptions.parse(args(out, "--binary-outputs", "png,head")))
    assert(summary.rows === ns.size)
    val written = spark.read.parquet(out)
    assert(written.schema("prediction").dataType.asInstanceOf[StructType]("png").dataType === BinaryType)
    assert(bytesOf(written, "prediction") === expectedBytes("head", "label", "png"))
    val failing = new File(dir, "failing").getPath
    checkError("OUTPUT_NOT_UTF8", Map("model" -> "thumbnail")) { BatchScore.run(spark, BatchScoreOptions.parse(args(failing))) }
    assert(BatchScore.exitCode(args(new File(dir, "failing2").getPath, "--binary-outputs", "nope").toArray) === 2)
  }

  test("no silent column clash: outputCol or errorCol naming an existing column is INVALID_ARGUMENT, as Spark matches names") {
    val session = spark
    import session.implicits._
    val df = Seq((Seq(1f, 2f), 1.0, 2.0)).toDF("features", "x1", "x2")
    val linear = TFInference.ship(spark.sparkContext, ModelRepository(TestModels.modelsDir.getPath).resolve("linear"))
    def transformer = new TFModelTransformer().setModel("linear").setRepository(TestModels.modelsDir.getPath).setInputCol("features")
    checkError("INVALID_ARGUMENT", Map("what" -> "TFModelTransformer.outputCol")) { transformer.setOutputCol("x1").transform(df) }
    checkError("INVALID_ARGUMENT", Map("what" -> "TFModelTransformer.outputCol")) {
      transformer.setOutputCol("X1").transformSchema(df.schema)
    }
    val errorClash = checkError("INVALID_ARGUMENT", Map("what" -> "TFModelTransformer.errorCol")) {
      transformer.setOutputCol("y").setOnError("null").setErrorCol("x2").transform(df)
    }
    assert(errorClash.getMessage.contains("drop column 'x2'"), errorClash.getMessage)
    // errorCol is not added under onError=fail, so it clashes with nothing.
    assert(transformer.setOutputCol("y").setErrorCol("x2").transform(df).columns.toSeq === Seq("features", "x1", "x2", "y"))
    checkError("INVALID_ARGUMENT", Map("what" -> "outputCol")) { TFInference.predictDataFrame(df, linear, "x1") }
    checkError("INVALID_ARGUMENT", Map("what" -> "errorCol")) {
      TFInference.predictDataFrame(df, linear, "y", onError = OnError.ReturnNull, errorCol = Some("X2"))
    }
    checkError("INVALID_ARGUMENT", Map("what" -> "outputCol and errorCol")) {
      TFInference.predictDataFrame(df, linear, "y", onError = OnError.ReturnNull, errorCol = Some("y"))
    }
    // Explicit replacement, and Spark's case-sensitive matching.
    val replaced = TFInference.predictDataFrame(df, linear, "x1", replaceColumns = true)
    assert(replaced.columns.toSeq === Seq("features", "x1", "x2") && replaced.schema("x1").dataType.simpleString === "float")
    withConf("spark.sql.caseSensitive" -> "true") {
      assert(TFInference.predictDataFrame(df, linear, "X1").columns.toSeq === Seq("features", "x1", "x2", "X1"))
      assert(transformer.setOutputCol("X1").transform(df).count() === 1)
    }
  }

  test("BatchScore: --drop of the clashing column keeps the prediction under that name") {
    val dir = TestModels.tempDir("batchscore-drop-clash")
    val session = spark
    import session.implicits._
    val in = new File(dir, "in.parquet").getPath
    Seq((1f, 2f), (3f, 5f)).toDF("x1", "x2").write.parquet(in)
    val out = new File(dir, "out").getPath
    val base = Seq("--repository", TestModels.modelsDir.getPath, "--model", "linear", "--input", in, "--features", "x1,x2")
    checkError("INVALID_ARGUMENT", Map("what" -> "--prediction-col")) {
      BatchScore.run(spark, BatchScoreOptions.parse(base ++ Seq("--prediction-col", "x1", "--output", out)))
    }
    BatchScore.run(spark, BatchScoreOptions.parse(base ++ Seq("--prediction-col", "x1", "--drop", "x1", "--output", out)))
    val written = spark.read.parquet(out)
    assert(written.columns.toSeq === Seq("x1", "x2"))
    assert(written.schema("x1").dataType.simpleString === "float", "x1 is the prediction, not the dropped input")
    val expectedFirst =
      TFInference.predictLocal(ModelRepository(TestModels.modelsDir.getPath).resolve("linear"), Seq(Array(1f, 2f))).head.head
    assert(written.where("x2 = 2.0").head().getFloat(0) === expectedFirst)
  }
}
