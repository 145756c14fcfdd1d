package tfspark.model

import java.io.File
import java.nio.charset.StandardCharsets

import org.scalatest.funsuite.AnyFunSuite

/**
 * A model whose op no library of the JVM registers is MODEL_LOAD_FAILED naming the op, the package
 * that provides it and spark.tfpredict.opLibraries. Each load runs in a fresh JVM ([[FreshJvmLoad]]):
 * the test JVM may have loaded the op libraries already (they cannot be unloaded).
 */
class UnregisteredOpSuite extends AnyFunSuite {

  private def loadInFreshJvm(model: String): String = {
    val java = new File(System.getProperty("java.home"), "bin/java").getPath
    val command = Seq(java, "-cp", System.getProperty("java.class.path")) ++
      sys.props.get(NativeLibrary.CacheDirProperty).map(d => s"-D${NativeLibrary.CacheDirProperty}=$d") ++
      Seq(FreshJvmLoad.getClass.getName.stripSuffix("$"), model, new File(OpLibraryFixtures.repository, s"$model/1").getPath)
    val process = new ProcessBuilder(command: _*).redirectError(ProcessBuilder.Redirect.DISCARD).start()
    val out = new String(process.getInputStream.readAllBytes(), StandardCharsets.UTF_8)
    assert(process.waitFor() === 0, out)
    out.linesIterator
      .filter(l => l.startsWith("LOADED") || l.startsWith("FAILED"))
      .toList
      .lastOption
      .getOrElse(fail(s"no outcome in: $out"))
  }

  private def assertNeedsLibrary(model: String, op: String, pkg: String, file: String): Unit = {
    val line = loadInFreshJvm(model)
    info(line)
    val Array(status, errorClass, message) = line.split("\t", 3)
    assert(status === "FAILED" && errorClass === "MODEL_LOAD_FAILED", line)
    assert(message.contains(s"uses op $op, which is not registered"), message)
    assert(message.contains(pkg) && message.contains(file), message)
    assert(message.contains("spark.tfpredict.opLibraries"), message)
    assert(message.contains("TensorFlow 2.18"), message)
    assert(!message.contains("tf.contrib"), "TF's advice about tf.contrib does not apply")
  }

  test("a TF-DF / ydf model names SimpleMLCreateModelResource, tensorflow-decision-forests and the setting") {
    assertNeedsLibrary(
      "decision_forest",
      "SimpleMLCreateModelResource",
      "tensorflow-decision-forests 1.11.0",
      "tensorflow_decision_forests/tensorflow/ops/inference/inference.so"
    )
  }

  test("a tensorflow-text model names its op, tensorflow-text and the library file") {
    assertNeedsLibrary("normalize_utf8", "NormalizeUTF8", "tensorflow-text 2.18.x", "tensorflow_text/python/ops/_normalize_ops.so")
  }

  test("the table knows the ops of both wheels and nothing else") {
    assert(KnownOpLibraries.providerOf("RegexSplitWithOffsets").exists(_.file.endsWith("_regex_split_ops.so")))
    assert(KnownOpLibraries.providerOf("WhitespaceTokenizeWithOffsets").exists(_.file.endsWith("_whitespace_tokenizer.so")))
    assert(KnownOpLibraries.providerOf("SentencepieceOp").exists(_.pkg.startsWith("tensorflow-text")))
    assert(KnownOpLibraries.providerOf("SimpleMLInferenceOpWithHandle").exists(_.pkg.startsWith("tensorflow-decision-forests")))
    assert(KnownOpLibraries.providerOf("MatMul").isEmpty)
  }
}
