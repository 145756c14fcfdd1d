package tfspark

import java.io.File
import java.nio.file.Files

import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite

import tfspark.model.ModelRepository
import tfspark.conf.TFSparkConf

/** Bad input gives a clear error class naming what was expected and what came, never a TF trace. */
class BadInputSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  override protected def repositoryRoot: String = TestModels.linkedRepository.getPath

  private def repository = ModelRepository(TestModels.modelsDir.getPath)
  private def linear = TFInference.ship(spark.sparkContext, repository.resolve("linear"))

  test("RDD path: a row of the wrong length names the expected width, the got width and the row") {
    val rows = spark.sparkContext.parallelize(Seq(Array(1f, 2f), Array(1f, 2f, 3f)), 1)
    checkError(
      "INPUT_SHAPE_MISMATCH",
      Map("model" -> "linear", "input" -> "features", "expected" -> "2", "got" -> "3", "row" -> "row 1 of partition 0 ([1.0, 2.0, 3.0])")
    ) {
      TFInference.predictRDD(rows, linear).collect()
    }
  }

  test("SQL path: an array of the wrong length fails the query with INPUT_SHAPE_MISMATCH") {
    checkError("INPUT_SHAPE_MISMATCH", Map("expected" -> "2", "got" -> "1")) {
      spark.sql("SELECT tfpredict(array(1.0f)) FROM range(1)").collect()
    }
  }

  test("RDD path: a null row gives NULL_INPUT") {
    val rows = spark.sparkContext.parallelize(Seq(Array(1f, 2f), null), 1)
    checkError("NULL_INPUT", Map("input" -> "features", "row" -> "row 1 of partition 0 (null)")) {
      TFInference.predictRDD(rows, linear).collect()
    }
  }

  test("SQL path: null features give NULL_INPUT by default, and null with nullPolicy=null") {
    val session = spark
    import session.implicits._
    Seq((1, Some(Seq(1f, 2f))), (2, None)).toDF("id", "features").createOrReplaceTempView("with_nulls")
    checkError("NULL_INPUT", Map("model" -> "linear", "input" -> "features", "expected" -> "a non-null array<float>")) {
      spark.sql("SELECT tfpredict(features) FROM with_nulls").collect()
    }
    spark.conf.set(TFSparkConf.NullPolicy, "null")
    try {
      val got = spark.sql("SELECT id, tfpredict(features) FROM with_nulls ORDER BY id").collect().toSeq
      assert(got(1) === Row(2, null))
      assert(!got(0).isNullAt(1))
    } finally spark.conf.unset(TFSparkConf.NullPolicy)
  }

  test("SQL path: a null element inside the array gives NULL_INPUT naming the element") {
    val e = checkError("NULL_INPUT") {
      spark.sql("SELECT tfpredict(array(1.0f, CAST(NULL AS FLOAT))) FROM range(1)").collect()
    }
    assert(e.messageParameters("row").endsWith("element 1"))
    assert(e.messageParameters("expected") === "no null elements (float)") // SQL's type names, not FloatType
  }

  test("a non-numeric argument fails at analysis with INPUT_TYPE_MISMATCH") {
    checkError("INPUT_TYPE_MISMATCH", Map("expected" -> "array<float> (float32[-1,2])", "got" -> "string")) {
      spark.sql("SELECT tfpredict('linear', 'not a vector')")
    }
  }

  test("an unknown model fails at analysis with MODEL_NOT_FOUND, listing the available ones") {
    val e = checkError("MODEL_NOT_FOUND", Map("model" -> "no_such_model")) {
      spark.sql("SELECT tfpredict('no_such_model', array(1.0f, 2.0f))")
    }
    assert(e.messageParameters("available").contains("linear"))
  }

  test("a missing repository directory gives MODEL_NOT_FOUND naming the path") {
    val missing = new File(TestModels.tempDir("tfspark-empty"), "nowhere")
    checkError("MODEL_NOT_FOUND", Map("model" -> "linear", "path" -> new File(missing, "linear").getPath)) {
      ModelRepository(missing.getPath).resolve("linear")
    }
  }

  test("an unknown version gives MODEL_VERSION_NOT_FOUND with the versions that exist") {
    checkError("MODEL_VERSION_NOT_FOUND", Map("version" -> "99", "available" -> "1")) {
      repository.resolve("linear", Some(99L))
    }
  }

  test("a path in place of a model name is rejected") {
    checkError("INVALID_ARGUMENT", Map("what" -> "model name")) {
      spark.sql("SELECT tfpredict('../models/linear', array(1.0f, 2.0f))")
    }
  }

  test("an unknown signature gives SIGNATURE_NOT_FOUND listing the real ones") {
    checkError("SIGNATURE_NOT_FOUND", Map("signature" -> "nope", "available" -> "serving_default")) {
      spark.sql("SELECT tfpredict('linear:nope', array(1.0f, 2.0f))")
    }
  }

  test("a corrupt SavedModel gives MODEL_LOAD_FAILED, not a TF stack trace") {
    val root = TestModels.tempDir("tfspark-corrupt")
    val dir = new File(root, "broken/1")
    dir.mkdirs()
    Files.write(new File(dir, "saved_model.pb").toPath, "this is not a protobuf".getBytes("UTF-8"))
    val e = checkError("MODEL_LOAD_FAILED", Map("model" -> "broken", "path" -> dir.getPath)) {
      TFInference.predictLocal(ModelRepository(root.getPath).resolve("broken"), Seq(Array(1f, 2f)))
    }
    assert(!e.getMessage.contains("\n\tat "))
  }

  test("tfpredict(features) without spark.tfpredict.defaultModel gives DEFAULT_MODEL_NOT_SET") {
    spark.conf.unset(TFSparkConf.DefaultModel)
    try {
      checkError("DEFAULT_MODEL_NOT_SET", Map("key" -> TFSparkConf.DefaultModel)) {
        spark.sql("SELECT tfpredict(array(1.0f, 2.0f))")
      }
    } finally spark.conf.set(TFSparkConf.DefaultModel, "linear")
  }

  test("predictDataFrame checks the column mapping before running") {
    val session = spark
    import session.implicits._
    val df = Seq((1.0, "a", Seq(2.0f, 3.0f))).toDF("x1", "s", "feats")
    checkError("MISSING_INPUT", Map("model" -> "linear", "input" -> "features", "available" -> "x1, s, feats")) {
      TFInference.predictDataFrame(df, linear)
    }
    checkError("INPUT_TYPE_MISMATCH", Map("input" -> "features", "got" -> "string")) {
      TFInference.predictDataFrame(df, linear, inputCols = Map("features" -> "s"))
    }
    checkError("INVALID_ARGUMENT", Map("what" -> "input column", "got" -> "'nope'")) {
      TFInference.predictDataFrame(df, linear, inputCols = Map("features" -> "nope"))
    }
    checkError("MISSING_INPUT", Map("input" -> "not_an_input")) {
      TFInference.predictDataFrame(df, linear, inputCols = Map("not_an_input" -> "feats"))
    }
    val twice = Seq((Seq(1f, 2f), Seq(1f, 2f))).toDF("features", "FEATURES")
    checkError("AMBIGUOUS_INPUT", Map("input" -> "features", "matches" -> "features, FEATURES")) {
      TFInference.predictDataFrame(twice, linear)
    }
  }

  test("undecodable image bytes fail with MODEL_EXECUTION_FAILED carrying TF's reason") {
    val session = spark
    import session.implicits._
    Seq(Array[Byte](1, 2, 3)).toDF("image_bytes").createOrReplaceTempView("bad_images")
    // A local Seq is evaluated on the driver, row by row (ConvertToLocalRelation): the row is named by its argument.
    val e = checkError("MODEL_EXECUTION_FAILED", Map("model" -> "cifar2", "row" -> "the row whose argument is <3 bytes>")) {
      spark.sql("SELECT tfpredict('cifar2', image_bytes) FROM bad_images").collect()
    }
    assert(e.messageParameters("reason").toLowerCase.contains("image"), e.getMessage)
  }

  test("rows of one batch must agree on a variable dimension (no silent padding)") {
    val tokens = TFInference.ship(spark.sparkContext, ModelRepository(TestModels.testModelsDir.getPath).resolve("tokens"))
    val rows = spark.sparkContext.parallelize(Seq[Map[String, Any]](Map("tokens" -> Seq(1L, 2L, 3L)), Map("tokens" -> Seq(4L, 5L))), 1)
    checkError(
      "INPUT_SHAPE_MISMATCH",
      Map("input" -> "tokens", "expected" -> "3", "got" -> "2", "dim" -> "1", "row" -> "row 1 of partition 0 ({tokens: [4, 5]})")
    ) {
      TFInference.predictMaps(rows, tokens, batchSize = 8).collect()
    }
    assert(TFInference.predictMaps(rows, tokens, batchSize = 1).count() === 2, "one row per batch has no such constraint")
  }

  test("struct arguments: missing, ambiguous and (strict) unexpected fields are analysis errors") {
    try {
      checkError("MISSING_INPUT", Map("model" -> "tokens", "input" -> "flag", "available" -> "x")) {
        spark.sql("SELECT tfpredict('tokens:scale', named_struct('x', 1.0D))")
      }
      checkError("AMBIGUOUS_INPUT", Map("input" -> "x", "matches" -> "x, X")) {
        spark.sql("SELECT tfpredict('tokens:scale', named_struct('x', 1.0D, 'X', 2.0D, 'flag', true))")
      }
      spark.conf.set(TFSparkConf.StrictInputs, "true")
      checkError("UNEXPECTED_INPUT", Map("field" -> "extra", "signature" -> "scale")) {
        spark.sql("SELECT tfpredict('tokens:scale', named_struct('x', 1.0D, 'flag', true, 'extra', 1))")
      }
    } finally {
      spark.conf.unset(TFSparkConf.StrictInputs)
    }
  }

  test("a string where a number goes, and a malformed null policy, are rejected") {
    checkError("INPUT_TYPE_MISMATCH", Map("model" -> "titanic", "input" -> "pclass", "got" -> "string")) {
      spark.sql(
        "SELECT tfpredict('titanic', named_struct('pclass', 'first', 'name', 'Doe, Mr. John', 'sex', 'male', 'age', 1.0, 'sibsp', 0, 'parch', 0, " +
          "'fare', 1.0, 'cabin', '', 'embarked', 'S'))"
      )
    }
    spark.conf.set(TFSparkConf.NullPolicy, "sometimes")
    try
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.NullPolicy, "got" -> "sometimes")) {
        spark.sql("SELECT tfpredict(array(1.0f, 2.0f))")
      }
    finally spark.conf.unset(TFSparkConf.NullPolicy)
  }

  test("a batch size below 1 is rejected") {
    checkError("INVALID_ARGUMENT", Map("what" -> "batchSize", "got" -> "0")) {
      TFInference.predictRDD(spark.sparkContext.parallelize(Seq(Array(1f, 2f))), linear, batchSize = 0)
    }
  }
}
