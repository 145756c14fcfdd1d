package tfspark.model

import java.io.File
import java.net.URI
import java.nio.file.Files

import org.apache.spark.tfspark.DriverFiles
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TestModels}

/**
 * The driver's file server, reached as an executor reaches it (`spark://` URIs over the RPC port,
 * from the driver's own JVM here; [[ModelShippingClusterSuite]] does it from executors): it serves
 * the files of a shipped model and nothing else.
 */
class DriverFilesSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private def read(uri: String): Array[Byte] = {
    val in = DriverFiles.open(uri)
    try in.readAllBytes()
    finally in.close()
  }

  private def refused(uri: String): Unit = {
    val got = scala.util.Try(read(uri))
    assert(got.isFailure, s"$uri was served: ${got.map(b => new String(b.take(80), "UTF-8"))}")
  }

  test("only the manifest's files are served, under unguessable names; '..', absolute paths and other files of the folder are not") {
    val dir = new File(TestModels.modelsDir, "linear/1")
    val m = ModelManifest.read(dir)
    val uris = DriverFiles.serveFiles(spark.sparkContext, m.files.map(ModelManifest.fileOf(m, _)))
    assert(uris.size === m.files.size)
    m.files.zip(uris).foreach { case (f, uri) => assert(read(uri) === Files.readAllBytes(new File(dir, f.path).toPath), f.path) }
    val first = uris.head
    val name = first.substring(first.lastIndexOf('/') + 1)
    assert(name.matches("tfspark-[0-9a-f]{32}-0"), first)
    val prefix = name.stripSuffix("0")
    val server = new URI(first).getAuthority
    val files = s"spark://$server/files"
    assert(first === s"$files/$name")

    val secret = Files.createTempFile("tfspark-secret", ".txt")
    Files.writeString(secret, "not a model file")
    val up = "/.." * 12
    Seq(
      s"$first$up$secret", // through a served name
      s"$files$up$secret",
      s"$files/$secret", // an absolute path as the name
      s"spark://$server$secret",
      s"spark://$server/tfspark-model-${m.sha256.take(32)}/saved_model.pb", // the folder served before
      s"spark://$server/tfspark-model-${m.sha256.take(32)}$up$secret",
      s"$files/saved_model.pb", // real names of the folder's files
      s"$files/variables.index",
      s"$files/golden.json", // in the folder, not in the manifest
      s"$files/$prefix${uris.size}", // the next index of this shipment
      s"$files/${prefix}0$up$secret"
    ).foreach(refused)

    val again = DriverFiles.serveFiles(spark.sparkContext, m.files.map(ModelManifest.fileOf(m, _)))
    assert(again.toSet.intersect(uris.toSet).isEmpty, "each shipment gets a fresh token")
    assert(read(again.last) === read(uris.last))
  }

  test("a manifest path that is absolute or holds '..' is refused before anything is served") {
    val m = ModelManifest.read(new File(TestModels.modelsDir, "linear/1"))
    for (path <- Seq("../2/saved_model.pb", "/etc/hostname", "variables/../../2/x", "a//b", "./x")) {
      val e = checkError("MODEL_LOAD_FAILED")(ModelManifest.fileOf(m, ModelFile(path, 1L)))
      assert(e.getMessage.contains("escapes the model"), e.getMessage)
    }
  }
}
