package tfspark.sql

import org.apache.spark.sql.{DataFrame, Row}
import org.scalatest.funsuite.AnyFunSuite

import tfspark.conf.TFSparkConf
import tfspark.{ErrorChecks, SparkSessionFixture, TestModels}

/**
 * The SQL extension batches `tfpredict`: EXPLAIN shows `BatchEvalTF`, and every query shape gives
 * the rows of row-by-row evaluation (`spark.tfpredict.batchedSql=false`), floats equal up to the
 * last bits that TF's kernels round differently for different batch sizes.
 */
class BatchedSqlSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  override protected def extraConf: Map[String, String] = Map(TFSparkConf.BatchSize -> "16")

  override protected def onSessionStarted(): Unit = {
    val session = spark
    import session.implicits._
    (0 until 200)
      .map(i => (i, if (i % 17 == 0) null else Seq(i * 0.25f - 20f, 7f - i * 0.5f), (0 until 15).map(j => ((i + j) % 5).toFloat)))
      .toDF("id", "f", "t")
      .repartition(3)
      .createOrReplaceTempView("points")
    (0 until 50).map(i => (i, s"name$i")).toDF("id", "name").createOrReplaceTempView("names")
    // Titanic's raw columns with the model's missing values (NaN, "") instead of nulls.
    spark.read
      .option("header", "true")
      .option("inferSchema", "true")
      .csv(new java.io.File(TestModels.dataDir, "titanic/test.csv").getPath)
      .selectExpr(
        "PassengerId",
        "Pclass",
        "Name",
        "Sex",
        "coalesce(Age, CAST('NaN' AS DOUBLE)) AS Age",
        "SibSp",
        "Parch",
        "coalesce(Fare, CAST('NaN' AS DOUBLE)) AS Fare",
        "coalesce(Cabin, '') AS Cabin",
        "coalesce(Embarked, '') AS Embarked"
      )
      .repartition(2)
      .createOrReplaceTempView("passengers")
  }

  test("tfpredict('m', col1, col2, ...) feeds a struct of the columns, as pyspark's tfpredict(\"m\", \"col1\", ...) does") {
    val columns = "Pclass, Name, Sex, Age, SibSp, Parch, Fare, Cabin, Embarked"
    val listed = spark.sql(s"SELECT PassengerId, tfpredict('titanic', $columns).probability AS p FROM passengers").collect()
    val struct = spark.sql(s"SELECT PassengerId, tfpredict('titanic', struct($columns)).probability AS p FROM passengers").collect()
    assert(listed.length === 179)
    assert(listed.map(r => r.getInt(0) -> r.getFloat(1)).toMap === struct.map(r => r.getInt(0) -> r.getFloat(1)).toMap)
    // The first argument still names the model; no argument at all says what the forms are.
    checkError("INVALID_ARGUMENT", Map("what" -> "the first argument of tfpredict")) {
      spark.sql(s"SELECT tfpredict(Name, Sex, Age) FROM passengers")
    }
    val none = checkError("INVALID_ARGUMENT", Map("what" -> "the arguments of tfpredict", "got" -> "none")) {
      spark.sql("SELECT tfpredict()")
    }
    assert(none.getMessage.contains("('model', col1, col2, ...)"), none.getMessage)
  }

  private def both(query: String): (Seq[Row], Seq[Row]) = {
    def run(batched: Boolean) = {
      spark.conf.set(ExtractTFPredict.EnabledKey, batched.toString)
      try spark.sql(query).collect().toSeq.sortBy(_.get(0).toString)
      finally spark.conf.unset(ExtractTFPredict.EnabledKey)
    }
    (run(batched = true), run(batched = false))
  }

  /**
   * Equal rows, except that floats may differ in the last bits: TF's kernels (oneDNN) round a
   * batch of 16 differently from a batch of 1. Integers, strings and row order must match exactly.
   */
  private def assertSame(batched: Seq[Row], rowByRow: Seq[Row]): Unit = {
    def same(a: Any, b: Any): Boolean = (a, b) match {
      case (x: Float, y: Float) => x == y || math.abs(x - y) <= 1e-5 + 1e-6 * math.abs(y)
      case (x: Double, y: Double) => x == y || math.abs(x - y) <= 1e-5 + 1e-6 * math.abs(y)
      case (x: Row, y: Row) => x.length == y.length && x.toSeq.zip(y.toSeq).forall { case (p, q) => same(p, q) }
      case _ => a == b
    }
    assert(batched.size === rowByRow.size)
    batched.zip(rowByRow).foreach { case (x, y) => assert(same(x, y), s"$x != $y") }
  }

  private def plan(query: String): String = spark.sql(query).queryExecution.executedPlan.toString + explain(spark.sql(query))

  private def explain(df: DataFrame): String =
    df.queryExecution.explainString(org.apache.spark.sql.execution.ExplainMode.fromString("simple"))

  private val shapes = Seq(
    "plain projection" -> "SELECT id, tfpredict('linear', f) AS p FROM points WHERE f IS NOT NULL",
    "filter on the prediction" -> "SELECT id FROM points WHERE f IS NOT NULL AND tfpredict('linear', f) > 0",
    "filter and projection of the same call" ->
      "SELECT id, tfpredict('linear', f) AS p FROM points WHERE f IS NOT NULL AND tfpredict('linear', f) > 0",
    "prediction in an expression" -> "SELECT id, tfpredict('linear', f) * 2 + 1 AS p FROM points WHERE f IS NOT NULL",
    "two models and a repeated call" ->
      ("SELECT id, tfpredict('linear', f) AS a, tfpredict('titanic:features', t) AS b, tfpredict('linear', f) + 1 AS c " +
        "FROM points WHERE f IS NOT NULL"),
    "nested calls" -> "SELECT id, tfpredict('linear', array(tfpredict('linear', f), 1.0f)) AS p FROM points WHERE f IS NOT NULL",
    "CASE skips rows it must not score" -> "SELECT id, CASE WHEN f IS NULL THEN -1 ELSE tfpredict('linear', f) END AS p FROM points",
    "join" -> "SELECT n.name, tfpredict('linear', p.f) AS p FROM points p JOIN names n ON p.id = n.id WHERE p.f IS NOT NULL",
    "group by the prediction's sign" ->
      "SELECT tfpredict('linear', f) > 0 AS positive, count(*) FROM points WHERE f IS NOT NULL GROUP BY 1",
    "struct outputs" -> "SELECT id, tfpredict('linear', f) AS p, tfpredict('titanic:features', t) AS q FROM points WHERE f IS NOT NULL",
    "subquery" -> "SELECT max(p) FROM (SELECT tfpredict('linear', f) AS p FROM points WHERE f IS NOT NULL)",
    "inside aggregate functions" ->
      ("SELECT id % 2 AS k, sum(tfpredict('linear', f)) AS s, max(tfpredict('linear', f) * 2) AS m, count(*) AS n " +
        "FROM points WHERE f IS NOT NULL GROUP BY id % 2"),
    "struct(*) of columns, read straight from the row" -> "SELECT PassengerId, tfpredict('titanic', struct(*)) AS p FROM passengers",
    "a struct of computed fields" ->
      ("SELECT PassengerId, tfpredict('titanic', named_struct('pclass', Pclass + 0, 'name', trim(Name), 'sex', lower(Sex), " +
        "'age', Age, 'sibsp', SibSp, 'parch', Parch, 'fare', Fare * 1.0, 'cabin', Cabin, 'embarked', Embarked)) AS p FROM passengers")
  )

  for ((name, query) <- shapes) {
    test(s"same results batched and row by row: $name") {
      if (!name.startsWith("CASE")) assert(plan(query).contains("BatchEvalTF"), s"not batched: ${explain(spark.sql(query))}")
      val (batched, rowByRow) = both(query)
      assert(batched.nonEmpty)
      assertSame(batched, rowByRow)
    }
  }

  test("a struct of columns read from the row equals the struct built per row") {
    val direct = spark.sql(shapes.find(_._1.startsWith("struct(*)")).get._2).collect().sortBy(_.getInt(0)).toSeq
    val built = spark.sql(shapes.find(_._1.startsWith("a struct of computed")).get._2).collect().sortBy(_.getInt(0)).toSeq
    assert(direct.size === 179 && direct === built)
  }

  test("EXPLAIN shows BatchEvalTF with the extension, and no such node when it is off") {
    val query = "SELECT id, tfpredict('linear', f) AS p FROM points WHERE f IS NOT NULL"
    assert(plan(query).contains("BatchEvalTF [linear/1:serving_default]"))
    spark.conf.set(ExtractTFPredict.EnabledKey, "false")
    try assert(!plan(query).contains("BatchEvalTF"))
    finally spark.conf.unset(ExtractTFPredict.EnabledKey)
    info(explain(spark.sql(query)))
  }

  test("a call in an aggregate function with a FILTER clause stays row by row: the rows the clause leaves out are never scored") {
    val query = "SELECT sum(tfpredict('linear', f)) FILTER (WHERE f IS NOT NULL) AS s, count(*) AS n FROM points"
    assert(!plan(query).contains("BatchEvalTF"), explain(spark.sql(query)))
    val rows = spark.sql(query).collect()
    assert(rows.length === 1 && !rows.head.isNullAt(0), "null rows of f were left out, not scored (NULL_INPUT)")
  }

  test("a call inside a CASE branch stays row by row; LIMIT and whole-stage codegen off give the same rows") {
    assert(!plan("SELECT CASE WHEN f IS NULL THEN 0 ELSE tfpredict('linear', f) END FROM points").contains("BatchEvalTF"))
    val (limited, _) = both("SELECT id, tfpredict('linear', f) AS p FROM points WHERE f IS NOT NULL ORDER BY id LIMIT 7")
    assert(limited.size === 7)
    spark.conf.set("spark.sql.codegen.wholeStage", "false")
    try {
      val (batched, rowByRow) = both(shapes.head._2)
      assertSame(batched, rowByRow)
    } finally spark.conf.unset("spark.sql.codegen.wholeStage")
  }

  test("one Session.run per batch: the batch metric counts ceil(rows / batchSize) per partition") {
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    try {
      val df = spark.sql("SELECT tfpredict('linear', f) FROM (SELECT * FROM points WHERE f IS NOT NULL) ")
      df.collect()
      val exec = df.queryExecution.executedPlan.collectFirst { case e: BatchEvalTFExec => e }.getOrElse(fail("no BatchEvalTFExec"))
      val rows = exec.metrics("numOutputRows").value
      val batches = exec.metrics("numBatches").value
      info(s"$rows rows in $batches batches of at most 16")
      assert(rows === 188)
      assert(batches >= 188 / 16 && batches <= 188 / 16 + 3)
    } finally spark.conf.unset("spark.sql.adaptive.enabled")
  }

  test("row errors still name the row, and the null policy applies per call") {
    checkError("NULL_INPUT", Map("model" -> "linear")) {
      spark.sql("SELECT tfpredict('linear', f) FROM points").collect()
    }
    spark.conf.set(TFSparkConf.NullPolicy, "null")
    try assert(spark.sql("SELECT tfpredict('linear', f) AS p FROM points").where("p IS NULL").count() === 12)
    finally spark.conf.unset(TFSparkConf.NullPolicy)
    checkError("INPUT_SHAPE_MISMATCH", Map("got" -> "3")) {
      spark.sql("SELECT tfpredict('linear', array(1f, 2f, 3f)) FROM points").collect()
    }
  }
}
