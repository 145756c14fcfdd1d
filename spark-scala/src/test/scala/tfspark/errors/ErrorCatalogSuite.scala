package tfspark.errors

import java.io.File
import java.nio.charset.StandardCharsets
import java.nio.file.Files

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.ObjectMapper
import org.scalatest.funsuite.AnyFunSuite

/**
 * The error registry (`tfspark/error-classes.json`, in the jar as [[ErrorRegistry.Resource]]) and the
 * JVM's factory: every class the JVM raises has a factory that fills exactly its template's
 * parameters, under a stable name, with the registry's SQLSTATE; the registry is sorted and well
 * formed, and docs/errors.md lists it.
 */
class ErrorCatalogSuite extends AnyFunSuite {

  private val root = new File(sys.props.getOrElse("tfspark.repo.root", "."))
  private val registryFile = new File(root, "tfspark/error-classes.json")
  private def read(f: File): String = new String(Files.readAllBytes(f.toPath), StandardCharsets.UTF_8)
  private def parameters(template: String): Set[String] = "<([a-zA-Z]+)>".r.findAllMatchIn(template).map(_.group(1)).toSet

  private val samples: Seq[TFSparkException] = Seq(
    TFSparkErrors.modelNotFound("m", "/repo", "/repo/m", Seq("a", "b")),
    TFSparkErrors.modelVersionNotFound("m", 3, "/repo/m/3", Seq(1L, 2L)),
    TFSparkErrors.modelLoadFailed("m", "/repo/m/1", new RuntimeException("bad proto")),
    TFSparkErrors.signatureNotFound("m", "s", Seq("serving_default")),
    TFSparkErrors.nativeLibraryMissing(new UnsatisfiedLinkError("no jnitensorflow in java.library.path")),
    TFSparkErrors.unsupportedSignature("m", "s", "why", "what"),
    TFSparkErrors.inputTypeMismatch("m", "features", "array<float>", "string"),
    TFSparkErrors.inputShapeMismatch("m", "features", 2, 3, "row 4"),
    TFSparkErrors.nullInput("m", "features", "an array", "row 5"),
    TFSparkErrors.defaultModelNotSet("spark.tfpredict.defaultModel", "x"),
    TFSparkErrors.missingInput("m", "s", "age", Seq("Age2", "Sex")),
    TFSparkErrors.ambiguousInput("m", "age", Seq("age", "AGE")),
    TFSparkErrors.unexpectedInput("m", "s", "Name", Seq("age")),
    TFSparkErrors.modelExecutionFailed("m", "row {path: \"a.jpg\"}", new RuntimeException("Unknown image file format")),
    TFSparkErrors.outputNotUtf8("m", "png", "row 3 of partition 0 ({n: 3})", "byte 0x89 at offset 0 of 75 bytes"),
    TFSparkErrors.inputEmpty("/data/in", "no files", "If the files are in subfolders, add --recursive."),
    TFSparkErrors.invalidConfig("k", "v", "e"),
    TFSparkErrors.deltaNotAvailable("--output-format delta", "its classes are not on the classpath (io.delta.tables.DeltaTable)"),
    TFSparkErrors.invalidArgument("w", "g", "e"),
    // issue 17: op libraries
    TFSparkErrors.opLibraryLoadFailed("/libs/ops.so", "on executor 1", "undefined symbol: _ZN10tensorflow8OpKernelD2Ev", "Rebuild it."),
    // issue 17: dtypes
    TFSparkErrors.inputValueOutOfRange(
      "m",
      "pixels",
      "uint8",
      "integers from 0 to 255",
      "300",
      "row 2 of partition 0 ({pixels: [300]}), element 0"
    ),
    // issue 21: the MLflow registry
    TFSparkErrors.mlflowNotConfigured("models:/churn@champion:serving_default", "spark.tfpredict.mlflow.trackingUri", "neither is set"),
    TFSparkErrors
      .mlflowUnreachable("http://127.0.0.1:1", "MLFLOW_TRACKING_URI", "GET /api/2.0/x", new java.net.ConnectException("refused")),
    TFSparkErrors.mlflowModelNotFound("churn", "http://127.0.0.1:5000", Seq("titanic")),
    TFSparkErrors.mlflowVersionNotFound("churn", "no alias gold", "http://127.0.0.1:5000", Seq(1L, 2L), Seq("champion (version 2)")),
    TFSparkErrors.mlflowRequestFailed("http://127.0.0.1:5000", "GET /api/2.0/x", 403, "PERMISSION_DENIED: no"),
    TFSparkErrors.mlflowNotSavedModel("churn", 3, "mlflow-artifacts:/0/m", "data/model.keras is a Keras file", "Export a SavedModel."),
    // issue 22: bfloat16
    TFSparkErrors.bfloat16NotSupported("mlp", "worker-3", "this CPU has none of the flags avx512_bf16, amx_bf16, bf16"),
    TFSparkErrors.bfloat16DeviationExceeded(
      "mlp",
      2,
      0.02,
      "prediction 8.0e-02",
      "deviation from float32: prediction 8.0e-02",
      "golden vectors"
    )
  )

