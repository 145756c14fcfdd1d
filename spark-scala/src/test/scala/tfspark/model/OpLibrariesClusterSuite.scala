package tfspark.model

import java.io.File
import java.nio.file.Files
import java.security.MessageDigest

import org.apache.spark.SparkEnv

/**
 * spark.tfpredict.opLibraries on `local-cluster[2,1,1024]`: two executor JVMs that see the libraries
 * only through what tfspark ships (the driver's file server), each loading a verified copy before
 * the model, then serving the op-library models as Python TF does.
 */
@tfspark.tags.ClusterTest
class OpLibrariesClusterSuite extends OpLibraryServingBehaviour with tfspark.LocalClusterFixture {

  override protected def extraConf: Map[String, String] = localClusterConf ++ opLibraryConf

  private def sha256(f: File): String =
    MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f.toPath)).map("%02x".format(_)).mkString

  test("each executor JVM loads a verified copy of every library, fetched from the driver, before the model") {
    val shipped = ShippedModel.ship(spark.sparkContext, ModelRepository(OpLibraryFixtures.repository.getPath).resolve("text_ops"))
    val libraries = shipped.opLibraries
    assert(libraries.map(_.source) === OpLibraryFixtures.setting.split(",").toSeq)
    assert(libraries.forall(_.delivery.isInstanceOf[OpLibraryDelivery.DriverFileServer]), libraries)
    libraries.foreach(l => assert(l.sha256 === sha256(new File(l.source))))
    val expected = libraries.map(l => l.source -> l.sha256).toMap
    val reports = spark.sparkContext
      .parallelize(0 until 8, 8)
      .mapPartitions { _ =>
        ModelCache.acquire(shipped)
        val copies = shipped.opLibraries.map { l =>
          val copy = new File(ModelRepository.localCache, s"op-libraries/${l.sha256}/${l.fileName}")
          val sha = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(copy.toPath)).map("%02x".format(_)).mkString
          l.source -> sha
        }
        Iterator((SparkEnv.get.executorId, ProcessHandle.current().pid(), OpLibraries.loaded.keySet, copies.toMap))
      }
      .collect()
      .distinct
    reports.foreach { case (id, pid, loaded, _) => info(s"executor $id (pid $pid) loaded ${loaded.toSeq.sorted.mkString(", ")}") }
    assert(reports.map(_._2).distinct.length === 2, s"expected 2 executor JVMs: ${reports.toSeq}")
    assert(!reports.map(_._2).contains(ProcessHandle.current().pid()))
    reports.foreach { case (_, _, loaded, copies) =>
      assert(loaded === expected.keySet)
      assert(copies === expected, "each executor's copy holds the driver's bytes")
    }
  }
}
