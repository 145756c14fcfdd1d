package tfspark

import org.apache.spark.sql.types.{ArrayType, FloatType}
import org.scalatest.funsuite.AnyFunSuite

import tfspark.model.ModelRepository

/** The RDD and SQL paths agree with the driver on the book's rows, whatever the batching. */
class InferencePathsSuite extends AnyFunSuite with SparkSessionFixture {

  private def location = ModelRepository(TestModels.modelsDir.getPath).resolve("linear")
  private val rows = (0 until 103).map(i => Array(i * 0.5f - 20f, 7f - i * 0.25f))

  private def expected: Seq[Float] = TFInference.predictLocal(location, rows).map(_.head)

  /** Batches of different sizes may round differently in the last bit (oneDNN); allow 1e-6 relative. */
  private def assertClose(got: Seq[Float], want: Seq[Float], clue: String = ""): Unit = {
    assert(got.length === want.length, clue)
    got.zip(want).zipWithIndex.foreach { case ((g, w), i) =>
      assert(math.abs(g - w) <= 1e-5 + 1e-6 * math.abs(w), s"$clue row $i: got $g, expected $w")
    }
  }

  test("RDD predictions keep row order for every batch size, including ones that do not divide the rows") {
    val shipped = TFInference.ship(spark.sparkContext, location)
    for (batchSize <- Seq(1, 7, 64, 1024)) {
      val got = TFInference.predictRDD(spark.sparkContext.parallelize(rows, 4), shipped, batchSize).map(_.head).collect().toSeq
      assertClose(got, expected, s"batch size $batchSize")
    }
  }

  test("RDD path handles empty partitions and an empty RDD") {
    val shipped = TFInference.ship(spark.sparkContext, location)
    assert(TFInference.predictRDD(spark.sparkContext.parallelize(rows.take(2), 8), shipped).count() === 2)
    assert(TFInference.predictRDD(spark.sparkContext.emptyRDD[Array[Float]], shipped).count() === 0)
  }

  test("RDD path tolerates an upstream iterator that reuses one array for every row") {
    val shipped = TFInference.ship(spark.sparkContext, location)
    val local = rows
    val reused = spark.sparkContext.parallelize(0 until local.length, 2).mapPartitions { ids =>
      val buffer = new Array[Float](2)
      ids.map { i => System.arraycopy(local(i), 0, buffer, 0, 2); buffer }
    }
    assertClose(TFInference.predictRDD(reused, shipped, batchSize = 16).map(_.head).collect().toSeq, expected)
  }

  test("predictDataFrame appends a float prediction column and keeps every input column") {
    val session = spark
    import session.implicits._
    val df = rows.zipWithIndex.map { case (r, i) => (i, s"row$i", r.map(_.toDouble).toSeq) }.toDF("id", "name", "xs").repartition(3)
    val shipped = TFInference.ship(spark.sparkContext, location)
    val scored = TFInference.predictDataFrame(df, shipped, inputCols = Map("features" -> "xs"), batchSize = 10)
    assert(scored.columns.toSeq === Seq("id", "name", "xs", "prediction"))
    assert(scored.schema("prediction").dataType === FloatType)
    val got = scored.orderBy("id").collect()
    assert(got.map(_.getString(1)).toSeq === rows.indices.map(i => s"row$i"))
    assertClose(got.map(_.getFloat(3)).toSeq, expected)
    val byName = TFInference.predictDataFrame(df.withColumnRenamed("xs", "Features"), shipped, "p").orderBy("id")
    assertClose(byName.collect().map(_.getAs[Float]("p")).toSeq, expected)
  }

  test("tfpredict(features) uses the session's default model and is typed from the signature") {
    val session = spark
    import session.implicits._
    rows.zipWithIndex.map { case (r, i) => (i, r.toSeq) }.toDF("id", "features").createOrReplaceTempView("features_table")
    val df = spark.sql("SELECT id, tfpredict(features) AS prediction FROM features_table ORDER BY id")
    assert(df.schema("prediction").dataType === FloatType)
    assertClose(df.collect().map(_.getFloat(1)).toSeq, expected)
  }

  test("tfpredict('titanic', struct(*)) scores the raw CSV as Spark reads it (fill policy for its missing values)") {
    spark.read
      .option("header", "true")
      .option("inferSchema", "true")
      .csv(new java.io.File(TestModels.dataDir, "titanic/test.csv").getPath)
      .createOrReplaceTempView("passengers")
    spark.conf.set(tfspark.conf.TFSparkConf.NullPolicy, "fill")
    try {
      val df = spark.sql("SELECT Survived, tfpredict('titanic', struct(*)) AS p FROM passengers")
      assert(df.schema("p").dataType.simpleString === "struct<probability:float,survived:bigint>")
      val rows = df.collect()
      assert(rows.length === 179)
      assert(rows.count(r => r.getInt(0).toLong == r.getStruct(1).getLong(1)) > 0.75 * 179)
    } finally spark.conf.unset(tfspark.conf.TFSparkConf.NullPolicy)
  }

  test("spark.tfpredict.unitOutputsAsArrays gives a [-1,1] output as a one-element array") {
    spark.conf.set(tfspark.conf.TFSparkConf.UnitOutputsAsArrays, "true")
    try {
      val df = spark.sql("SELECT tfpredict(array(1.0f, 2.0f)) AS p")
      assert(df.schema("p").dataType === ArrayType(FloatType, containsNull = false))
      assert(df.head().getSeq[Float](0).size === 1)
    } finally spark.conf.unset(tfspark.conf.TFSparkConf.UnitOutputsAsArrays)
  }

  test("double and integer arrays are narrowed to float32 as the signature expects") {
    val fromDoubles = spark.sql("SELECT tfpredict(array(1.0D, 2.0D))").head().getFloat(0)
    val fromInts = spark.sql("SELECT tfpredict('linear', array(1, 2))").head().getFloat(0)
    val reference = TFInference.predictLocal(location, Seq(Array(1f, 2f))).head.head
    assert(fromDoubles === reference)
    assert(fromInts === reference)
  }

  test("tfpredict works in filters, aggregates and with LIMIT") {
    val session = spark
    import session.implicits._
    rows.zipWithIndex.map { case (r, i) => (i, r.toSeq) }.toDF("id", "features").createOrReplaceTempView("features_table")
    val positives = spark.sql("SELECT count(*) FROM features_table WHERE tfpredict(features) > 0").head().getLong(0)
    assert(positives === expected.count(_ > 0).toLong)
    val sum = spark.sql("SELECT sum(tfpredict(features)) FROM features_table").head().getDouble(0)
    assert(math.abs(sum - expected.map(_.toDouble).sum) < 1e-2)
    assert(spark.sql("SELECT tfpredict(features) FROM features_table LIMIT 3").count() === 3)
    assert(spark.sql("SELECT tfpredict(features) FROM features_table").schema.head.dataType.isInstanceOf[FloatType.type])
    assert(!spark.sql("SELECT tfpredict(features) FROM features_table").schema.head.dataType.isInstanceOf[ArrayType])
  }
}
