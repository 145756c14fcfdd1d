package tfspark

import java.io.File

import org.apache.spark.rdd.RDD
import org.apache.spark.sql.types.{FloatType, StructType}
import org.scalatest.funsuite.AnyFunSuite

import tfspark.model.ModelRepository
import tfspark.conf.TFSparkConf
import tfspark.conf.NullPolicy

/** The README's Scala and SQL examples, as written there (data paths point at the test data). */
class ReadmeExamplesSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks with org.scalactic.Tolerance {

  private def data(relative: String) = new File(TestModels.dataDir, relative).getPath

  test("README Scala: DataFrame, RDD of maps, RDD of arrays and the driver") {
    val sc = spark.sparkContext
    val repo = ModelRepository(TestModels.modelsDir.getPath)
    val model = TFInference.ship(spark.sparkContext, repo.resolve("titanic"))
    val passengers = spark.read.option("header", true).option("inferSchema", true).csv(data("titanic/test.csv"))
    val scored = TFInference.predictDataFrame(passengers, model, outputCol = "survival", nullPolicy = NullPolicy.Fill)
    assert(scored.schema("survival").dataType.asInstanceOf[StructType].fieldNames.toSeq === Seq("probability", "survived"))
    assert(scored.count() === 179)

    val rows: RDD[Map[String, Any]] = sc.parallelize(Seq(Map("review" -> "A wonderful film")))
    val review = TFInference.predictMaps(rows, TFInference.ship(sc, repo.resolve("imdb"))).collect().head
    assert(review("probability").asInstanceOf[Float] > 0.5f)

    val linear = TFInference.ship(spark.sparkContext, repo.resolve("linear"))
    val featuresRdd = sc.parallelize(Seq(Array(1f, 2f), Array(3f, 5f)))
    assert(TFInference.predictRDD(featuresRdd, linear, batchSize = 1024).count() === 2)
    assert(TFInference.predictLocal(repo.resolve("linear"), Seq(Array(1f, 2f))).head.head === 2.838135f +- 1e-5f)
  }

  test("README SQL: every statement of the SQL section runs and is typed from the signature") {
    val session = spark
    import session.implicits._
    Seq((Seq(1f, 2f), 1.0f, 2.0f)).toDF("features", "x1", "x2").createOrReplaceTempView("t")
    Seq("A wonderful, moving film.", "Dull and far too long.").toDF("review").createOrReplaceTempView("reviews")
    spark.read.option("header", "true").option("inferSchema", "true").csv(data("titanic/test.csv")).createOrReplaceTempView("passengers")
    assert(spark.sql("SELECT tfpredict(features) FROM t").schema.head.dataType === FloatType)
    assert(spark.sql("SELECT tfpredict('linear', array(x1, x2)) FROM t").head().getFloat(0) === 2.838135f +- 1e-5f)
    val positive = spark.sql("SELECT review, tfpredict('imdb', review) AS positive FROM reviews").collect().map(_.getFloat(1))
    assert(positive(0) > 0.5f && positive(1) < 0.5f)
    spark.sql("SET spark.tfpredict.nullPolicy=fill")
    try {
      assert(spark.sql("SELECT tfpredict('titanic', struct(*)) AS p FROM passengers").count() === 179)
      assert(
        spark
          .sql("SELECT PassengerId, tfpredict('titanic', struct(*)).survived FROM passengers")
          .schema(1)
          .dataType
          .simpleString === "bigint"
      )
    } finally spark.conf.unset(TFSparkConf.NullPolicy)
    val features = Seq.fill(15)("0.0f").mkString(", ")
    assert(spark.sql(s"SELECT tfpredict('titanic:features', array($features))").head().getFloat(0) > 0f)
    val cars = spark.sql(s"SELECT tfpredict('cifar2', content).label FROM binaryFile.`${data("cifar2/test/automobile")}`")
    assert(cars.collect().count(_.getString(0) == "automobile") > 900)
    checkError("NULL_INPUT") { spark.sql("SELECT tfpredict(CAST(NULL AS ARRAY<FLOAT>))").collect() }
  }
}
