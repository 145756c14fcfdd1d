package tfspark.sql

import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.execution.SparkPlan
import org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanHelper
import org.apache.spark.sql.types.{ArrayType, BinaryType, FloatType, StringType, StructType}
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TFInference, TestModels}
import tfspark.conf.{NullPolicy, OnError, Setting, TFSparkConf}
import tfspark.ml.TFModelTransformer
import tfspark.model.{ModelRepository, ShippedModel}

/**
 * The Scala API takes every setting the caller leaves out from the session's `spark.tfpredict.*`
 * configuration, as SQL's `tfpredict`, the Transformer and BatchScore do; a value given wins; a
 * malformed setting is INVALID_CONFIG. Never the API's own hard-coded default behind the user's back.
 */
class SessionDefaultsSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks with AdaptiveSparkPlanHelper {

  private def withConf[T](pairs: (String, String)*)(body: => T): T = {
    pairs.foreach { case (k, v) => spark.conf.set(k, v) }
    try body
    finally pairs.foreach { case (k, _) => spark.conf.unset(k) }
  }

  private lazy val linear: ShippedModel =
    TFInference.ship(spark.sparkContext, ModelRepository(TestModels.modelsDir.getPath).resolve("linear"))
  private lazy val thumbnail: ShippedModel =
    TFInference.ship(spark.sparkContext, ModelRepository(TestModels.testModelsDir.getPath).resolve("thumbnail"))
  private lazy val tokens: ShippedModel =
    TFInference.ship(spark.sparkContext, ModelRepository(TestModels.testModelsDir.getPath).resolve("tokens"))

  // Rows of a range, not of a local VALUES relation, which Spark would evaluate on the driver row by row.

  /** Row 1 has a null feature. */
  private def holes: DataFrame =
    spark.range(0, 2, 1, 1).selectExpr("CAST(id AS INT) AS id", "IF(id = 1, array(1f, CAST(NULL AS FLOAT)), array(1f, 2f)) AS features")

  /** Row 7 has three features where linear takes two: a row the model cannot score. */
  private def oneBad: DataFrame =
    spark.range(5, 8, 2, 1).selectExpr("CAST(id AS INT) AS id", "IF(id = 7, array(1f, 2f, 3f), array(1f, 2f)) AS features")

  private def batchSizes(df: DataFrame): Seq[Int] = collect(df.queryExecution.executedPlan: SparkPlan) { case b: BatchEvalTFExec =>
    b.batchSize
  }

