package tfspark

import org.apache.spark.sql.Row
import org.scalatest.Tag
import org.scalatest.funsuite.AnyFunSuite

import tfspark.model.{ModelRepository, ShippedModel}

/**
 * Golden agreement of every committed model and signature with the outputs Python TF recorded,
 * through each Spark entry point: the RDD API (maps of named inputs), the DataFrame API (which
 * BatchScore uses), the ML Transformer, the BatchScore job and SQL `tfpredict` with a struct of the inputs. Mixed into a
 * local[2] suite and into the local-cluster suite, so the same checks run with and without
 * separate executor JVMs.
 */
abstract class GoldenAgreementBehaviour extends AnyFunSuite with SparkSessionFixture {

  /** Committed and test-only models in one repository (the repository cannot change at run time). */
  override protected def repositoryRoot: String = TestModels.linkedRepository.getPath

  assert(TestModels.withGoldenVectors.nonEmpty, s"no committed models with golden vectors under ${TestModels.modelsDir}")

  /** Runs `path` over every case and reports the max |diff|. */
  private def agree(root: java.io.File, name: String, version: Long)(path: (ShippedModel, GoldenVectors.Case) => Seq[Any]): Unit = {
    val repository = ModelRepository(root.getPath)
    val golden = GoldenVectors.read(repository.resolve(name, Some(version)).directory)
    val shipped = TFInference.ship(spark.sparkContext, repository.resolve(name, Some(version)))
    val worst = golden.cases.map(c => GoldenRows.compare(golden, c, path(shipped, c))).max
    info(s"${golden.cases.size} cases over ${golden.cases.map(_.signature).distinct.sorted.mkString(", ")}; max |diff| = $worst")
  }

  for ((root, name, version) <- TestModels.allWithGoldenVectors) {

    test(s"$name/$version: golden vectors reproduce through the RDD API (maps, batched)") {
      agree(root, name, version) { (model, c) =>
        TFInference
          .predictMaps(spark.sparkContext.parallelize(GoldenRows.maps(c), 3), model, batchSize = 4, signature = c.signature)
          .collect()
          .toSeq
      }
    }

    test(s"$name/$version: golden vectors reproduce through the DataFrame API (batched)") {
      agree(root, name, version) { (model, c) =>
        val df = GoldenRows.dataFrame(spark, c, partitions = 3)
        TFInference
          .predictDataFrame(df, model, "p", batchSize = 3, signature = c.signature)
          .orderBy("id")
          .collect()
          .toSeq
          .map(_.getAs[Any]("p"))
      }
    }

    test(s"$name/$version: golden vectors reproduce through the ML Transformer") {
      agree(root, name, version) { (_, c) =>
        val scorer = new tfspark.ml.TFModelTransformer()
          .setModel(name)
          .setRepository(root.getPath)
          .setSignature(c.signature)
          .setOutputCol("p")
          .setBatchSize(2)
        scorer.transform(GoldenRows.dataFrame(spark, c, partitions = 2)).orderBy("id").collect().toSeq.map(_.getAs[Any]("p"))
      }
    }

    test(s"$name/$version: golden vectors reproduce through the BatchScore job (Parquet in and out)", Tag("tfspark.tags.JobPerModelTest")) {
      agree(root, name, version) { (_, c) =>
        val dir = TestModels.tempDir("golden-batchscore")
        val input = new java.io.File(dir, "in.parquet").getPath
        val output = new java.io.File(dir, "out").getPath
        GoldenRows.dataFrame(spark, c, partitions = 2).write.parquet(input)
        val summary = tfspark.jobs.BatchScore.run(
          spark,
          tfspark.jobs.BatchScoreOptions.parse(
            Seq("--repository", root.getPath, "--model", s"$name:${c.signature}", "--input", input, "--output", output)
          )
        )
        assert(summary.rows === GoldenRows.rowCount(c))
        spark.read.parquet(output).orderBy("id").collect().toSeq.map(_.getAs[Any]("prediction"))
      }
    }

    test(s"$name/$version: golden vectors reproduce through SQL tfpredict('$name:<signature>', struct(...))") {
      agree(root, name, version) { (_, c) =>
        GoldenRows.dataFrame(spark, c, partitions = 2).createOrReplaceTempView("golden_input")
        val fields = c.inputs.keys.toSeq.sorted.mkString(", ")
        spark
          .sql(s"SELECT id, tfpredict('$name@$version:${c.signature}', struct($fields)) AS p FROM golden_input ORDER BY id")
          .collect()
          .toSeq
          .map { r =>
            r.get(1) match { case struct: Row => struct; case value => value }
          }
      }
    }
  }
}

/** Golden agreement on local[2]: one JVM, two task threads. */
class GoldenAgreementSuite extends GoldenAgreementBehaviour
