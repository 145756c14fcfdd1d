package tfspark.model

import java.io.File
import java.nio.file.Files

import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, TestModels}

/**
 * The three layout mistakes of a model repository, each diagnosed as what it is (MODEL_LOAD_FAILED
 * with the fix), in plain folders and through symbolic links (TF-Serving-style linked versions),
 * the same words as `python -m python_trainer check` (tests/test_check_layout.py).
 */
class RepositoryLayoutSuite extends AnyFunSuite with ErrorChecks {

  private val linear = new File(TestModels.modelsDir, "linear/1")

  private def copyTree(from: File, to: File): Unit = {
    val src = from.toPath
    Files.walk(src).forEach { p =>
      val target = to.toPath.resolve(src.relativize(p).toString)
      if (Files.isDirectory(p)) Files.createDirectories(target) else Files.copy(p, target)
    }
  }

  /** A repository holding the three mistakes: `flat/` (no version folder), `half/1/` (no saved_model.pb), `named/{latest,v2}/`. */
  private def mistakes(): File = {
    val repo = TestModels.tempDir("tfspark-layout")
    copyTree(linear, new File(repo, "flat"))
    new File(repo, "half/1/variables").mkdirs()
    copyTree(linear, new File(repo, "named/latest"))
    new File(repo, "named/v2").mkdirs()
    repo
  }

  /** The same models reached through links: the root, each model, and each version folder. */
  private def linked(real: File): File = {
    val store = TestModels.tempDir("tfspark-layout-linked")
    val root = new File(store, "repo")
    root.mkdirs()
    Files.createSymbolicLink(new File(root, "flat").toPath, new File(real, "flat").toPath)
    new File(root, "half").mkdirs()
    Files.createSymbolicLink(new File(root, "half/1").toPath, new File(real, "half/1").toPath)
    new File(root, "named").mkdirs()
    Seq("latest", "v2").foreach(n => Files.createSymbolicLink(new File(root, s"named/$n").toPath, new File(real, s"named/$n").toPath))
    val link = new File(store, "linked-repo")
    Files.createSymbolicLink(link.toPath, root.toPath)
    link
  }

  private def diagnose(repo: File): Unit = {
    val repository = ModelRepository(repo.getPath)
    val flat = checkError("MODEL_LOAD_FAILED", Map("model" -> "flat")) { repository.resolve("flat") }
    assert(flat.getMessage.contains(s"move it into ${new File(repo, "flat/1").getPath}/"), flat.getMessage)
    assert(flat.getMessage.contains("without a version folder"), flat.getMessage)

    val half = checkError("MODEL_LOAD_FAILED", Map("model" -> "half")) { repository.resolve("half") }
    assert(half.getMessage.contains(s"${new File(repo, "half/1/saved_model.pb").getPath} is missing"), half.getMessage)
    val halfAsked = checkError("MODEL_LOAD_FAILED", Map("model" -> "half")) { repository.resolve("half", Some(1L)) }
    assert(halfAsked.getMessage === half.getMessage)

    val named = checkError("MODEL_LOAD_FAILED", Map("model" -> "named")) { repository.resolve("named") }
    assert(named.getMessage.contains("none of its sub-folders is a version: latest, v2"), named.getMessage)
  }

  test("a SavedModel without a version folder, a version without saved_model.pb, and non-numeric folders are each named") {
    diagnose(mistakes())
  }

  test("the same diagnosis through symbolic links (linked root, models and versions)") {
    diagnose(linked(mistakes()))
  }

  test("what is not a mistake keeps its error: an absent version, a good repository") {
    val repo = mistakes()
    copyTree(linear, new File(repo, "good/1"))
    new File(repo, "good/2").mkdirs() // being written: the newest complete version serves
    val repository = ModelRepository(repo.getPath)
    assert(repository.resolve("good").version === 1L)
    checkError("MODEL_VERSION_NOT_FOUND", Map("model" -> "good", "version" -> "5", "available" -> "1")) {
      repository.resolve("good", Some(5L))
    }
    checkError("MODEL_LOAD_FAILED", Map("model" -> "good")) { repository.resolve("good", Some(2L)) }
    checkError("MODEL_VERSION_NOT_FOUND", Map("model" -> "flat", "version" -> "3")) { repository.resolve("flat", Some(3L)) }
  }

  test("a version link that points nowhere is no version: the empty version folder beside it is the one named") {
    val repo = TestModels.tempDir("tfspark-layout-broken")
    new File(repo, "half/1").mkdirs()
    Files.createSymbolicLink(new File(repo, "half/2").toPath, new File(repo, "nowhere").toPath)
    val e = checkError("MODEL_LOAD_FAILED", Map("model" -> "half")) { ModelRepository(repo.getPath).resolve("half") }
    assert(e.getMessage.contains(s"${new File(repo, "half/1/saved_model.pb").getPath} is missing"), e.getMessage)
  }
}
