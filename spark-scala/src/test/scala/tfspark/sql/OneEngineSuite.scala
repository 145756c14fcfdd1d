package tfspark.sql

import java.io.File

import org.apache.spark.sql.execution.SparkPlan
import org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanHelper
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{SparkSessionFixture, TFInference, TestModels}
import tfspark.conf.NullPolicy
import tfspark.jobs.{BatchScore, BatchScoreOptions}
import tfspark.ml.TFModelTransformer
import tfspark.model.ModelRepository

/**
 * One engine under every entry point, in a session started WITHOUT `spark.sql.extensions`: the
 * DataFrame API, the Transformer and BatchScore build `tfpredict` columns, the batched rule is
 * installed at their first use, and their plans stay Spark plans (pruning, pushdown, `explain()`).
 */
class OneEngineSuite extends AnyFunSuite with SparkSessionFixture with AdaptiveSparkPlanHelper {

  override protected def withExtension: Boolean = false

  private lazy val passengers: String = {
    val out = new File(TestModels.tempDir("one-engine"), "passengers.parquet").getPath
    spark.read
      .option("header", "true")
      .option("inferSchema", "true")
      .csv(new File(TestModels.dataDir, "titanic/test.csv").getPath)
      .write
      .parquet(out)
    out
  }

  private def batchNodes(plan: SparkPlan): Seq[BatchEvalTFExec] = collect(plan) { case b: BatchEvalTFExec => b }

  /** The columns the Parquet scan reads, from `FileScan parquet [a#1,b#2]`. */
  private def readSchema(explained: String): String =
    "FileScan parquet \\[([^\\]]*)\\]".r.findFirstMatchIn(explained).map(_.group(1)).getOrElse(fail(s"no FileScan in:\n$explained"))

  test("the Transformer's plan is batched under a Parquet scan that reads only the columns it needs") {
    val scorer = new TFModelTransformer().setModel("titanic").setNullPolicy("fill")
    val scored = scorer.transform(spark.read.parquet(passengers)).select("PassengerId", "prediction.survived")
    val explained = scored.queryExecution.explainString(org.apache.spark.sql.execution.SimpleMode)
    info(explained)
    assert(explained.contains("BatchEvalTF [titanic/1:serving_default]"))
    val schema = readSchema(explained)
    assert(schema.contains("Name") && !schema.contains("Ticket"), s"Name feeds `name`; Ticket feeds no input and is not selected: $schema")
    assert(scored.count() === spark.read.parquet(passengers).count())
    assert(batchNodes(scored.queryExecution.executedPlan).size === 1)
  }

  test("SQL's struct(*) is cut to the fields that feed the model: the scan reads no other column") {
    TFSparkSQL.register(spark)
    spark.read.parquet(passengers).createOrReplaceTempView("passengers_parquet")
    spark.conf.set("spark.tfpredict.nullPolicy", "fill")
    try {
      val df = spark.sql("SELECT PassengerId, tfpredict('titanic', struct(*)).survived AS s FROM passengers_parquet")
      val schema = readSchema(df.queryExecution.explainString(org.apache.spark.sql.execution.SimpleMode))
      assert(schema.contains("Name") && !schema.contains("Ticket") && !schema.contains("Survived#"), schema)
      assert(df.count() === spark.read.parquet(passengers).count())
    } finally spark.conf.unset("spark.tfpredict.nullPolicy")
  }

  test("BatchScore's plan is batched under the Parquet scan; dropped columns are read only if they feed the model") {
    val options = BatchScoreOptions.parse(
      Seq("--model", "titanic", "--input", passengers, "--output", "unused", "--null-policy", "fill", "--drop", "Name,Ticket")
    )
    val (scored, model) = BatchScore.plan(spark, options)
    val explained = scored.queryExecution.explainString(org.apache.spark.sql.execution.SimpleMode)
    info(explained)
    assert(model === "titanic/1")
    assert(explained.contains("BatchEvalTF"))
    val schema = readSchema(explained)
    assert(schema.contains("Name") && !schema.contains("Ticket"), s"Name feeds `name`, then leaves the output: $schema")
    assert(!scored.columns.contains("Name") && !scored.columns.contains("Ticket"))
    assert(scored.count() === spark.read.parquet(passengers).count())
    assert(scored.where("prediction.survived = 1").count() > 0)
  }

