package tfspark.sql

import java.io.File
import java.nio.file.Files

import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.execution.SparkPlan
import org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanHelper
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TestModels}
import tfspark.conf.TFSparkConf

/**
 * The columnar exec and the row exec over the same cases: every case runs twice, once with
 * `spark.tfpredict.columnar.enabled=true` over a columnar child (a vectorized Parquet scan, one
 * file per table, so both execs see one partition in the same order and cut the same batches),
 * once with it off (the row exec over `ColumnarToRow`), and the two must give identical rows, in
 * order, and identical errors and metrics. Each run checks which exec the plan chose.
 */
class ColumnarEngineSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks with AdaptiveSparkPlanHelper {

  private def withConf[T](pairs: (String, String)*)(body: => T): T =
    try { pairs.foreach { case (k, v) => spark.conf.set(k, v) }; body }
    finally pairs.foreach { case (k, _) => spark.conf.unset(k) }

  private def columnarNodes(plan: SparkPlan) = collect(plan) { case b: BatchEvalTFColumnarExec => b }
  private def rowNodes(plan: SparkPlan) = collect(plan) { case b: BatchEvalTFExec => b }

  /** Writes `df` as one Parquet file and registers it as `name`. */
  private def parquetView(df: DataFrame, name: String): Unit = {
    val out = new File(TestModels.tempDir("columnar-engine"), s"$name.parquet").getPath
    df.coalesce(1).write.parquet(out)
    spark.read.parquet(out).createOrReplaceTempView(name)
  }

  private lazy val tables: Unit = {
    parquetView(
      spark.read
        .option("header", "true")
        .option("inferSchema", "true")
        .csv(new File(TestModels.dataDir, "titanic/test.csv").getPath),
      "passengers"
    )
    // 3000 rows: row 777 is 3 wide (INPUT_SHAPE_MISMATCH), row 500 holds a null element, row 600 is null.
    parquetView(
      spark
        .range(3000)
        .selectExpr(
          "id",
          "CASE WHEN id = 777 THEN array(1f, 2f, 3f) WHEN id = 500 THEN array(1f, CAST(NULL AS FLOAT)) " +
            "WHEN id = 600 THEN CAST(NULL AS array<float>) ELSE array(CAST(id % 13 AS FLOAT) / 3, CAST(id % 7 AS FLOAT)) END AS features",
          "concat('passenger ', id) AS note",
          "array(CAST(id % 5 AS FLOAT), 1f) AS other"
        ),
      "vectors"
    )
    // 12 CIFAR2 images and 2 files that are not images, as a Parquet table of (path, content).
    val dir = TestModels.tempDir("columnar-images")
    new File(TestModels.dataDir, "cifar2/test/automobile").listFiles().sortBy(_.getName).take(12).foreach { f =>
      Files.copy(f.toPath, new File(dir, f.getName).toPath)
    }
    Files.write(new File(dir, "broken.jpg").toPath, Array[Byte](1, 2, 3))
    Files.write(new File(dir, "notes.jpg").toPath, "not an image".getBytes("UTF-8"))
    parquetView(spark.read.format("binaryFile").load(dir.getPath).select("path", "content").orderBy("path"), "images")
    // The same images without their path: nothing but the bytes the model reads can name a row.
    parquetView(spark.table("images").selectExpr("substring_index(path, '/', -1) AS name", "content"), "named_images")
    parquetView(spark.table("images").select("content"), "image_bytes")
  }

  private def passThroughOf(df: DataFrame): Seq[Seq[String]] =
    collect(df.queryExecution.executedPlan) {
      case b: BatchEvalTFExec => b.passThrough.map(_.name)
      case b: BatchEvalTFColumnarExec => b.passThrough.map(_.name)
    }

  private val titanicArgument = "struct(Pclass, Name, Sex, Age, SibSp, Parch, Fare, Cabin, Embarked)"

