package tfspark.model

import java.io.File
import java.nio.file.Files

import scala.jdk.CollectionConverters._

import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TestModels}
import tfspark.errors.TFSparkErrors

/**
 * A version that fails to load says what happened to its files (a non-atomic publish: variables
 * missing, half copied, or changing while it loads), and the Keras 3 export trap is named only when
 * the variables are there and complete.
 */
class ModelDiagnosisSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private lazy val repo: File = {
    val root = TestModels.tempDir("tfspark-half-published")
    val from = new File(TestModels.modelsDir, "linear/1").toPath
    for (name <- Seq("good", "novars", "noindex", "noshard", "short", "badindex")) {
      Files.walk(from).iterator().asScala.filter(Files.isRegularFile(_)).foreach { f =>
        val to = new File(root, s"$name/1/${from.relativize(f)}").toPath
        Files.createDirectories(to.getParent)
        Files.copy(f, to)
      }
    }
    def v(name: String, file: String) = new File(root, s"$name/1/variables/$file")
    VerifiedCopy.deleteRecursively(new File(root, "novars/1/variables"))
    v("noindex", "variables.index").delete()
    v("noshard", "variables.data-00000-of-00001").delete()
    val data = v("short", "variables.data-00000-of-00001")
    Files.write(data.toPath, Files.readAllBytes(data.toPath).dropRight(10))
    val index = v("badindex", "variables.index")
    Files.write(index.toPath, Files.readAllBytes(index.toPath).take(100))
    root
  }

  override protected def repositoryRoot: String = repo.getPath

  private val cases = Seq(
    "novars" -> "its variables/ folder is missing",
    "noindex" -> "variables/variables.index is missing (variables/ holds variables.data-00000-of-00001)",
    "noshard" -> "variables/variables.data-00000-of-00001 is missing (the index names 1 data shard)",
    "short" -> "variables/variables.data-00000-of-00001 is truncated: 308 bytes where the index needs 318",
    "badindex" -> "variables/variables.index is unreadable (100 bytes, no table footer"
  )

  test("the bundle index is read: its shards and the bytes each needs") {
    val (shards, needed) = ModelDiagnosis.readBundleIndex(new File(TestModels.modelsDir, "linear/1/variables/variables.index")).toOption.get
    assert(shards === 1 && needed === Map(0 -> 318L))
    assert(ModelDiagnosis.variablesProblem(new File(TestModels.modelsDir, "linear/1")) === None)
  }

  for ((name, reason) <- cases) {
    test(s"$name: the load names the files and says to publish atomically, not to re-export (API and SQL)") {
      val dir = new File(repo, s"$name/1")
      val location = ModelRepository(repo.getPath).resolve(name)
      def check(e: Throwable): Unit = {
        assert(e.getMessage.contains(reason), e.getMessage)
        assert(e.getMessage.contains(ModelDiagnosis.PublishAtomically), e.getMessage)
        assert(!e.getMessage.contains("Keras"), e.getMessage)
      }
      check(checkError("MODEL_LOAD_FAILED", Map("model" -> name, "path" -> dir.getPath)) {
        ModelCache.acquire(ModelManifest.sha256(dir), location)
      })
      check(checkError("MODEL_LOAD_FAILED", Map("model" -> name)) {
        spark.sql(s"SELECT tfpredict('$name', array(1.0f, 2.0f))").collect()
      })
    }
  }

  test("a complete version still loads and answers") {
    assert(spark.sql("SELECT tfpredict('good', array(1.0f, 2.0f))").head().getFloat(0) === 2.838134765625f)
  }

  test("a version whose files change while it loads, or after it was identified, says so and names the files") {
    val location = ModelRepository(repo.getPath).resolve("good")
    val dir = location.directory
    val sha = ModelManifest.sha256(dir)
    val data = new File(dir, "variables/variables.data-00000-of-00001")
    val bytes = Files.readAllBytes(data.toPath)
    val e = checkError("MODEL_LOAD_FAILED", Map("model" -> "good")) {
      ModelDiagnosis.loading(location, Some(sha)) {
        Files.write(data.toPath, bytes.dropRight(1)) // the publisher rewrites it meanwhile
        new AutoCloseable { def close(): Unit = () }
      }
    }
    assert(
      e.getMessage.contains("its files changed while it was loaded (variables/variables.data-00000-of-00001 318 -> 317 bytes"),
      e.getMessage
    )
    val stale = checkError("MODEL_LOAD_FAILED")(ModelDiagnosis.loading(location, Some(sha))(fail("not loaded")))
    assert(stale.getMessage.contains(s"its files changed after they were identified (sha256 $sha then"), stale.getMessage)
    Files.write(data.toPath, bytes)
    // A load that fails while the files change is explained by the change, not by TF's error.
    val during = checkError("MODEL_LOAD_FAILED") {
      ModelDiagnosis.loading(location, None) {
        Files.write(new File(dir, "extra.txt").toPath, "published meanwhile".getBytes("UTF-8"))
        throw TFSparkErrors.modelVariablesNotRestored("good", dir.getPath, new RuntimeException("Could not find variable x"))
      }
    }
    assert(during.getMessage.contains("changed while it was loaded (extra.txt added"), during.getMessage)
    assert(!during.getMessage.contains("Keras"))
  }

  test("the Keras 3 export trap (variables present and complete, but not restored) still gets its cause and fix") {
    val corpus = new File(TestModels.foreignModelsDir, "plain") // canceled, naming the command, when the corpus is not generated
    for (name <- Seq("saved_model_save", "keras_broken")) {
      val location = ModelRepository(corpus.getPath).resolve(name)
      assert(ModelDiagnosis.variablesProblem(location.directory) === None)
      val e = checkError("MODEL_LOAD_FAILED", Map("model" -> name)) {
        ModelCache.acquire(ModelManifest.sha256(location.directory), location)
      }
      assert(e.getMessage.contains(TFSparkErrors.VariablesNotRestoredCause), e.getMessage)
    }
  }
}
