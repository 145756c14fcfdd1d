package tfspark.model

import java.io.File
import java.nio.file.{Files, StandardCopyOption}

import tfspark.ErrorChecks
import tfspark.conf.TFSparkConf

/**
 * spark.tfpredict.opLibraries in local mode: the libraries load on the driver before a model, once
 * per JVM and content; a changed, missing or unloadable library is OP_LIBRARY_LOAD_FAILED; the key
 * is validated and fixed at start. Also: a model holding a Python callback is refused at load.
 */
class OpLibrariesSuite extends OpLibraryServingBehaviour with ErrorChecks {

  override protected def extraConf: Map[String, String] = opLibraryConf

  test("each configured library is loaded once in the driver JVM, with the ops it registers") {
    OpLibraries.loadConfigured()
    val loaded = OpLibraries.loaded
    assert(loaded(OpLibraryFixtures.regexSplit.getPath) === Seq("RegexSplitWithOffsets"))
    assert(loaded(OpLibraryFixtures.whitespaceTokenizer.getPath) === Seq("TFText>WhitespaceTokenizeWithOffsetsV2"))
    assert(loaded(OpLibraryFixtures.decisionForests.getPath).contains("SimpleMLCreateModelResource"))
    // Again: a no-op, the same answer.
    OpLibraries.loadSource(OpLibraryFixtures.regexSplit.getPath)
    assert(OpLibraries.loaded === loaded)
  }

  test("a library whose content changed after this JVM loaded it is OP_LIBRARY_LOAD_FAILED") {
    val dir = Files.createTempDirectory("oplib-changed").toFile
    val lib = new File(dir, "ops.so")
    Files.copy(OpLibraryFixtures.whitespaceTokenizer.toPath, lib.toPath)
    OpLibraries.loadSource(lib.getPath)
    Files.copy(OpLibraryFixtures.regexSplit.toPath, lib.toPath, StandardCopyOption.REPLACE_EXISTING)
    lib.setLastModified(lib.lastModified() + 2000)
    val e = checkError("OP_LIBRARY_LOAD_FAILED", Map("library" -> lib.getPath, "where" -> "on the driver")) {
      OpLibraries.loadSource(lib.getPath)
    }
    assert(e.getMessage.contains("its content changed after this JVM loaded it") && e.getMessage.contains("Restart the application"))
  }

  test("a missing library, and a file that is no library, are OP_LIBRARY_LOAD_FAILED with TF's text") {
    val missing = checkError("OP_LIBRARY_LOAD_FAILED", Map("library" -> "/nowhere/ops.so")) { OpLibraries.loadSource("/nowhere/ops.so") }
    assert(missing.getMessage.contains("does not exist or cannot be read"))
    val notALibrary = Files.createTempFile("not-a-library", ".so").toFile
    Files.writeString(notALibrary.toPath, "not ELF")
    val e = checkError("OP_LIBRARY_LOAD_FAILED", Map("library" -> notALibrary.getPath)) { OpLibraries.loadSource(notALibrary.getPath) }
    assert(e.getMessage.contains("loadLibrary") && e.getMessage.contains(notALibrary.getPath), e.getMessage)
    assert(e.getMessage.contains("TensorFlow 2.18's libtensorflow_framework.so.2"), e.getMessage)
  }

  test("the setting is validated, and a runtime SET of it is refused") {
    val entry = TFSparkConf.entry(TFSparkConf.OpLibraries)
    val parsed: Any = entry.parse(" /a/x.so , hdfs:///libs/y.so,, file:/b/z.so ")
    assert(parsed == Seq("/a/x.so", "hdfs:///libs/y.so", "file:/b/z.so"))
    Seq("relative/x.so", "/a/folder/", "C:x.so").foreach { bad =>
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.OpLibraries)) { entry.parse(bad) }
    }
    spark.conf.set(TFSparkConf.OpLibraries, "/other/ops.so")
    try {
      val e = checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.OpLibraries)) { TFSparkConf.validate(spark) }
      assert(e.getMessage.contains("set it at start"))
    } finally spark.conf.set(TFSparkConf.OpLibraries, OpLibraryFixtures.setting)
  }

  test("a model that calls tf.py_function (EagerPyFunc) is MODEL_LOAD_FAILED at load, naming the op and its function") {
    val location = ModelRepository(OpLibraryFixtures.repository.getPath).resolve("py_function")
    val e = checkError("MODEL_LOAD_FAILED", Map("model" -> "py_function")) { SavedModelHandle.load(location) }
    assert(e.getMessage.contains("it contains op EagerPyFunc (in function __inference_"), e.getMessage)
    assert(e.getMessage.contains("Python interpreter") && e.getMessage.contains("tf.py_function"), e.getMessage)
    // Through SQL too: at analysis, not row by row.
    val sql = checkError("MODEL_LOAD_FAILED") { spark.sql("SELECT tfpredict('py_function', 1.0f)").collect() }
    assert(sql.getMessage.contains("EagerPyFunc"))
  }
}
