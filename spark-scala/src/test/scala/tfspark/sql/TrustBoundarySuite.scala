package tfspark.sql

import org.apache.spark.SparkThrowable
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TestModels}
import tfspark.conf.TFSparkConf

/**
 * SQL users cannot choose which SavedModels (code) run: the repository is fixed at start, and
 * model names stay plain names in it. The same refusal through spark-sql, pyspark and Spark
 * Connect is tested in tests/test_trust_boundary.py.
 */
class TrustBoundarySuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private def refused(body: => Any): Unit = {
    val e = intercept[Throwable](body)
    val condition = e match { case s: SparkThrowable => s.getCondition; case other => fail(s"not a Spark error: $other", other) }
    assert(condition === "CANNOT_MODIFY_STATIC_CONFIG", e.getMessage)
    assert(e.getMessage.contains(TFSparkConf.Repository))
  }

  test("a runtime SET, RESET or unset of spark.tfpredict.repository is refused, in SQL and through spark.conf") {
    val evil = TestModels.tempDir("elsewhere").getPath
    refused(spark.sql(s"SET ${TFSparkConf.Repository}=$evil"))
    refused(spark.conf.set(TFSparkConf.Repository, evil))
    refused(spark.conf.unset(TFSparkConf.Repository))
    refused(spark.sql(s"RESET ${TFSparkConf.Repository}"))
    assert(spark.conf.get(TFSparkConf.Repository) === TestModels.modelsDir.getPath)
    assert(spark.sql(s"SET ${TFSparkConf.Repository}").head().getString(1) === TestModels.modelsDir.getPath)
    assert(math.abs(spark.sql("SELECT tfpredict('linear', array(1.0f, 2.0f))").head().getFloat(0) - 2.838135f) < 1e-5f)
  }

  test("a new session of the same application keeps the repository too") {
    val other = spark.newSession()
    refused(other.sql(s"SET ${TFSparkConf.Repository}=/tmp"))
    assert(other.conf.get(TFSparkConf.Repository) === TestModels.modelsDir.getPath)
  }

  test("a path in place of a model name is refused: the name stays a plain name in the repository") {
    for (name <- Seq("../linear", "/etc", "linear/1", "..", "~root", "./linear")) {
      checkError("INVALID_ARGUMENT", Map("what" -> "model name"))(spark.sql(s"SELECT tfpredict('$name', array(1.0f, 2.0f))"))
    }
    // A URI reads as NAME:SIGNATURE: the name 'file' or 'hdfs' is looked up inside the repository.
    for (uri <- Seq("file:/tmp/x", "hdfs://nn/m")) {
      val e = checkError("MODEL_NOT_FOUND")(spark.sql(s"SELECT tfpredict('$uri', array(1.0f, 2.0f))"))
      assert(e.messageParameters("path").startsWith(TestModels.modelsDir.getPath), e.getMessage)
    }
  }
}
