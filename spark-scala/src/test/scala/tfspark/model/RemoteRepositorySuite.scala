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

  test("a planted entry of the driver's remote-copy cache is re-hashed against its content digest, and copied again") {
    val source = TestModels.tempDir("tfspark-remote-source")
    val linear = new java.io.File(TestModels.modelsDir, "linear/1")
    def copyServing(from: java.io.File, to: java.io.File): Unit = ModelManifest.read(from).files.foreach { f =>
      val target = new java.io.File(to, f.path)
      target.getParentFile.mkdirs()
      java.nio.file.Files.copy(new java.io.File(from, f.path).toPath, target.toPath)
    }
    copyServing(linear, new java.io.File(source, "lin/1"))
    val repo = ModelRepository(s"tfstest://${source.getAbsolutePath}")
    val first = repo.resolve("lin")
    val sha = ModelManifest.sha256(linear)
    assert(ModelManifest.sha256(first.directory) === sha)

    VerifiedCopy.deleteRecursively(first.directory) // another model's files in the completed entry
    copyServing(new java.io.File(TestModels.modelsDir, "titanic/1"), first.directory)
    VerifiedCopy.forgetVerified() // a later application's driver
    val again = repo.resolve("lin")
    assert(again.directory === first.directory)
    assert(VerifiedCopy.rejectCounts(first.directory.getAbsolutePath) === 1)
    assert(ModelManifest.sha256(again.directory) === sha)
    assert(TFInference.predictLocal(again, Seq(Array(1f, 2f))).head.head === 2.838134765625f)
  }
}
