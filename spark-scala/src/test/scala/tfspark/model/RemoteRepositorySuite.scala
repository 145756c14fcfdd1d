package tfspark.model

import java.net.URI

import org.apache.hadoop.fs.RawLocalFileSystem
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TFInference, TestModels}

/** The local disk under another URI scheme: a stand-in for `hdfs:` or `s3a:` in tests. */
class RemappedLocalFileSystem extends RawLocalFileSystem {
  override def getUri: URI = URI.create("tfstest:///")
  override def getScheme: String = "tfstest"
}

/** A model repository on a Hadoop filesystem other than the local one (`tfstest:` here). */
class RemoteRepositorySuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  override protected def extraConf: Map[String, String] =
    Map("spark.hadoop.fs.tfstest.impl" -> classOf[RemappedLocalFileSystem].getName, "spark.hadoop.fs.tfstest.impl.disable.cache" -> "true")

  private def remoteRoot = s"tfstest://${TestModels.modelsDir.getAbsolutePath}"

  override protected def repositoryRoot: String = remoteRoot

  test("lists, resolves and copies a version to the local cache, then scores through it") {
    val repo = ModelRepository(remoteRoot)
    assert(repo.models.contains("titanic") && repo.versions("linear") === Seq(1L))
    val location = repo.resolve("linear")
    assert(location.directory.getAbsolutePath.startsWith(ModelRepository.localCache.getAbsolutePath))
    assert(new java.io.File(location.directory, "variables").isDirectory)
    val model = TFInference.ship(spark.sparkContext, location)
    val got = TFInference.predictRDD(spark.sparkContext.parallelize(Seq(Array(1f, 2f))), model).collect().head.head
    val local = TFInference.predictLocal(ModelRepository(TestModels.modelsDir.getPath).resolve("linear"), Seq(Array(1f, 2f))).head.head
    assert(got === local)
  }

  test("SQL resolves models in a remote spark.tfpredict.repository, and names a missing one by URI") {
    assert(spark.sql("SELECT tfpredict('linear', array(1.0f, 2.0f))").head().getFloat(0) > 2.0f)
    checkError("MODEL_NOT_FOUND", Map("model" -> "nope", "path" -> s"$remoteRoot/nope")) {
      spark.sql("SELECT tfpredict('nope', array(1.0f, 2.0f))")
    }
  }
}
