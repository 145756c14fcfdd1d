package tfspark

import org.scalatest.funsuite.AnyFunSuite

import tfspark.model.ModelRepository
import tfspark.tensor.DenseFloatBinding

/**
 * Golden agreement of every committed model with the outputs Python TF recorded, through the
 * driver, the batched RDD path and SQL `tfpredict`. Mixed into a local[2] suite and into the
 * local-cluster suite, so the same checks run with and without separate executor JVMs.
 */
abstract class GoldenAgreementBehaviour extends AnyFunSuite with SparkSessionFixture {

  private def repository = ModelRepository(TestModels.modelsDir.getPath)

  /** Checks `got` (rows of outputs) against a golden output tensor; returns the max |diff|. */
  private def compare(golden: GoldenVectors.File, c: GoldenVectors.Case, key: String, got: Seq[Array[Float]]): Double = {
    val expected = c.outputs(key).floats
    val flat = got.flatten.toArray
    assert(flat.length === expected.length, s"case ${c.name}: ${flat.length} values, expected ${expected.length}")
    expected.indices.foreach { i =>
      assert(golden.withinTolerance(expected(i), flat(i)), s"case ${c.name} output $key[$i]: expected ${expected(i)}, got ${flat(i)}")
    }
    expected.indices.map(i => math.abs(expected(i).toDouble - flat(i))).filterNot(_.isNaN).maxOption.getOrElse(0.0)
  }

  /**
   * The model shipped to this suite's session, and the cases whose signature the Spark paths can
   * feed today (one float32 [-1,k] input). Others are covered by GoldenSignaturesSuite through TF
   * Java directly; when a model has none, the test is canceled with the reason, not passed.
   */
  private def shipAndBind(name: String, version: Long, golden: GoldenVectors.File) = {
    val shipped = TFInference.ship(spark.sparkContext, repository.resolve(name, Some(version)))
    val bound = golden.cases.flatMap { c =>
      scala.util.Try(DenseFloatBinding.bind(name, shipped.signatures(c.signature))).toOption.map(c -> _)
    }
    val unbound = golden.cases.map(_.signature).distinct.filterNot(bound.map(_._1.signature).contains)
    if (bound.isEmpty) cancel(s"$name: no signature the Spark paths can feed yet (${unbound.mkString(", ")}); see GoldenSignaturesSuite")
    if (unbound.nonEmpty) info(s"signatures checked through TF Java only: ${unbound.mkString(", ")}")
    (shipped, bound)
  }

  assert(TestModels.withGoldenVectors.nonEmpty, s"no committed models with golden vectors under ${TestModels.modelsDir}")

  for ((name, version, dir) <- TestModels.withGoldenVectors) {
    lazy val golden = GoldenVectors.read(dir)

    test(s"$name/$version: golden vectors reproduce on the driver") {
      val location = repository.resolve(name, Some(version))
      var worst = 0.0
      for ((c, binding) <- shipAndBind(name, version, golden)._2) {
        val got = TFInference.predictLocal(location, c.inputs(binding.inputKey).rows, batchSize = 3, signature = c.signature)
        worst = worst max compare(golden, c, binding.outputKey, got)
      }
      info(s"max |diff| = $worst")
    }

    test(s"$name/$version: golden vectors reproduce through the batched RDD path") {
      val (shipped, cases) = shipAndBind(name, version, golden)
      var worst = 0.0
      for ((c, binding) <- cases) {
        val rows = c.inputs(binding.inputKey).rows
        val got =
          TFInference.predictRDD(spark.sparkContext.parallelize(rows, 3), shipped, batchSize = 4, signature = c.signature).collect().toSeq
        worst = worst max compare(golden, c, binding.outputKey, got)
      }
      info(s"max |diff| = $worst")
    }

    test(s"$name/$version: golden vectors reproduce through SQL tfpredict") {
      val session = spark
      import session.implicits._
      var worst = 0.0
      for ((c, binding) <- shipAndBind(name, version, golden)._2) {
        val rows = c.inputs(binding.inputKey).rows
        rows.zipWithIndex.map { case (r, i) => (i, r.toSeq) }.toDF("id", "features").repartition(3).createOrReplaceTempView("golden_input")
        val result = spark.sql(s"SELECT id, tfpredict('$name:${c.signature}', features) AS p FROM golden_input ORDER BY id").collect()
        val got = result.toSeq.map { r =>
          if (binding.scalarOutput) Array(r.getFloat(1)) else r.getSeq[Float](1).toArray
        }
        worst = worst max compare(golden, c, binding.outputKey, got)
      }
      info(s"max |diff| = $worst")
    }
  }
}

/** Golden agreement on local[2]: one JVM, two task threads. */
class GoldenAgreementSuite extends GoldenAgreementBehaviour
