package tfspark.model

import java.io.File
import java.nio.file.{Files, StandardCopyOption}

import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TestModels}
import tfspark.model.warmup.ModelWarmup

/** The load-time warm-up: which source each signature uses, and which failures stop a load. */
class ModelWarmupSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private def copy(from: File, to: File, withExtra: Boolean): File = {
    val files = Files.walk(from.toPath).iterator()
    while (files.hasNext) {
      val f = files.next()
      val rel = from.toPath.relativize(f).toString
      val target = to.toPath.resolve(rel)
      if (Files.isDirectory(f)) Files.createDirectories(target)
      else if (withExtra || !rel.startsWith("assets.extra")) Files.copy(f, target, StandardCopyOption.REPLACE_EXISTING)
    }
    to
  }

  private def sourcesOf(dir: File): Map[String, String] = {
    val signatures = SavedModelHandle.load(ModelLocation("probe", 1, dir))
    try ModelWarmup.sources(dir, signatures.signatures).map { case (sig, source, _) => sig -> source }.toMap
    finally signatures.close()
  }

  test("each signature warms up from TF Serving's requests, else golden vectors, else a synthetic row") {
    val foreign = TestModels.foreignModelsDir
    assert(sourcesOf(new File(foreign, "plain/with_warmup/1")) === Map("serving_default" -> ModelWarmup.WarmupRequestsSource))
    assert(sourcesOf(new File(TestModels.modelsDir, "titanic/1")).values.toSet === Set(ModelWarmup.GoldenSource))
    assert(sourcesOf(new File(foreign, "plain/keras_export/1")).values.toSet === Set(ModelWarmup.Synthetic))
  }

  test("a synthetic row the model rejects as data (empty image bytes) does not fail the load") {
    val cifar = copy(new File(TestModels.modelsDir, "cifar2/1"), new File(TestModels.tempDir("warmup-cifar"), "1"), withExtra = false)
    assert(sourcesOf(cifar)("serving_default") === ModelWarmup.Synthetic)
    val handle = SavedModelHandle.load(ModelLocation("cifar2", 1, cifar))
    try ModelWarmup.run(handle) // decode_image rejects b"": logged, not an error
    finally handle.close()
  }

  test("an unreadable warm-up file or golden vectors the model rejects fail the load with MODEL_LOAD_FAILED") {
    val garbled =
      copy(new File(TestModels.foreignModelsDir, "plain/with_warmup/1"), new File(TestModels.tempDir("warmup-bad"), "1"), withExtra = true)
    Files.write(new File(garbled, ModelManifest.WarmupFile).toPath, Array[Byte](1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14))
    val e1 = checkError("MODEL_LOAD_FAILED")(ModelCache.acquire(ModelManifest.sha256(garbled), ModelLocation("garbled", 1, garbled)))
    assert(e1.getMessage.contains("warm-up inputs are unusable"), e1.getMessage)

    val linear = copy(new File(TestModels.modelsDir, "linear/1"), new File(TestModels.tempDir("warmup-wrong"), "1"), withExtra = true)
    val golden = new File(linear, "assets.extra/golden.json")
    Files.writeString(golden.toPath, Files.readString(golden.toPath).replaceFirst("\"shape\": \\[\\s*4,\\s*2\\s*\\]", "\"shape\": [8, 1]"))
    val e2 =
      checkError("MODEL_LOAD_FAILED")(ModelCache.acquire(ModelManifest.sha256(linear) + "-wrong", ModelLocation("linear", 1, linear)))
    assert(e2.getMessage.contains("warm-up from golden vectors failed"), e2.getMessage)
  }
}
