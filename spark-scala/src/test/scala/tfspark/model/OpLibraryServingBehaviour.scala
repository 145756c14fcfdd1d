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
