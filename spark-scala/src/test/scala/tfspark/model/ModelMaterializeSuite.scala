package tfspark.model

import java.io.File
import java.nio.file.Files
import java.util.concurrent.{CountDownLatch, Executors, TimeUnit}

import org.apache.spark.SparkConf
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, TestModels}
import tfspark.conf.TFSparkConf

/**
 * How a version's files are identified, routed and copied, without a cluster: the streamed
 * identity, the verified copy (what every executor does before it loads), and the choice between
 * the shared-filesystem and the file-server deliveries.
 */
class ModelMaterializeSuite extends AnyFunSuite with ErrorChecks {

  private val titanic = new File(TestModels.modelsDir, "titanic/1")

  /** Copies each file of `dir`'s manifest into the staging folder, as a delivery does. */
  private def copyFrom(dir: File)(file: ModelFile, destination: File, digest: ModelDigest): Unit =
    digest.copyTo(file, Files.newInputStream(new File(dir, file.path).toPath), destination)

  private def copy(from: File): File = {
    val to = new File(TestModels.tempDir("tfspark-copy"), from.getName)
    ModelArchive.manifest(from).files.foreach { f =>
      val target = new File(to, f.path)
      target.getParentFile.mkdirs()
      Files.copy(new File(from, f.path).toPath, target.toPath)
    }
    to
  }

  test("the streamed identity covers every serving file, leaves assets.extra out and is stable") {
    val m = ModelArchive.manifest(titanic)
    assert(m.files.map(_.path) === m.files.map(_.path).sorted)
    assert(m.files.exists(_.path == "saved_model.pb") && m.files.exists(_.path.startsWith("variables/")))
    assert(!m.files.exists(_.path.startsWith("assets.extra/")), "golden vectors and reports do not travel")
    assert(m.totalBytes === m.files.map(f => Files.size(new File(titanic, f.path).toPath)).sum)
    assert(m.sha256.matches("[0-9a-f]{64}"))
    val copied = copy(titanic)
    assert(ModelArchive.sha256(copied) === m.sha256, "the identity is the content, not the folder")
    Files.write(new File(copied, "extra.txt").toPath, "one more file".getBytes("UTF-8"))
    assert(ModelArchive.sha256(copied) !== m.sha256, "a file added to a version changes its identity")
  }

  test("materialize copies once, verifies the identity and leaves no staging folder") {
    val m = ModelArchive.manifest(titanic)
    val cache = TestModels.tempDir("tfspark-materialize")
    val target = new File(cache, "titanic-1")
    val pool = Executors.newFixedThreadPool(4)
    val start = new CountDownLatch(1)
    try {
      val results = (1 to 4).map { _ =>
        pool.submit(() => {
          start.await(); ModelArchive.materialize("titanic", titanic.getPath, target, m.files, m.sha256)(copyFrom(titanic))
        })
      }
      start.countDown()
      assert(results.map(_.get(60, TimeUnit.SECONDS)).distinct === Seq(target))
    } finally pool.shutdown()
    assert(ModelArchive.copyCounts(target.getAbsolutePath) === 1, "four threads asked, one copied")
    assert(ModelArchive.sha256(target) === m.sha256)
    assert(cache.list().filterNot(_.endsWith(".lock")).toSeq === Seq("titanic-1"), "no staging folder is left")
  }

  test("a file that changed after the driver read it fails the copy with MODEL_LOAD_FAILED, leaving nothing behind") {
    val source = copy(new File(TestModels.modelsDir, "linear/1"))
    val m = ModelArchive.manifest(source)
    val data = m.files.find(_.path.startsWith("variables/variables.data")).get
    val bytes = Files.readAllBytes(new File(source, data.path).toPath)
    bytes(bytes.length - 1) = (bytes(bytes.length - 1) ^ 1).toByte // same size, other content
    Files.write(new File(source, data.path).toPath, bytes)
    val cache = TestModels.tempDir("tfspark-tampered")
    val target = new File(cache, "linear-1")
    val e = checkError("MODEL_LOAD_FAILED", Map("model" -> "linear", "path" -> "the repository")) {
      ModelArchive.materialize("linear", "the repository", target, m.files, m.sha256)(copyFrom(source))
    }
    assert(e.getMessage.contains(s"where the driver read ${m.sha256}"), e.getMessage)
    assert(!target.exists() && cache.list().forall(_.endsWith(".lock")), "a failed copy leaves no model and no staging folder")

    Files.write(new File(source, data.path).toPath, bytes.dropRight(1))
    val shorter = checkError("MODEL_LOAD_FAILED") {
      ModelArchive.materialize("linear", "the repository", target, m.files, m.sha256)(copyFrom(source))
    }
    assert(shorter.getMessage.contains(s"${data.path} has ${data.size - 1} bytes where the driver read ${data.size}"), shorter.getMessage)
  }

  test("a manifest path that would leave the model folder is refused") {
    val target = new File(TestModels.tempDir("tfspark-escape"), "m-1")
    val e = checkError("MODEL_LOAD_FAILED") {
      ModelArchive.materialize("m", "x", target, Seq(ModelFile("../outside", 1L)), "0" * 64)((_, _, _) => fail("nothing may be written"))
    }
    assert(e.getMessage.contains("escapes the model"))
  }

  test("route: local mode ships nothing, a Hadoop-filesystem repository is shared, a local one only when declared") {
    val dir = new File("/models/m/1")
    assert(ModelDelivery.route(localMode = true, Some("hdfs://nn/models/m/1"), dir, repositoryShared = false) === ModelDelivery.InDriverJvm)
    assert(
      ModelDelivery.route(localMode = false, Some("hdfs://nn/models/m/1"), dir, repositoryShared = false) ===
        ModelDelivery.FromSharedFileSystem("hdfs://nn/models/m/1")
    )
    assert(ModelDelivery.route(localMode = false, None, dir, repositoryShared = false) === ModelDelivery.FromDriver)
    assert(
      ModelDelivery.route(localMode = false, None, dir, repositoryShared = true) === ModelDelivery.FromSharedFileSystem("file:/models/m/1")
    )
  }

  test("spark.tfpredict.repositoryShared is true or false (default false)") {
    assert(!TFSparkConf.repositoryShared(new SparkConf(false)))
    assert(TFSparkConf.repositoryShared(new SparkConf(false).set(TFSparkConf.RepositoryShared, " TRUE ")))
    checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.RepositoryShared, "got" -> "yes")) {
      TFSparkConf.repositoryShared(new SparkConf(false).set(TFSparkConf.RepositoryShared, "yes"))
    }
  }
}
