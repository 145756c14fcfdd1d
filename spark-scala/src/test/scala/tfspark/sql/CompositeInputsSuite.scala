package tfspark.sql

import java.io.File

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.JsonNode
import com.fasterxml.jackson.databind.json.JsonMapper
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TFInference, TestModels}
import tfspark.conf.TFSparkConf
import tfspark.model.{Composite, ModelRepository, SavedModelHandle, TFDType}

/**
 * Composite and unknown-rank signatures (`make_test_models.py`, issue 17): `ragged/1` takes
 * `tf.RaggedTensorSpec` inputs, one input each to the user, fed from array columns whose rows
 * have different lengths, and must agree exactly with Python TF (`assets.extra/expected_ragged.json`)
 * in one batch and across batches; `sparse_tf1/1` and `sparse_tf2/1` are refused naming "sparse";
 * `unknown_rank/1` (a TF1 placeholder without a shape) is served with the rank the data gives.
 */
class CompositeInputsSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  override protected def repositoryRoot: String = TestModels.testModelsDir.getPath

  private val repository = ModelRepository(TestModels.testModelsDir.getPath)

  /** Python TF's cases per signature: the rows (JSON arrays) and each output's values per row. */
  private lazy val expected: JsonNode =
    JsonMapper.builder().build().readTree(new File(TestModels.testModelsDir, "ragged/1/assets.extra/expected_ragged.json"))

  private def rowsOf(signature: String): Seq[JsonNode] = expected.get(signature).get("rows").elements().asScala.toSeq

  private def outputOf(signature: String, output: String): Seq[JsonNode] =
    expected.get(signature).get("outputs").get(output).elements().asScala.toSeq

  /** A JSON row as a Scala value of `depth` nested Seqs of Float. */
  private def toScala(node: JsonNode, depth: Int): Any =
    if (depth == 0) node.floatValue() else node.elements().asScala.map(toScala(_, depth - 1)).toSeq

  /** `id`, and `x` of `depth` nested float arrays: the signature's rows in order. */
  private def frame(signature: String, depth: Int): DataFrame = {
    val t = (0 until depth).foldLeft[DataType](FloatType)((e, _) => ArrayType(e, containsNull = false))
    val schema = StructType(Seq(StructField("id", IntegerType), StructField("x", t)))
    val rows = rowsOf(signature).zipWithIndex.map { case (r, i) => Row(i, toScala(r, depth)) }
    spark.createDataFrame(spark.sparkContext.parallelize(rows, 1), schema)
  }

  private def withConf[T](pairs: (String, String)*)(body: => T): T = {
    pairs.foreach { case (k, v) => spark.conf.set(k, v) }
    try body
    finally pairs.foreach { case (k, _) => spark.conf.unset(k) }
  }

  private def floats(nodes: Seq[JsonNode]): Seq[Float] = nodes.map(_.floatValue())

  test("a ragged argument is one input to the user, its components read from the object graph") {
    val handle = SavedModelHandle.load(repository.resolve("ragged"))
    try {
      val serving = handle.signature("serving_default")
      assert(serving.inputs.map(_.key) === Seq("x"))
      val x = serving.inputs.head
      assert(x.dtype === TFDType.Float32 && x.shape === Some(Seq(-1L, -1L)))
      assert(x.composite === Some(Composite.Ragged(1, TFDType.Int64, Seq("x", "x_1"))))
      val nested = handle.signature("nested").inputs
      assert(nested.map(_.composite) === Seq(Some(Composite.Ragged(2, TFDType.Int32, Seq("x", "x_1", "x_2")))))
      assert(handle.signature("points").inputs.head.shape === Some(Seq(-1L, -1L, 3L)))
      assert(handle.signature("doubled").outputs.head.composite === Some(Composite.Encoded("ragged")))
    } finally handle.close()
  }

  test("SQL: ragged_rank 1 from array<float> with rows of different lengths (one empty) agrees exactly with Python TF") {
    frame("serving_default", 1).createOrReplaceTempView("ragged_rows")
    for (batch <- Seq("64", "3", "1")) withConf(TFSparkConf.BatchSize -> batch) {
      val scored = spark.sql("SELECT id, tfpredict('ragged', x) AS p FROM ragged_rows ORDER BY id")
      val out = scored.collect().map(_.getStruct(1))
      assert(out.map(_.getAs[Float]("total")).toSeq === floats(outputOf("serving_default", "total")), s"batch $batch")
      assert(out.map(_.getAs[Float]("weighted")).toSeq === floats(outputOf("serving_default", "weighted")), s"batch $batch")
      assert(out.map(_.getAs[Long]("length")).toSeq === outputOf("serving_default", "length").map(_.longValue()), s"batch $batch")
    }
  }

  test("SQL: ragged_rank 2 (int32 row_splits) from array<array<float>>, empty rows and empty inner rows, agrees exactly") {
    frame("nested", 2).createOrReplaceTempView("nested_rows")
    for (batch <- Seq("64", "2", "1")) withConf(TFSparkConf.BatchSize -> batch) {
      val out = spark.sql("SELECT id, tfpredict('ragged:nested', x) AS p FROM nested_rows ORDER BY id").collect().map(_.getStruct(1))
      assert(out.map(_.getAs[Float]("total")).toSeq === floats(outputOf("nested", "total")), s"batch $batch")
      assert(out.map(_.getAs[Float]("weighted")).toSeq === floats(outputOf("nested", "weighted")), s"batch $batch")
    }
  }

  test("DataFrame API: a ragged row dimension followed by a fixed inner dimension agrees exactly") {
    val model = TFInference.ship(spark.sparkContext, repository.resolve("ragged"))
    for (batch <- Seq(64, 2)) {
      val scored = TFInference.predictDataFrame(frame("points", 2), model, "p", Map("p" -> "x"), batchSize = batch, signature = "points")
      val out = scored.orderBy("id").collect().map(_.getAs[scala.collection.Seq[Float]]("p").toSeq)
      assert(out.toSeq === outputOf("points", "total").map(r => floats(r.elements().asScala.toSeq)), s"batch $batch")
    }
  }

  test("a fixed inner dimension that does not match is INPUT_SHAPE_MISMATCH naming the row") {
    val model = TFInference.ship(spark.sparkContext, repository.resolve("ragged"))
    val schema = StructType(Seq(StructField("x", ArrayType(ArrayType(FloatType, false), false))))
    val df = spark.createDataFrame(spark.sparkContext.parallelize(Seq(Row(Seq(Seq(1f, 2f))))), schema)
    checkError("INPUT_SHAPE_MISMATCH", Map("input" -> "p")) {
      TFInference.predictDataFrame(df, model, "p", Map("p" -> "x"), signature = "points").collect()
    }
  }

  test("a null element of a ragged row is NULL_INPUT naming the row; a wrong type is INPUT_TYPE_MISMATCH") {
    val schema = StructType(Seq(StructField("x", ArrayType(FloatType, containsNull = true))))
    spark.createDataFrame(spark.sparkContext.parallelize(Seq(Row(Seq(1f, null))), 1), schema).createOrReplaceTempView("null_elements")
    val e = checkError("NULL_INPUT", Map("input" -> "x"))(spark.sql("SELECT tfpredict('ragged', x) FROM null_elements").collect())
    assert(e.getMessage.contains("element 1"), e.getMessage)
    val t = checkError("INPUT_TYPE_MISMATCH", Map("input" -> "x"))(spark.sql("SELECT tfpredict('ragged', array(array(1.0f)))").collect())
    assert(t.getMessage.contains("array<float>"), t.getMessage)
  }

  test("a ragged output is UNSUPPORTED_SIGNATURE naming ragged and the output; the model's other signatures load") {
    val e = checkError("UNSUPPORTED_SIGNATURE", Map("signature" -> "doubled")) {
      spark.sql("SELECT tfpredict('ragged:doubled', array(1.0f, 2.0f))").collect()
    }
    assert(e.getMessage.contains("output doubled is ragged"), e.getMessage)
  }

  test("a TF1 sparse_placeholder is refused at load: UNSUPPORTED_SIGNATURE naming sparse, the input and what to re-export") {
    val e = checkError("UNSUPPORTED_SIGNATURE", Map("signature" -> "serving_default")) {
      spark.sql("SELECT tfpredict('sparse_tf1', array(1.0f))").collect()
    }
    assert(e.getMessage.contains("input bow is sparse (a tf.compat.v1.sparse_placeholder)"), e.getMessage)
    assert(e.getMessage.contains("re-export"), e.getMessage)
  }

  test("a TF1 ragged composite_tensor TensorInfo is refused at load: UNSUPPORTED_SIGNATURE naming ragged and what to re-export") {
    val e = checkError("UNSUPPORTED_SIGNATURE", Map("signature" -> "serving_default")) {
      spark.sql("SELECT tfpredict('ragged_tf1', array(1.0f))").collect()
    }
    assert(e.getMessage.contains("input x is ragged, encoded as one composite TensorInfo"), e.getMessage)
    assert(e.getMessage.contains("tf.RaggedTensorSpec"), e.getMessage)
  }

  test("a TF2 SparseTensorSpec is refused at analysis: UNSUPPORTED_SIGNATURE naming sparse and the input") {
    val e = checkError("UNSUPPORTED_SIGNATURE", Map("signature" -> "serving_default")) {
      spark.sql("SELECT tfpredict('sparse_tf2', array(1.0f))").collect()
    }
    assert(e.getMessage.contains("input bow is sparse (a tf.SparseTensorSpec)"), e.getMessage)
  }

  /** unknown_rank/1's serving_default in Scala: y = 2x+1, row_sum = the sum over all but the first axis (exact on these values). */
  private val vectors = Seq(Seq(1.5f, -2f, 0.25f), Seq(3f, 4f, 5f), Seq(0f, 0f, 8f))

  test("SQL and DataFrame API: an unknown-rank TF1 input takes its rank from the column, its outputs the rank the model returns") {
    val session = spark
    import session.implicits._
    val df = vectors.zipWithIndex.map { case (v, i) => (i, v) }.toDF("id", "x").repartition(1)
    df.createOrReplaceTempView("unknown_rank_rows")
    val scored = spark.sql("SELECT id, tfpredict('unknown_rank', x) AS p FROM unknown_rank_rows ORDER BY id")
    val p = scored.schema("p").dataType.asInstanceOf[StructType]
    assert(p("y").dataType === ArrayType(FloatType, containsNull = false) && p("row_sum").dataType === FloatType)
    val out = scored.collect().map(_.getStruct(1))
    assert(out.map(_.getAs[scala.collection.Seq[Float]]("y").toSeq).toSeq === vectors.map(_.map(v => 2f * v + 1f)))
    assert(out.map(_.getAs[Float]("row_sum")).toSeq === vectors.map(_.sum))

    // the same model on array<array<float>>: rank 3 in, y of rank 3 out
    val model = TFInference.ship(spark.sparkContext, repository.resolve("unknown_rank"))
    val matrices = Seq((0, Seq(Seq(1f, 2f), Seq(3f, 4f))), (1, Seq(Seq(-1f, 0.5f), Seq(0f, 8f)))).toDF("id", "x")
    val byApi = TFInference.predictDataFrame(matrices, model, "p", batchSize = 1).orderBy("id").collect().map(_.getAs[Row]("p"))
    assert(
      byApi.map(_.getAs[scala.collection.Seq[scala.collection.Seq[Float]]]("y").map(_.toSeq).toSeq).toSeq ===
        Seq(Seq(Seq(3f, 5f), Seq(7f, 9f)), Seq(Seq(-1f, 2f), Seq(1f, 17f)))
    )
    assert(byApi.map(_.getAs[Float]("row_sum")).toSeq === Seq(10f, 7.5f))
  }

  test("an unknown-rank output whose rank changes on a batch is MODEL_EXECUTION_FAILED naming the output and both ranks") {
    val session = spark
    import session.implicits._
    Seq(Seq(1f, 2f), Seq(2000f, 1f)).toDF("x").repartition(1).createOrReplaceTempView("growing")
    withConf(TFSparkConf.BatchSize -> "1") {
      assert(
        spark.sql("SELECT tfpredict('unknown_rank:varying', x) AS g FROM growing").schema("g").dataType === ArrayType(FloatType, false)
      )
      val e = checkError("MODEL_EXECUTION_FAILED")(spark.sql("SELECT tfpredict('unknown_rank:varying', x) FROM growing").collect())
      assert(e.getMessage.contains("output grow returned rank 3") && e.getMessage.contains("fixed rank 2"), e.getMessage)
    }
  }

  test("RDD[Array[Float]] cannot probe: an unknown-rank output there is UNSUPPORTED_SIGNATURE saying what to re-export") {
    val model = TFInference.ship(spark.sparkContext, repository.resolve("unknown_rank"))
    val e = checkError("UNSUPPORTED_SIGNATURE") {
      TFInference.predictRDD(spark.sparkContext.parallelize(Seq(Array(1f))), model, 1, "varying").collect()
    }
    assert(e.getMessage.contains("has unknown rank") && e.getMessage.contains("[None, 4]"), e.getMessage)
  }
}