  test("every class the JVM raises has a sample, and each fills exactly its template's parameters") {
    assert(samples.map(_.errorClass).toSet === TFSparkErrors.errorClasses)
    assert(TFSparkErrors.errorClasses.size >= 20 && TFSparkErrors.errorClasses.contains("INVALID_ARGUMENT"))
    samples.foreach { e =>
      val registered = ErrorRegistry.classes(e.errorClass)
      val template = registered.message.getOrElse(fail(s"${e.errorClass} is raised by the JVM without a template"))
      assert(e.messageParameters.keySet === parameters(template + registered.whenFailing), e.errorClass)
      assert(e.getMessage.startsWith(s"[${e.errorClass}] "))
      parameters(template).foreach(p => assert(!e.getMessage.contains(s"<$p>"), e.getMessage))
      assert(e.getCondition === e.errorClass && e.getErrorClass === e.errorClass)
      assert(e.getSqlState === registered.sqlState)
      assert(e.getMessageParameters.asScala.toMap === e.messageParameters)
      e.messageParameters.values.foreach(v => assert(e.getMessage.contains(v), s"${e.errorClass} hides $v"))
    }
  }

  test("the registry: sorted keys, well-formed names and SQLSTATEs, a meaning and a side for every class") {
    val text = read(registryFile)
    val tree = new ObjectMapper().readTree(text)
    val names = tree.fieldNames().asScala.toList
    assert(names === names.sorted, "error-classes.json lists its classes in sorted order")
    assert(names.toSet === ErrorRegistry.classes.keySet)
    val sides = Set("jvm", "tfspark", "python_trainer", "python_trainer check")
    names.foreach { name =>
      val node = tree.get(name)
      val fields = node.fieldNames().asScala.toList
      assert(fields === fields.sorted, s"$name: fields in sorted order")
      assert(fields.toSet.subsetOf(Set("diagnoses", "example", "meaning", "message", "raisedBy", "sqlState", "whenFailing")), name)
      assert(name.matches("[A-Z][A-Z0-9]*(_[A-Z0-9]+)*"), name)
      val c = ErrorRegistry.classes(name)
      assert(c.sqlState.matches("[0-9A-Z]{5}"), s"$name: SQLSTATE ${c.sqlState}")
      assert(!c.sqlState.startsWith("00") && !c.sqlState.startsWith("01"), s"$name: an error's SQLSTATE is not a success or warning class")
      assert(c.raisedBy.nonEmpty && c.raisedBy.toSet.subsetOf(sides), s"$name: raisedBy ${c.raisedBy}")
      assert(node.get("meaning").asText.trim.nonEmpty, name)
      // The JVM renders every class it raises from a template; Python's free-text classes have none.
      assert(c.message.isDefined === c.raisedBy.contains("jvm"), name)
      c.message.foreach { m =>
        assert(!m.startsWith("[") && !m.contains(s"[$name]"), s"$name: the prefix is added once, when rendered")
        assert("""[^.]\.\.(?!\.)""".r.findFirstIn(m + c.whenFailing).isEmpty, s"$name: a doubled full stop") // "..." is an ellipsis
        assert(m.endsWith(".") || m.endsWith(">"), s"$name: $m")
      }
      assert(c.whenFailing.isEmpty || c.whenFailing.startsWith(" "), name)
      c.diagnoses.foreach { case (key, d) =>
        assert(d.cause.nonEmpty && d.fix.nonEmpty && !d.cause.endsWith(".") && !d.fix.endsWith("."), s"$name.$key")
      }
    }
    assert(text.endsWith("}\n") && !text.contains("\t"), "two-space indented JSON with a final newline")
  }

  test("the jar's registry is the repository's one file, copied by the build") {
    val in = getClass.getClassLoader.getResourceAsStream(ErrorRegistry.Resource)
    assert(in != null, ErrorRegistry.Resource)
    val copied =
      try new String(in.readAllBytes(), StandardCharsets.UTF_8)
      finally in.close()
    assert(copied === read(registryFile))
  }

