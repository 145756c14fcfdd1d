package tfspark.ml

import java.io.File

import org.apache.spark.ml.{Pipeline, PipelineModel}
import org.apache.spark.ml.param.ParamMap
import org.apache.spark.sql.types.{FloatType, LongType, StructType}
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TestModels}

class TFModelTransformerSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private def passengers =
    spark.read.option("header", "true").option("inferSchema", "true").csv(new File(TestModels.dataDir, "titanic/test.csv").getPath)

  private def scorer = new TFModelTransformer().setModel("titanic").setRepository(TestModels.modelsDir.getPath).setNullPolicy("fill")

  test("scores the raw Titanic CSV by column name, with a struct of both outputs") {
    val scored = scorer.setOutputCol("survival").transform(passengers)
    val outType = scored.schema("survival").dataType.asInstanceOf[StructType]
    assert(outType.fieldNames.toSeq === Seq("probability", "survived"))
    assert(outType("probability").dataType === FloatType && outType("survived").dataType === LongType)
    val rows = scored.select("Survived", "survival.survived").collect()
    assert(rows.length === 179)
    val accuracy = rows.count(r => r.getInt(0).toLong == r.getLong(1)).toDouble / rows.length
    info(f"accuracy of `survived` on titanic/test.csv: $accuracy%.3f")
    assert(accuracy > 0.8)
  }

  test("the Name column feeds `name`: blank names (the unknown title) change the scores") {
    def scores(df: org.apache.spark.sql.DataFrame) =
      scorer.transform(df).select("PassengerId", "prediction.probability").orderBy("PassengerId").collect().map(_.getFloat(1))
    val (named, blank) = (scores(passengers), scores(passengers.withColumn("Name", org.apache.spark.sql.functions.lit(""))))
    assert(named.length === 179 && blank.length === 179)
    assert(named.zip(blank).count { case (a, b) => a != b } > 170, "every test passenger's name has a title")
  }

  test("saves and loads inside a Pipeline, and scores the same afterwards") {
    val dir = new File(TestModels.tempDir("pipeline"), "titanic-pipeline").getPath
    val fitted = new Pipeline().setStages(Array(scorer)).fit(passengers)
    fitted.write.overwrite().save(dir)
    val loaded = PipelineModel.load(dir)
    val before = fitted.transform(passengers).select("PassengerId", "prediction.probability").orderBy("PassengerId").collect()
    val after = loaded.transform(passengers).select("PassengerId", "prediction.probability").orderBy("PassengerId").collect()
    assert(before.toSeq === after.toSeq)
    assert(loaded.stages.head.asInstanceOf[TFModelTransformer].getInputMapping.isEmpty)
  }

  test("setInputCol feeds a single-input signature; transformSchema types the output column") {
    val session = spark
    import session.implicits._
    val df = Seq(Seq(1f, 2f), Seq(3f, 5f)).toDF("xs")
    val linear = new TFModelTransformer().setModel("linear").setRepository(TestModels.modelsDir.getPath).setInputCol("xs")
    assert(linear.transformSchema(df.schema)("prediction").dataType === FloatType)
    assert(linear.transform(df).count() === 2)
    val asArrays = linear.copy(org.apache.spark.ml.param.ParamMap.empty).setUnitOutputsAsArrays(true)
    assert(asArrays.transformSchema(df.schema)("prediction").dataType.simpleString === "array<float>")
    assert(asArrays.transform(df).head().getSeq[Float](1).size === 1)
  }

  test("an unknown model fails in transformSchema with MODEL_NOT_FOUND; nulls fail without the fill policy") {
    checkError("MODEL_NOT_FOUND", Map("model" -> "nope")) {
      new TFModelTransformer().setModel("nope").setRepository(TestModels.modelsDir.getPath).transformSchema(passengers.schema)
    }
    checkError("NULL_INPUT", Map("model" -> "titanic")) {
      scorer.setNullPolicy("error").transform(passengers).collect()
    }
  }

  test("params are checked as the settings they stand for: INVALID_CONFIG with the setting's range, when set") {
    checkError(
      "INVALID_CONFIG",
      Map(
        "key" -> "TFModelTransformer.batchSize (as spark.tfpredict.batchSize)",
        "got" -> "0",
        "expected" -> "a whole number from 1 to 1048576"
      )
    )(new TFModelTransformer().setBatchSize(0))
    checkError("INVALID_CONFIG", Map("key" -> "TFModelTransformer.batchSize (as spark.tfpredict.batchSize)", "got" -> "2000000")) {
      new TFModelTransformer().setBatchSize(2000000)
    }
    checkError("INVALID_CONFIG", Map("key" -> "TFModelTransformer.nullPolicy (as spark.tfpredict.nullPolicy)", "got" -> "sometimes")) {
      new TFModelTransformer().setNullPolicy("sometimes")
    }
    checkError("INVALID_CONFIG", Map("key" -> "TFModelTransformer.onError (as spark.tfpredict.onError)", "got" -> "ignore")) {
      new TFModelTransformer().setOnError("ignore")
    }
    val valid = new TFModelTransformer().setNullPolicy("Fill").setBatchSize(1)
    assert(valid.getOrDefault(valid.batchSize) === 1)
  }

  test("params left unset take the session's settings; params set win") {
    val frame = spark.sql("SELECT 1 AS id, array(1.0f) AS xs") // one value where linear needs two: a row error
    val unset = new TFModelTransformer().setModel("linear").setRepository(TestModels.modelsDir.getPath).setInputCol("xs")
    checkError("INPUT_SHAPE_MISMATCH")(unset.transform(frame).collect())
    spark.conf.set("spark.tfpredict.onError", "null")
    try {
      val scored = unset.transform(frame)
      assert(scored.columns.toSeq === Seq("id", "xs", "prediction", "prediction_error"))
      assert(scored.head().getStruct(3).getString(0) === "INPUT_SHAPE_MISMATCH")
      checkError("INPUT_SHAPE_MISMATCH")(unset.copy(ParamMap.empty).setOnError("fail").transform(frame).collect())
    } finally spark.conf.unset("spark.tfpredict.onError")
  }
}