  /**
   * Runs `query` under `conf` with the columnar exec on, then off; checks the exec each plan
   * chose (`columnar`: whether the first run's is the columnar one) and that both give the same
   * rows in the same order and the same `numRowErrors`. Returns the rows and that metric.
   */
  private def bothExecs(query: String, conf: (String, String)*)(columnar: Boolean = true): (Seq[Row], Long) = {
    tables
    def run(enabled: Boolean): (Seq[Row], Long) = withConf(conf :+ (TFSparkConf.ColumnarEnabled -> enabled.toString): _*) {
      val df = spark.sql(query)
      val rows = df.collect().toSeq
      val plan = df.queryExecution.executedPlan
      val chosenColumnar = columnarNodes(plan)
      if (enabled && columnar) {
        assert(chosenColumnar.nonEmpty && rowNodes(plan).isEmpty, s"expected the columnar exec:\n$plan")
        assert(!plan.toString.contains("RowToColumnar"), s"no row-to-columnar transition:\n$plan")
      } else assert(chosenColumnar.isEmpty && rowNodes(plan).nonEmpty, s"expected the row exec:\n$plan")
      val errors = chosenColumnar.map(_.metrics("numRowErrors").value).sum + rowNodes(plan).map(_.metrics("numRowErrors").value).sum
      (rows, errors)
    }
    val (onColumns, columnErrors) = run(enabled = true)
    val (onRows, rowErrors) = run(enabled = false)
    assert(onColumns.size === onRows.size)
    onColumns.zip(onRows).zipWithIndex.foreach { case ((c, r), i) => assert(c === r, s"row $i: columnar $c, rows $r") }
    assert(columnErrors === rowErrors)
    (onColumns, columnErrors)
  }

  /** The error each exec throws for `query` under `conf`: the same class and parameters. */
  private def bothFail(query: String, errorClass: String, parameters: Map[String, String], conf: (String, String)*): Unit = {
    tables
    val messages = Seq(true, false).map { enabled =>
      withConf(conf :+ (TFSparkConf.ColumnarEnabled -> enabled.toString): _*) {
        val df = spark.sql(query)
        val plan = df.queryExecution.executedPlan
        assert(columnarNodes(plan).nonEmpty === enabled, plan.toString)
        checkError(errorClass, parameters)(df.collect()).getMessage
      }
    }
    assert(messages.distinct.size === 1, messages.mkString("\n"))
  }

  test("strings and numbers from a Parquet scan: the same results, pass-through columns and order, under fill") {
    val (rows, _) =
      bothExecs(
        s"SELECT PassengerId, Name, tfpredict('titanic', $titanicArgument) AS p FROM passengers",
        TFSparkConf.NullPolicy -> "fill"
      )()
    val n = spark.table("passengers").count().toInt
    assert(n > 100 && rows.size === n)
    assert(rows.forall(r => !r.isNullAt(2) && !r.getAs[Row](2).isNullAt(0)))
    assert(rows.map(_.getAs[Row](2).getAs[Long]("survived")).toSet === Set(0L, 1L))
    assert(rows.map(_.getInt(0)).distinct.size === n && rows.exists(_.getString(1).length > 22), "long names take the string feed")
  }

  test("nullPolicy=null: the rows with a null input are null in both, and only those") {
    val (rows, errors) =
      bothExecs(s"SELECT PassengerId, tfpredict('titanic', $titanicArgument) AS p FROM passengers", TFSparkConf.NullPolicy -> "null")()
    val withNull = spark
      .sql(
        "SELECT PassengerId FROM passengers WHERE Pclass IS NULL OR Name IS NULL OR Sex IS NULL OR Age IS NULL OR SibSp IS NULL " +
          "OR Parch IS NULL OR Fare IS NULL OR Cabin IS NULL OR Embarked IS NULL"
      )
      .collect()
      .map(_.getInt(0))
      .toSet
    assert(withNull.nonEmpty && withNull.size < rows.size)
    assert(rows.filter(_.isNullAt(1)).map(_.getInt(0)).toSet === withNull)
    assert(errors === 0)
  }

  test("nullPolicy=error: NULL_INPUT naming the same row in both") {
    bothFail(
      s"SELECT PassengerId, tfpredict('titanic', $titanicArgument) AS p FROM passengers",
      "NULL_INPUT",
      Map("model" -> "titanic"),
      TFSparkConf.RowLabel -> "PassengerId"
    )
  }

  test("array<float> columns: onError=null isolates the bad row, nullPolicy=null nulls the null ones, numRowErrors counts 1") {
    val (rows, errors) = bothExecs(
      "SELECT id, note, tfpredict('linear', features) AS p FROM vectors",
      TFSparkConf.OnError -> "null",
      TFSparkConf.NullPolicy -> "null",
      TFSparkConf.RowLabel -> "id",
      TFSparkConf.BatchSize -> "256"
    )()
    assert(rows.size === 3000 && rows.map(_.getLong(0)) === (0L until 3000L))
    val failed = rows.filter(r => !r.getAs[Row](2).isNullAt(1))
    assert(failed.map(_.getLong(0)) === Seq(777L))
    val error = failed.head.getAs[Row](2).getAs[Row](1)
    assert(error.getString(0) === "INPUT_SHAPE_MISMATCH" && error.getString(1).contains("id: 777"), error)
    assert(rows.filter(r => r.getAs[Row](2).isNullAt(0)).map(_.getLong(0)) === Seq(500L, 600L, 777L))
    assert(errors === 1)
    assert(rows(3).getString(1) === "passenger 3")
  }