  test("one meaning per class: MODEL_LOAD_FAILED and INVALID_ARGUMENT are each one class with one template") {
    assert(ErrorRegistry.classes("MODEL_LOAD_FAILED").raisedBy === Seq("jvm", "python_trainer check"))
    assert(ErrorRegistry.classes("INVALID_ARGUMENT").raisedBy === Seq("jvm", "tfspark"))
    // The trainer refusing to publish an export is its own class, not the JVM's load failure.
    assert(ErrorRegistry.classes("EXPORT_NOT_LOADABLE").raisedBy === Seq("python_trainer"))
    assert(ErrorRegistry.diagnosis("MODEL_LOAD_FAILED", "variablesNotRestored").cause === TFSparkErrors.VariablesNotRestoredCause)
    val keras = TFSparkErrors.modelVariablesNotRestored("m", "/repo/m/1", new RuntimeException("Could not find variable x"))
    assert(keras.getMessage.contains(s"Fix: ${TFSparkErrors.VariablesNotRestoredFix}."), keras.getMessage)
    val python = TFSparkErrors.modelNeedsPython("m", "/repo/m/1", "EagerPyFunc", Some("__inference_f_7"))
    assert(python.getMessage.contains("it contains op EagerPyFunc (in function __inference_f_7), which calls back"), python.getMessage)
    assert(python.getMessage.contains("so every row would fail. Re-export the model without tf.py_function"), python.getMessage)
  }

  test("docs/errors.md's table is the registry's") {
    val doc = read(new File(root, "docs/errors.md"))
    val begin = "<!-- error-table: generated from tfspark/error-classes.json -->"
    val end = "<!-- error-table: end -->"
    assert(doc.contains(begin) && doc.contains(end), "docs/errors.md marks its table")
    val table = doc.substring(doc.indexOf(begin) + begin.length, doc.indexOf(end)).trim
    val tree = new ObjectMapper().readTree(read(registryFile))
    val rows = tree.fieldNames().asScala.toList.map { name =>
      val c = ErrorRegistry.classes(name)
      val example = Option(tree.get(name).get("example")).map(_.asText).getOrElse("")
      s"| `$name` | ${c.sqlState} | ${c.raisedBy.mkString(", ")} | ${tree.get(name).get("meaning").asText} | $example |"
    }
    val expected = ("| error class | SQLSTATE | raised by | meaning | example |" +: "|---|---|---|---|---|" +: rows).mkString("\n")
    assert(table === expected, s"docs/errors.md's table should read:\n$expected")
  }

  test("INPUT_SHAPE_MISMATCH names expected, got and the row") {
    val e = TFSparkErrors.inputShapeMismatch("linear", "features", 2, 3, "row 7 of partition 1")
    assert(
      e.getMessage ===
        "[INPUT_SHAPE_MISMATCH] Input features of model linear expects 2 values in dimension 1 of each row, but row 7 of partition 1 has 3."
    )
    assert(
      e.messageParameters === Map(
        "model" -> "linear",
        "input" -> "features",
        "expected" -> "2",
        "got" -> "3",
        "row" -> "row 7 of partition 1",
        "dim" -> "1"
      )
    )
  }

  test("OUTPUT_NOT_UTF8 names the model, the output, the row and every setting that fixes it") {
    val e = TFSparkErrors.outputNotUtf8("thumbnail", "png", "row 3 of partition 0 ({n: 3})", "byte 0x89 at offset 0 of 75 bytes")
    assert(e.getSqlState === "22021")
    assert(
      e.messageParameters === Map(
        "model" -> "thumbnail",
        "output" -> "png",
        "row" -> "row 3 of partition 0 ({n: 3})",
        "detail" -> "byte 0x89 at offset 0 of 75 bytes"
      )
    )
    Seq("spark.tfpredict.binaryOutputs=png", "--binary-outputs png", "binaryOutputs").foreach(fix => assert(e.getMessage.contains(fix)))
  }

  test("a template with a parameter left out is a programming error") {
    intercept[IllegalArgumentException](TFSparkErrors.message("INVALID_CONFIG", Map("key" -> "k")))
  }

  test("TFSparkException.find digs through wrapping exceptions") {
    val inner = TFSparkErrors.invalidConfig("k", "v", "e")
    assert(TFSparkException.find(new RuntimeException(new IllegalStateException(inner))).contains(inner))
    assert(TFSparkException.find(new RuntimeException("plain")).isEmpty)
  }

  test("messages: one prefix, no doubled full stop, and a long echoed value is cut, keeping its start and end") {
    samples.foreach { e =>
      assert("""[^.]\.\.(?!\.)""".r.findFirstIn(e.getMessage).isEmpty, e.getMessage) // "..." is an ellipsis
      assert(!e.getMessage.drop(1).contains(s"[${e.errorClass}]"), e.getMessage)
    }
    val tf =
      TFSparkErrors.modelExecutionFailed("cifar2", "row {path: \"a.jpg\"}", new RuntimeException("Invalid JPEG data or crop window."))
    assert(tf.getMessage.contains("crop window. Fix or filter"), tf.getMessage)
    val name = "m" * 100000 + "_end"
    val e = TFSparkErrors.invalidArgument("model name", name, "a model name")
    assert(e.getMessage.length < 2 * TFSparkErrors.MaxParameterChars, e.getMessage.length)
    assert(e.getMessage.contains("(100004 characters)") && e.getMessage.contains("mmm_end;"), e.getMessage.takeRight(200))
    assert(e.messageParameters("got").length <= TFSparkErrors.MaxParameterChars)
  }
}
