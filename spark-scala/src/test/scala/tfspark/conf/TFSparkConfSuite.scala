package tfspark.conf

import java.io.File
import java.nio.file.Files

import org.apache.spark.sql.functions.{array, col, lit}
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TFInference, TestModels}
import tfspark.jobs.{BatchScore, BatchScoreOptions}
import tfspark.model.ModelRepository

/**
 * Every `spark.tfpredict.*` setting is checked where it is read, and all of them at each use of
 * tfspark: a malformed value, a typo in a key, or a runtime `SET` of a key fixed at start is
 * INVALID_CONFIG, never ignored. The same through spark-submit's `--conf` is in
 * tests/test_config_validation.py.
 */
class TFSparkConfSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  override protected def extraConf: Map[String, String] = Map(TFSparkConf.MaxLoadedModels -> "4")

  /** Runs `body` with `key=value` set in the session, then unsets it. */
  private def withSetting[T](key: String, value: String)(body: => T): T = {
    spark.sql(s"SET $key=$value")
    try body
    finally spark.conf.unset(key)
  }

  private def sqlQuery(): Unit = spark.sql("SELECT tfpredict('linear', array(1.0f, 2.0f)) AS p").collect()

  private def apiQuery(): Unit = {
    val model = TFInference.ship(spark.sparkContext, ModelRepository(TestModels.modelsDir.getPath).resolve("linear"))
    TFInference.predictDataFrame(spark.range(3).select(array(lit(1f), col("id").cast("float")).as("features")), model).collect()
  }

  /** Malformed values, one per key that takes a checked value: (key, value, what the error says is expected). */
  private val malformed = Seq(
    (TFSparkConf.BatchSize, "abc", "a whole number from 1 to 1048576"),
    (TFSparkConf.BatchSize, "0", "a whole number from 1 to 1048576"),
    (TFSparkConf.NullPolicy, "xyz", "'error' or 'null' or 'fill'"),
    (TFSparkConf.OnError, "ignore", "'fail' or 'null'"),
    (TFSparkConf.StrictInputs, "maybe", "true or false"),
    (TFSparkConf.UnitOutputsAsArrays, "yes", "true or false"),
    (TFSparkConf.BatchedSql, "1", "true or false")
  )

  test("a malformed value of any session key is INVALID_CONFIG in SQL and the DataFrame API, naming key, value and range") {
    malformed.foreach { case (key, value, expected) =>
      withSetting(key, value) {
        Seq[() => Unit](() => sqlQuery(), () => apiQuery()).foreach { query =>
          checkError("INVALID_CONFIG", Map("key" -> key, "got" -> value, "expected" -> expected))(query())
        }
      }
    }
  }

  test("valid values in any case are accepted, and a query after a bad SET works once it is unset") {
    withSetting(TFSparkConf.StrictInputs, "TRUE")(sqlQuery())
    withSetting(TFSparkConf.NullPolicy, "Fill")(sqlQuery())
    withSetting(TFSparkConf.BatchSize, " 64 ")(apiQuery())
    withSetting(TFSparkConf.BatchSize, "abc")(checkError("INVALID_CONFIG")(sqlQuery()))
    sqlQuery()
  }

  test("an unknown spark.tfpredict key is INVALID_CONFIG naming the closest known key") {
    Seq(
      "spark.tfpredict.batchsize" -> TFSparkConf.BatchSize,
      "spark.tfpredict.nullpolicy" -> TFSparkConf.NullPolicy,
      "spark.tfpredict.null_policy" -> TFSparkConf.NullPolicy,
      "spark.tfpredict.onErrors" -> TFSparkConf.OnError,
      "spark.tfpredict.strictInput" -> TFSparkConf.StrictInputs
    ).foreach { case (typo, meant) =>
      withSetting(typo, "10") {
        Seq[() => Unit](() => sqlQuery(), () => apiQuery()).foreach { query =>
          val e = checkError("INVALID_CONFIG", Map("key" -> typo))(query())
          assert(e.getMessage.contains(s"did you mean $meant?"), e.getMessage)
        }
      }
    }
  }

  test("a runtime SET of a key read at application start is refused instead of ignored") {
    Seq(TFSparkConf.IntraOpThreads -> "2", TFSparkConf.MaxLoadedModels -> "2", TFSparkConf.RepositoryShared -> "true").foreach {
      case (key, value) =>
        withSetting(key, value) {
          val e = checkError("INVALID_CONFIG", Map("key" -> key))(sqlQuery())
          assert(e.getMessage.contains(s"spark-submit --conf $key=$value"), e.getMessage)
        }
    }
    withSetting(TFSparkConf.IntraOpThreads, "abc") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.IntraOpThreads, "got" -> "abc"))(sqlQuery())
    }
    // The value the application started with is not a change.
    withSetting(TFSparkConf.MaxLoadedModels, "4")(sqlQuery())
  }

  test("rowLabel must name columns of the scored DataFrame; a SQL query that drops them says so in the row label") {
    withSetting(TFSparkConf.RowLabel, "no_such_col") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.RowLabel))(apiQuery())
      spark.range(2).select(array(lit(1f)).as("features"), col("id")).createOrReplaceTempView("short_rows")
      val e = checkError("INPUT_SHAPE_MISMATCH")(spark.sql("SELECT tfpredict('linear', features) FROM short_rows").collect())
      assert(e.getMessage.contains("spark.tfpredict.rowLabel names no_such_col, which this query does not select"), e.getMessage)
    }
    val model = TFInference.ship(spark.sparkContext, ModelRepository(TestModels.modelsDir.getPath).resolve("linear"))
    checkError("INVALID_ARGUMENT", Map("what" -> "rowLabel column", "got" -> "'nope'")) {
      TFInference.predictDataFrame(
        spark.range(1).select(array(lit(1f), lit(2f)).as("features")),
        model,
        onError = OnError.ReturnNull,
        rowLabel = Seq("nope")
      )
    }
  }

  test("BatchScore: a malformed or unknown setting in the session is a usage error (exit 2) and writes nothing") {
    val dir = TestModels.tempDir("conf-batchscore")
    val input = new File(dir, "in.csv")
    Files.writeString(input.toPath, "x1,x2\n1,2\n3,5\n")
    Seq(TFSparkConf.BatchSize -> "abc", TFSparkConf.NullPolicy -> "xyz", "spark.tfpredict.batchsize" -> "10").foreach { case (key, value) =>
      val output = new File(dir, s"out-${key.length}-$value")
      val code = withSetting(key, value) {
        BatchScore.exitCode(
          Array("--model", "linear", "--repository", TestModels.modelsDir.getPath, "--input", input.getPath, "--output", output.getPath)
        )
      }
      assert(code === 2, s"$key=$value")
      assert(!output.exists(), s"$key=$value wrote $output")
    }
  }

  test("a malformed batchedSql fails the queries that call tfpredict, not every statement: RESET still works") {
    spark.sql(s"SET ${TFSparkConf.BatchedSql}=1")
    try {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.BatchedSql, "got" -> "1"))(sqlQuery())
      assert(spark.sql("SELECT 1 + 1").head().getInt(0) === 2)
      spark.sql(s"RESET ${TFSparkConf.BatchedSql}")
      sqlQuery()
    } finally spark.conf.unset(TFSparkConf.BatchedSql)
  }

  test("BatchScore: options the command line leaves unset take the session's settings; given ones win") {
    val conf = spark.sessionState.conf
    def parsed(extra: String*) = BatchScoreOptions.parse(Seq("--input", "x.csv", "--output", "out") ++ extra)
    withSetting(TFSparkConf.BatchSize, "64") {
      withSetting(TFSparkConf.OnError, "null") {
        withSetting(TFSparkConf.NullPolicy, "fill") {
          withSetting(TFSparkConf.BinaryOutputs, "thumbnail:png,linear:x") {
            val fromSession = parsed("--model", "thumbnail").withSessionDefaults(conf)
            assert(fromSession.batchSize === 64 && fromSession.onError === OnError.ReturnNull && fromSession.nullPolicy === NullPolicy.Fill)
            assert(fromSession.binaryOutputs === Seq("png"))
            val given =
              parsed("--model", "linear", "--batch-size", "7", "--on-error", "fail", "--null-policy", "error", "--binary-outputs", "head")
                .withSessionDefaults(conf)
            assert(given.batchSize === 7 && given.onError === OnError.Fail && given.nullPolicy === NullPolicy.Error)
            assert(given.binaryOutputs === Seq("head"))
          }
        }
      }
    }
    val dir = TestModels.tempDir("conf-session-defaults")
    val input = new File(dir, "in.csv")
    Files.writeString(input.toPath, "x1,x2\n1,2\n3,\n")
    def score(out: String, extra: String*) =
      BatchScore.exitCode(
        Array(
          "--model",
          "linear",
          "--repository",
          TestModels.modelsDir.getPath,
          "--input",
          input.getPath,
          "--output",
          new File(dir, out).getPath
        ) ++
          extra
      )
    assert(score("fails") === 1) // the null x2 fails the job by default
    withSetting(TFSparkConf.OnError, "null") {
      assert(score("isolated") === 0) // spark.tfpredict.onError=null reaches BatchScore
      assert(spark.read.parquet(new File(dir, "isolated").getPath).where("prediction IS NULL").count() === 1)
      assert(score("explicit", "--on-error", "fail") === 1)
    }
  }

  test("edit distance") {
    assert(TFSparkConf.editDistance("batchsize", "batchsize") === 0)
    assert(TFSparkConf.editDistance("null_policy", "nullpolicy") === 1)
    assert(TFSparkConf.editDistance("", "abc") === 3)
  }
}
