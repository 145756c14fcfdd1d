package tfspark.model

import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite

import tfspark.SparkSessionFixture
import tfspark.conf.TFSparkConf

/**
 * Models that need op libraries, served through SQL with spark.tfpredict.opLibraries set at start:
 * tensorflow-text 2.18.1's regex split and whitespace tokenizer, and a ydf 0.9.0 forest on
 * tensorflow-decision-forests 1.11.0's inference ops. Answers are compared with Python TF's
 * (`assets.extra/expected.json`, written when the models were exported).
 */
trait OpLibraryServingBehaviour extends AnyFunSuite with SparkSessionFixture {

  override protected def repositoryRoot: String = OpLibraryFixtures.repository.getPath

  protected def opLibraryConf: Map[String, String] = Map(TFSparkConf.OpLibraries -> OpLibraryFixtures.setting)

  /** (inputs, outputs) of each case of `model`'s expected.json, columns by name. */
  private def expected(model: String): scala.collection.Seq[(Row, Row)] =
    spark.read.option("multiLine", "true").json(OpLibraryFixtures.expectedJson(model).getPath).collect().toSeq.map { c =>
      (c.getAs[Row]("inputs"), c.getAs[Row]("outputs"))
    }

  test("tensorflow-text ops (RegexSplitWithOffsets, TFText>WhitespaceTokenizeWithOffsetsV2) serve, as Python TF answers") {
    val cases = expected("text_ops")
    val texts = cases.flatMap(_._1.getAs[scala.collection.Seq[String]]("text"))
    val want = cases.flatMap { case (_, out) =>
      out.getAs[scala.collection.Seq[String]]("first").indices.map { i =>
        (
          Seq(out.getAs[scala.collection.Seq[String]]("first")(i)), // [-1, 1]: one string per row
          out.getAs[scala.collection.Seq[Long]]("pieces")(i),
          out.getAs[scala.collection.Seq[Long]]("words")(i)
        )
      }
    }
    val session = spark
    import session.implicits._
    texts.toSeq.zipWithIndex.toDF("text", "i").repartition(3).createOrReplaceTempView("texts")
    val got = spark
      .sql("SELECT i, p.first, p.pieces, p.words FROM (SELECT i, tfpredict('text_ops', text) AS p FROM texts) ORDER BY i")
      .collect()
      .map(r => (r.getSeq[String](1).toSeq, r.getLong(2), r.getLong(3)))
      .toSeq
    assert(want.size === 6)
    assert(texts.size === 6)
    assert(got === want.toSeq)
  }

  test("a forest that needs an op library serves through every entry point: SQL, DataFrame API, RDD maps, Transformer, BatchScore") {
    val (inputs, outputs) = expected("decision_forest").head
    val rows = inputs.getAs[scala.collection.Seq[Double]]("a").zip(inputs.getAs[scala.collection.Seq[Double]]("b")).toSeq
    val want = outputs.getAs[scala.collection.Seq[Double]]("output").map(_.toFloat).toSeq
    val session = spark
    import session.implicits._
    val frame = rows.zipWithIndex.map { case ((x, y), i) => (i, x.toFloat, y.toFloat) }.toDF("i", "a", "b").repartition(2)
    val model = tfspark.TFInference.ship(spark.sparkContext, ModelRepository(repositoryRoot).resolve("decision_forest"))
    val dir = tfspark.TestModels.tempDir("oplib-batchscore")
    frame.write.parquet(new java.io.File(dir, "in.parquet").getPath)
    val byPath: Seq[(String, Seq[Float])] = Seq(
      "SQL" -> {
        frame.createOrReplaceTempView("forest_points"); spark.sql("SELECT i, tfpredict('decision_forest', struct(a, b)) FROM forest_points")
      },
      "DataFrame API" -> tfspark.TFInference.predictDataFrame(frame, model).select("i", "prediction"),
      "Transformer" -> new tfspark.ml.TFModelTransformer().setModel("decision_forest").transform(frame).select("i", "prediction"),
      "BatchScore" -> {
        tfspark.jobs.BatchScore.run(
          spark,
          tfspark.jobs.BatchScoreOptions.parse(
            Seq("--model", "decision_forest", "--input", s"$dir/in.parquet", "--output", s"$dir/out", "--repository", repositoryRoot)
          )
        )
        spark.read.parquet(s"$dir/out").select("i", "prediction")
      }
    ).map { case (path, df) => path -> df.collect().map(r => r.getInt(0) -> r.getFloat(1)).sortBy(_._1).map(_._2).toSeq }
    val maps = tfspark.TFInference
      .predictMaps(
        spark.sparkContext.parallelize(rows.map { case (x, y) => Map[String, Any]("a" -> x.toFloat, "b" -> y.toFloat) }, 2),
        model
      )
      .collect()
      .map(_("output").asInstanceOf[Float])
      .toSeq
    (byPath :+ ("RDD maps" -> maps)).foreach { case (path, got) =>
      assert(got.size === want.size, path)
      got.zip(want).foreach { case (g, w) => assert(math.abs(g - w) <= 1e-6f, s"$path: $got != $want") }
    }
  }

  test("a ydf / TF-DF forest (SimpleML* ops) serves, as Python TF answers") {
    val (inputs, outputs) = expected("decision_forest").head
    val a = inputs.getAs[scala.collection.Seq[Double]]("a")
    val b = inputs.getAs[scala.collection.Seq[Double]]("b")
    val session = spark
    import session.implicits._
    a.zip(b)
      .zipWithIndex
      .map { case ((x, y), i) => (i, x.toFloat, y.toFloat) }
      .toSeq
      .toDF("i", "a", "b")
      .repartition(2)
      .createOrReplaceTempView("points")
    val got =
      spark.sql("SELECT i, tfpredict('decision_forest', struct(a, b)) AS p FROM points ORDER BY i").collect().map(_.getFloat(1)).toSeq
    val want = outputs.getAs[scala.collection.Seq[Double]]("output").map(_.toFloat)
    assert(got.size === 4)
    got.zip(want).foreach { case (g, w) => assert(math.abs(g - w) <= 1e-6f, s"$got != $want") }
  }
}