  test("nullPolicy: the session's applies when the call gives none; one given wins; a malformed one is INVALID_CONFIG") {
    checkError("NULL_INPUT", Map("model" -> "linear"))(TFInference.predictDataFrame(holes, linear).collect())
    withConf(TFSparkConf.NullPolicy -> "null") {
      val scored = TFInference.predictDataFrame(holes, linear).orderBy("id").collect()
      assert(scored(0).isNullAt(2) === false && scored(1).isNullAt(2), "the null row gives a null prediction")
      checkError("NULL_INPUT", Map("model" -> "linear")) {
        TFInference.predictDataFrame(holes, linear, nullPolicy = NullPolicy.Error).collect()
      }
    }
    withConf(TFSparkConf.NullPolicy -> "fill") {
      val filled = TFInference.predictDataFrame(holes, linear).where("id = 1").head().getFloat(2)
      val nan =
        TFInference.predictLocal(ModelRepository(TestModels.modelsDir.getPath).resolve("linear"), Seq(Array(1f, Float.NaN))).head.head
      assert(filled.isNaN === nan.isNaN && (filled.isNaN || filled == nan), "fill feeds NaN for the null element")
      val df = holes
      val projected = df.select(TFInference.predictColumn(df, linear).as("p"))
      assert(projected.where("p IS NOT NULL").count() === 2, "predictColumn fills too")
    }
    withConf(TFSparkConf.NullPolicy -> "sometimes") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.NullPolicy, "got" -> "sometimes"))(TFInference.predictDataFrame(holes, linear))
    }
  }

  test("onError: the session's null gives a null prediction and the error column; Fail given wins") {
    checkError("INPUT_SHAPE_MISMATCH", Map("model" -> "linear"))(TFInference.predictDataFrame(oneBad, linear).collect())
    withConf(TFSparkConf.OnError -> "null") {
      val scored = TFInference.predictDataFrame(oneBad, linear)
      assert(scored.columns.toSeq === Seq("id", "features", "prediction", "prediction_error"))
      val bad = scored.where("id = 7").head()
      assert(bad.isNullAt(2) && bad.getStruct(3).getString(0) === "INPUT_SHAPE_MISMATCH")
      assert(scored.where("id = 5").head().isNullAt(3), "a good row has no error")
      val df = oneBad
      assert(
        df.select(TFInference.predictColumn(df, linear).as("p")).schema("p").dataType.asInstanceOf[StructType].fieldNames.toSeq === Seq(
          "result",
          "error"
        )
      )
      checkError("INPUT_SHAPE_MISMATCH", Map("model" -> "linear")) {
        TFInference.predictDataFrame(oneBad, linear, onError = OnError.Fail).collect()
      }
    }
    withConf(TFSparkConf.OnError -> "ignore") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.OnError, "got" -> "ignore"))(TFInference.predictDataFrame(oneBad, linear))
    }
  }

  test("batchSize: the session's sizes the batches of the DataFrame API; one given wins; a malformed one is INVALID_CONFIG") {
    val df = spark.range(0, 40, 1, 2).selectExpr("array(cast(id AS float), 1.0f) AS features")
    assert(batchSizes(TFInference.predictDataFrame(df, linear)) === Seq(TFSparkConf.DefaultBatchSize))
    withConf(TFSparkConf.BatchSize -> "16") {
      assert(batchSizes(TFInference.predictDataFrame(df, linear)) === Seq(16))
      assert(batchSizes(df.select(TFInference.predictColumn(df, linear))) === Seq(16))
      assert(batchSizes(TFInference.predictDataFrame(df, linear, batchSize = 8)) === Seq(8))
    }
    withConf(TFSparkConf.BatchSize -> "0") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.BatchSize, "got" -> "0"))(TFInference.predictDataFrame(df, linear))
    }
  }

  test("batchSize: the RDD calls take the session's too (rows of one batch must agree on a variable dimension)") {
    val rows = spark.sparkContext.parallelize(Seq[Map[String, Any]](Map("tokens" -> Seq(1L, 2L, 3L)), Map("tokens" -> Seq(4L, 5L))), 1)
    checkError("INPUT_SHAPE_MISMATCH", Map("input" -> "tokens"))(TFInference.predictMaps(rows, tokens).collect())
    withConf(TFSparkConf.BatchSize -> "1") {
      assert(TFInference.predictMaps(rows, tokens).count() === 2, "batches of one row")
      checkError("INPUT_SHAPE_MISMATCH", Map("input" -> "tokens"))(TFInference.predictMaps(rows, tokens, batchSize = 8).collect())
    }
    withConf(TFSparkConf.BatchSize -> "8") {
      assert(TFInference.predictMaps(rows, tokens, batchSize = 1).count() === 2, "the batchSize given wins")
    }
    val arrays = spark.sparkContext.parallelize(Seq(Array(1f, 2f)), 1)
    withConf(TFSparkConf.BatchSize -> "many") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.BatchSize, "got" -> "many"))(TFInference.predictRDD(arrays, linear))
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.BatchSize))(TFInference.predictMaps(rows, tokens))
    }
    withConf(TFSparkConf.BatchSize -> "2") {
      assert(TFInference.predictRDD(arrays, linear, batchSize = Setting.FromSession).count() === 1)
    }
  }

  test("unitOutputsAsArrays: the session's types the column; one given wins") {
    val df = spark.sql("SELECT array(1f, 2f) AS features")
    assert(TFInference.predictDataFrame(df, linear).schema("prediction").dataType === FloatType)
    withConf(TFSparkConf.UnitOutputsAsArrays -> "true") {
      val scored = TFInference.predictDataFrame(df, linear)
      assert(scored.schema("prediction").dataType.isInstanceOf[ArrayType])
      assert(scored.head().getSeq[Float](1).size === 1)
      assert(TFInference.predictDataFrame(df, linear, unitOutputsAsArrays = false).schema("prediction").dataType === FloatType)
    }
    withConf(TFSparkConf.UnitOutputsAsArrays -> "yes") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.UnitOutputsAsArrays))(TFInference.predictDataFrame(df, linear))
    }
  }

  test("rowLabel: the session's names rows in errors; one given wins; a column that does not exist is INVALID_CONFIG") {
    withConf(TFSparkConf.RowLabel -> "id") {
      checkError("INPUT_SHAPE_MISMATCH", Map("row" -> "row {id: 7}"))(TFInference.predictDataFrame(oneBad, linear).collect())
      val keyed = oneBad.withColumn("key", org.apache.spark.sql.functions.lit(70))
      checkError("INPUT_SHAPE_MISMATCH", Map("row" -> "row {key: 70}")) {
        TFInference.predictDataFrame(keyed, linear, rowLabel = Seq("key")).collect()
      }
    }
    withConf(TFSparkConf.RowLabel -> "nope") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.RowLabel))(TFInference.predictDataFrame(oneBad, linear))
    }
  }

  test("binaryOutputs: the session's entries for the model type its string outputs; the ones given win") {
    val session = spark
    import session.implicits._
    val df = Seq(0L, 1L).toDF("n")
    def typeOf(scored: DataFrame, key: String) = scored.schema("p").dataType.asInstanceOf[StructType](key).dataType
    assert(typeOf(TFInference.predictDataFrame(df, thumbnail, "p"), "png") === StringType)
    withConf(TFSparkConf.BinaryOutputs -> "thumbnail:png") {
      val scored = TFInference.predictDataFrame(df, thumbnail, "p")
      assert(typeOf(scored, "png") === BinaryType && typeOf(scored, "head") === StringType)
      assert(typeOf(TFInference.predictDataFrame(df, thumbnail, "p", binaryOutputs = Seq("head")), "png") === StringType)
      val maps = spark.sparkContext.parallelize(Seq[Map[String, Any]](Map("n" -> 0L)), 1)
      assert(TFInference.predictMaps(maps, thumbnail).collect().head("png").isInstanceOf[Array[Byte]], "predictMaps reads it too")
    }
    withConf(TFSparkConf.BinaryOutputs -> "thumbnail:pgn") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.BinaryOutputs, "got" -> "pgn"))(
        TFInference.predictDataFrame(df, thumbnail, "p")
      )
      val maps = spark.sparkContext.parallelize(Seq[Map[String, Any]](Map("n" -> 0L)), 1)
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.BinaryOutputs, "got" -> "pgn"))(TFInference.predictMaps(maps, thumbnail))
    }
  }

  test("the Transformer: params left unset take the session's settings, params set win") {
    val scorer = new TFModelTransformer().setModel("linear").setRepository(TestModels.modelsDir.getPath)
    withConf(TFSparkConf.NullPolicy -> "null", TFSparkConf.BatchSize -> "4", TFSparkConf.UnitOutputsAsArrays -> "true") {
      val scored = scorer.transform(holes)
      assert(batchSizes(scored) === Seq(4))
      assert(scored.schema("prediction").dataType.isInstanceOf[ArrayType])
      assert(scored.where("prediction IS NULL").select("id").collect().map(_.getInt(0)).toSeq === Seq(1))
      val set = scorer.copy(org.apache.spark.ml.param.ParamMap.empty).setBatchSize(2).setUnitOutputsAsArrays(false).setNullPolicy("error")
      val explicit = set.transform(holes)
      assert(batchSizes(explicit) === Seq(2) && explicit.schema("prediction").dataType === FloatType)
      checkError("NULL_INPUT", Map("model" -> "linear"))(explicit.collect())
    }
  }
}