  test("array<float> columns under onError=fail: the same INPUT_SHAPE_MISMATCH, naming row 777") {
    bothFail(
      "SELECT id, tfpredict('linear', features) FROM vectors",
      "INPUT_SHAPE_MISMATCH",
      Map("expected" -> "2", "got" -> "3", "row" -> "row {id: 777}"),
      TFSparkConf.RowLabel -> "id",
      TFSparkConf.NullPolicy -> "null"
    )
  }

  test("binary columns and bisection: TF fails on two images, onError=null isolates exactly them in both") {
    val (rows, errors) =
      bothExecs("SELECT path, tfpredict('cifar2', content) AS p FROM images", TFSparkConf.OnError -> "null", TFSparkConf.BatchSize -> "8")()
    assert(rows.size === 14)
    val bad = rows.filter(r => !r.getAs[Row](1).isNullAt(1))
    assert(bad.map(_.getString(0).split('/').last).toSet === Set("broken.jpg", "notes.jpg"))
    assert(bad.forall(_.getAs[Row](1).getAs[Row](1).getString(0) === "MODEL_EXECUTION_FAILED"))
    assert(rows.filterNot(bad.contains).forall(r => !r.getAs[Row](1).isNullAt(0)))
    assert(errors === 2)
  }

  test("two calls in one node, and a result used above them, on columns") {
    val (rows, errors) = bothExecs(
      "SELECT id, tfpredict('linear', features).result * 2 AS twice, tfpredict('linear', other) AS q FROM vectors",
      TFSparkConf.NullPolicy -> "null",
      TFSparkConf.OnError -> "null",
      TFSparkConf.BatchSize -> "100"
    )()
    assert(rows.size === 3000 && rows.filter(_.isNullAt(1)).map(_.getLong(0)) === Seq(500L, 600L, 777L))
    assert(rows.forall(r => !r.getAs[Row](2).isNullAt(0) && r.getAs[Row](2).isNullAt(1)))
    assert(errors === 1)
  }

  test("only the columns the plan above reads pass through, in both execs, with the rows of the unpruned plan") {
    tables
    val conf = Seq(TFSparkConf.NullPolicy -> "null", TFSparkConf.OnError -> "null", TFSparkConf.BatchSize -> "100")
    val selectNote = "SELECT id, p FROM (SELECT id, note, tfpredict('linear', features) AS p FROM vectors) WHERE"
    // (query, the node's pass-through columns, whether it runs on columns)
    val queries = Seq(
      ("SELECT tfpredict('linear', features) AS p FROM vectors", Seq.empty[String], true),
      ("SELECT id, tfpredict('linear', features) AS p FROM vectors", Seq("id"), true),
      // A condition on `note` alone goes below the node (which then runs on rows); one that also reads the result stays above.
      (s"$selectNote note LIKE '%7' AND p.error IS NULL", Seq("id"), false),
      (s"$selectNote p.error IS NOT NULL OR note LIKE '%7'", Seq("id", "note"), true),
      // An aggregate above reads the key it groups by and the result; not `note` or `features`.
      (
        "SELECT k, count(p.error) AS bad FROM (SELECT id % 3 AS k, note, features, tfpredict('linear', features) AS p FROM vectors) GROUP BY k",
        Seq("id"),
        true
      )
    )
    spark.table("vectors").createOrReplaceTempView("vectors_all")
    queries.foreach { case (query, expected, columnar) =>
      Seq(true, false).foreach { enabled =>
        withConf(conf :+ (TFSparkConf.ColumnarEnabled -> enabled.toString): _*) {
          val df = spark.sql(query)
          assert(passThroughOf(df) === Seq(expected), s"$query\n${df.queryExecution.executedPlan}")
          assert(!df.queryExecution.executedPlan.toString.contains("other"), s"the scan reads only what the query needs:\n$query")
        }
      }
      // The unpruned plan: every column of vectors goes through the node; the outer query drops them.
      val unpruned = withConf(conf: _*) {
        val everything = spark.sql("SELECT *, tfpredict('linear', features) AS p FROM vectors_all")
        assert(passThroughOf(everything) === Seq(Seq("id", "features", "note", "other")))
        everything.createOrReplaceTempView("scored_all")
        spark.sql(query.replace("tfpredict('linear', features)", "p").replace("FROM vectors", "FROM scored_all")).collect().toSeq
      }
      val (rows, _) = bothExecs(query, conf: _*)(columnar)
      assert(rows.sortBy(_.toString) === unpruned.sortBy(_.toString), query)
    }
  }