  test("the DataFrame API and pyspark's register() install batching on a session started without the extension") {
    val linear = TFInference.ship(spark.sparkContext, ModelRepository(TestModels.modelsDir.getPath).resolve("linear"))
    val df = spark.range(0, 100, 1, 2).selectExpr("array(cast(id AS float), 1.0f) AS features")
    val viaApi = TFInference.predictDataFrame(df, linear, "p", batchSize = 16)
    assert(batchNodes(viaApi.queryExecution.executedPlan).map(_.batchSize) === Seq(16))
    TFSparkSQL.register(spark)
    val viaSql = spark.sql("SELECT tfpredict('linear', array(cast(id AS float), 1.0f)) AS p FROM range(0, 100, 1, 2)")
    assert(batchNodes(viaSql.queryExecution.executedPlan).size === 1)
    assert(viaSql.collect().map(_.getFloat(0)).toSeq === viaApi.collect().map(_.getFloat(1)).toSeq)
  }

  test("TFInference.predictColumn is the Column predictDataFrame appends, for any projection, batched") {
    val linear = TFInference.ship(spark.sparkContext, ModelRepository(TestModels.modelsDir.getPath).resolve("linear"))
    val df = spark.range(0, 40, 1, 2).selectExpr("id", "array(cast(id AS float), 1.0f) AS features")
    val projected = df.select(df("id"), (TFInference.predictColumn(df, linear, batchSize = 8) * 2f).as("twice"))
    assert(batchNodes(projected.queryExecution.executedPlan).map(_.batchSize) === Seq(8))
    val appended = TFInference.predictDataFrame(df, linear, "p", batchSize = 8).orderBy("id").collect().map(_.getFloat(2) * 2f)
    assert(projected.orderBy("id").collect().map(_.getFloat(1)).toSeq === appended.toSeq)
  }

  test("a call in WHERE and SELECT, or twice in SELECT, runs once per row") {
    TFSparkSQL.register(spark)
    spark.range(0, 1000, 1, 2).selectExpr("array(cast(id AS float) / 100, 1.0f) AS f").createOrReplaceTempView("shared_calls")
    spark.conf.set("spark.tfpredict.batchSize", "100")
    try {
      for (
        query <- Seq(
          "SELECT tfpredict('linear', f) AS p FROM shared_calls WHERE tfpredict('linear', f) > 3.0",
          "SELECT tfpredict('linear', f) AS p, tfpredict('linear', f) * 2 AS q FROM shared_calls"
        )
      ) {
        val df = spark.sql(query)
        val rows = df.collect()
        val nodes = batchNodes(df.queryExecution.executedPlan)
        assert(nodes.size === 1 && nodes.head.calls.size === 1, s"$query:\n${df.queryExecution.executedPlan}")
        // 2 partitions of 500 rows, 100 rows per batch: 10 batches if each row is scored once.
        assert(nodes.head.metrics("numBatches").value === 10L, query)
        assert(rows.nonEmpty)
      }
    } finally spark.conf.unset("spark.tfpredict.batchSize")
  }

  test("row by row only on request: spark.tfpredict.batchedSql=false") {
    TFSparkSQL.register(spark)
    spark.conf.set(ExtractTFPredict.EnabledKey, "false")
    try {
      val df = spark.sql("SELECT tfpredict('linear', array(1.0f, 2.0f)) AS p FROM range(3)")
      assert(batchNodes(df.queryExecution.executedPlan).isEmpty)
      assert(df.collect().forall(r => math.abs(r.getFloat(0) - 2.838135f) < 1e-5f))
    } finally spark.conf.unset(ExtractTFPredict.EnabledKey)
  }

  test("a null policy and batch size set on the Transformer reach the batched plan") {
    val scorer = new TFModelTransformer().setModel("titanic").setNullPolicy("null").setBatchSize(7)
    val scored = scorer.transform(spark.read.parquet(passengers))
    assert(batchNodes(scored.queryExecution.executedPlan).map(_.batchSize) === Seq(7))
    assert(scored.where("prediction IS NULL").count() > 0, "rows with a missing Age give null under the null policy")
    assert(NullPolicy.parse("null").contains(NullPolicy.ReturnNull))
  }
}
