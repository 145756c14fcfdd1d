package tfspark.errors

import org.scalatest.funsuite.AnyFunSuite

/** Every error class renders its template with all of its parameters, under a stable name. */
class ErrorCatalogSuite extends AnyFunSuite {

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
    )
  )

  test("every catalog class has a factory, and every factory fills its template") {
    assert(samples.map(_.errorClass).toSet === TFSparkErrors.errorClasses)
    samples.foreach { e =>
      assert(e.getMessage.startsWith(s"[${e.errorClass}] "))
      assert(
        !"<(model|input|expected|got|row|path|key|dim|field|matches|rows|reason|jar)>".r.findFirstIn(e.getMessage).isDefined,
        e.getMessage
      )
      assert(e.getCondition === e.errorClass)
      assert(e.getSqlState != null && e.getSqlState.length == 5)
      e.messageParameters.values.foreach(v => assert(e.getMessage.contains(v), s"${e.errorClass} hides $v"))
    }
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