  test("a row TF fails on is named by the columns the query keeps, else by its model inputs, the same in both execs") {
    // The row label's `name` column is kept (not output) to name the row.
    bothFail(
      "SELECT tfpredict('cifar2', content) FROM named_images",
      "MODEL_EXECUTION_FAILED",
      Map("model" -> "cifar2", "row" -> "row {name: \"broken.jpg\"}"),
      TFSparkConf.RowLabel -> "name",
      TFSparkConf.BatchSize -> "8"
    )
    // An output column names it as the row's label would.
    bothFail(
      "SELECT content, tfpredict('cifar2', content) FROM image_bytes",
      "MODEL_EXECUTION_FAILED",
      Map("model" -> "cifar2", "row" -> "row {content: <3 bytes>}"),
      TFSparkConf.BatchSize -> "8"
    )
    // Nothing kept: the model's input, read back from the batch.
    tables
    Seq(true, false).foreach { columnar =>
      withConf(TFSparkConf.ColumnarEnabled -> columnar.toString, TFSparkConf.BatchSize -> "8") {
        val df = spark.sql("SELECT tfpredict('cifar2', content) FROM image_bytes")
        assert(passThroughOf(df) === Seq(Nil))
        val row = checkError("MODEL_EXECUTION_FAILED", Map("model" -> "cifar2"))(df.collect()).messageParameters("row")
        assert(row.startsWith("row with inputs {") && row.endsWith(": <3 bytes>}"), row)
      }
    }
  }

  test("the row exec stays where the columnar one cannot run: an expression argument, a row child, a Filter below") {
    tables
    withConf(TFSparkConf.ColumnarEnabled -> "true") {
      val expression = spark.sql("SELECT tfpredict('linear', array(CAST(id AS FLOAT), 1f)) FROM vectors")
      assert(columnarNodes(expression.queryExecution.executedPlan).isEmpty && expression.count() === 3000)
      // The reason, on the plan the rule sees (before Spark's transitions put ColumnarToRow under the row exec).
      def reason(df: DataFrame) = rowNodes(df.queryExecution.sparkPlan).flatMap(BatchEvalTFColumnarExec.rowOnlyReason)
      assert(reason(expression).exists(_.contains("is an expression, not columns")), reason(expression))
      val rowChild = spark.sql("SELECT tfpredict('linear', f) FROM (SELECT array(CAST(id AS FLOAT), 1f) AS f FROM range(10))")
      assert(columnarNodes(rowChild.queryExecution.executedPlan).isEmpty && rowChild.count() === 10)
      // WHERE without a call stays below the call, and Spark's Filter produces rows.
      val filtered = spark.sql("SELECT tfpredict('linear', features) FROM vectors WHERE id < 400")
      assert(columnarNodes(filtered.queryExecution.executedPlan).isEmpty && filtered.count() === 400)
      assert(reason(filtered).exists(_.contains("produces rows")), reason(filtered))
    }
  }

  test("a malformed spark.tfpredict.columnar.enabled is INVALID_CONFIG for a query that calls a model") {
    tables
    withConf(TFSparkConf.ColumnarEnabled -> "maybe") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.ColumnarEnabled)) {
        spark.sql("SELECT tfpredict('linear', features) FROM vectors").collect()
      }
      assert(spark.sql("SELECT count(*) FROM vectors").head().getLong(0) === 3000L, "other queries are not affected")
    }
  }

  test("a program that builds its own session (BatchScore) names the extension once, keeping the others") {
    val ours = classOf[TFSparkExtensions].getName
    assert(TFSparkSQL.extensionsWithTFSpark("") === ours)
    assert(TFSparkSQL.extensionsWithTFSpark("a.B, c.D") === s"a.B,c.D,$ours")
    assert(TFSparkSQL.extensionsWithTFSpark(s"a.B, $ours") === s"a.B, $ours", "named already: left as it is")
  }
}
