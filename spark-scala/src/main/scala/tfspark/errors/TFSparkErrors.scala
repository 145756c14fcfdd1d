package tfspark.errors

/**
 * The error catalog: every user-facing error class, its message template and SQLSTATE, and one
 * factory method per class. Templates name their parameters as `<param>`; each factory fills all
 * of them. See Spark's `error-conditions.json` and Delta's `DeltaErrors.scala`.
 */
object TFSparkErrors {

  /**
   * `whenFailing`: advice that only a failing query needs (how to isolate such rows instead); a
   * row's error under `onError=null` ([[rowErrorMessage]]) leaves it out, since it already is.
   */
  private final case class Condition(template: String, sqlState: String, whenFailing: String = "")

  private val conditions: Map[String, Condition] = Map(
    "MODEL_NOT_FOUND" -> Condition(
      "Model <model> was not found in repository <repository>: <path> does not exist. Available models: <available>.",
      "42704"
    ),
    "MODEL_VERSION_NOT_FOUND" -> Condition("Model <model> has no version <version> in <path>. Available versions: <available>.", "42704"),
    "MODEL_LOAD_FAILED" -> Condition("Model <model> at <path> could not be loaded as a SavedModel with tag 'serve': <reason>.", "58030"),
    "NATIVE_LIBRARY_MISSING" -> Condition(
      "TensorFlow's native library could not be loaded (<reason>). Put <jar> on the driver's and executors' classpath " +
        "(spark-submit --jars) and make the JavaCPP cache folder writable (spark.tfpredict.nativeCacheDir).",
      "58030"
    ),
    "SIGNATURE_NOT_FOUND" -> Condition("Model <model> has no signature <signature>. Available signatures: <available>.", "42704"),
    "UNSUPPORTED_SIGNATURE" -> Condition(
      "Signature <signature> of model <model> is not supported: <reason>. Expected <expected>.",
      "0A000"
    ),
    "INPUT_TYPE_MISMATCH" -> Condition("Input <input> of model <model> expects <expected>, but the argument is <got>.", "42K09"),
    "INPUT_SHAPE_MISMATCH" -> Condition(
      "Input <input> of model <model> expects <expected> values in dimension <dim> of each row, but <row> has <got>.",
      "22000"
    ),
    "NULL_INPUT" -> Condition(
      "Input <input> of model <model> is null at <row>; expected <expected>. Filter or fill nulls upstream, or set " +
        "spark.tfpredict.nullPolicy=null (BatchScore: --null-policy null) to return null for such rows, or " +
        "spark.tfpredict.nullPolicy=fill (--null-policy fill) to feed NaN or \"\" for float and string inputs.",
      "22004"
    ),
    "MISSING_INPUT" -> Condition(
      "Signature <signature> of model <model> needs input <input>, but no field of the argument matches it. Fields: <available>.",
      "42703"
    ),
    "AMBIGUOUS_INPUT" -> Condition(
      "Input <input> of model <model> matches several fields of the argument: <matches>. Rename or drop all but one.",
      "42702"
    ),
    "UNEXPECTED_INPUT" -> Condition(
      "Field <field> feeds no input of signature <signature> of model <model> (inputs: <available>), and " +
        "spark.tfpredict.strictInputs is on.",
      "42703"
    ),
    "MODEL_EXECUTION_FAILED" -> Condition(
      "Model <model> failed on <row>: <reason>. Fix or filter such rows.",
      "22000",
      whenFailing = " Or set spark.tfpredict.onError=null (BatchScore: --on-error null) to get a null result and the error " +
        "for them instead of failing."
    ),
    "OUTPUT_NOT_UTF8" -> Condition(
      "Output <output> of model <model> is not UTF-8 text at <row> (<detail>): it holds bytes, which a string column " +
        "would corrupt. Declare it binary: spark.tfpredict.binaryOutputs=<output> (BatchScore: --binary-outputs <output>; " +
        "TFModelTransformer and the DataFrame API: binaryOutputs), or filter such rows.",
      "22021"
    ),
    "DEFAULT_MODEL_NOT_SET" -> Condition(
      "tfpredict(<args>) names no model and <key> is not set. Set <key>, or call tfpredict('<example>', ...).",
      "42601"
    ),
    "INPUT_EMPTY" -> Condition(
      "Input <path> has <what>. <hint> Pass --allow-empty to write an empty output and succeed instead.",
      "22023"
    ),
    "INVALID_CONFIG" -> Condition("Configuration <key> is <got>; expected <expected>.", "42616"),
    "INVALID_ARGUMENT" -> Condition("<what> is <got>; expected <expected>.", "22023"),
    // issue 17: op libraries
    "OP_LIBRARY_LOAD_FAILED" -> Condition(
      "Op library <library> (spark.tfpredict.opLibraries) could not be loaded <where>: <reason>. <fix>",
      "58030"
    ),
    // issue 17: dtypes
    "INPUT_VALUE_OUT_OF_RANGE" -> Condition(
      "Input <input> of model <model> is <dtype>, which holds <range>, but <row> has <value>. Clip or filter such values upstream.",
      "22003",
      whenFailing = " Or set spark.tfpredict.onError=null (BatchScore: --on-error null) to get a null result and the error " +
        "for such rows instead of failing."
    )
  )

  /** Every error class in the catalog. */
  def errorClasses: Set[String] = conditions.keySet

  private[errors] def sqlState(errorClass: String): String =
    conditions.get(errorClass).map(_.sqlState).orNull

  /**
   * Renders the template of `errorClass` with `params`; every `<name>` must be given. A value that
   * ends a sentence of its own (TF's reasons do) gives one full stop where the template has one.
   */
  def message(errorClass: String, params: Map[String, String]): String = render(errorClass, params, failing = true)

  /**
   * The message of `e` as a row's error under `onError=null` (the `error.message` field): without
   * the advice to set `onError=null`, which is set.
   */
  def rowErrorMessage(e: TFSparkException): String = render(e.errorClass, e.messageParameters, failing = false)

  private def render(errorClass: String, params: Map[String, String], failing: Boolean): String = {
    val condition = conditions.getOrElse(errorClass, throw new IllegalArgumentException(s"unknown error class $errorClass"))
    val template = if (failing) condition.template + condition.whenFailing else condition.template
    val missing = "<([a-zA-Z]+)>".r.findAllMatchIn(template).map(_.group(1)).filterNot(params.contains).toList
    require(missing.isEmpty, s"$errorClass: parameters ${missing.mkString(", ")} are not given")
    s"[$errorClass] " + params.foldLeft(template) { case (t, (k, v)) =>
      t.replace(s"<$k>.", v.stripSuffix(".") + ".").replace(s"<$k>", v)
    }
  }

  /** The most characters of one parameter a message echoes (a 100 k-character model name is cut). */
  val MaxParameterChars = 1000

  /** `value` as a message echoes it: at most [[MaxParameterChars]], keeping its start and its end. */
  private[errors] def echoed(value: String): String =
    if (value.length <= MaxParameterChars) value
    else {
      val cut = s" … (${value.length} characters) … "
      val keep = MaxParameterChars - cut.length
      value.take(keep * 2 / 3) + cut + value.takeRight(keep - keep * 2 / 3)
    }

  private def error(errorClass: String, params: (String, Any)*)(cause: Throwable = null): TFSparkException = {
    val p = params.map { case (k, v) => k -> echoed(String.valueOf(v)) }.toMap
    new TFSparkException(errorClass, p, message(errorClass, p), cause)
  }

  private def listed(items: Iterable[Any]): String = if (items.isEmpty) "none" else items.mkString(", ")

  def modelNotFound(model: String, repository: String, path: String, available: Iterable[String]): TFSparkException =
    error("MODEL_NOT_FOUND", "model" -> model, "repository" -> repository, "path" -> path, "available" -> listed(available))()

  def modelVersionNotFound(model: String, version: Long, path: String, available: Iterable[Long]): TFSparkException =
    error("MODEL_VERSION_NOT_FOUND", "model" -> model, "version" -> version, "path" -> path, "available" -> listed(available))()

  def modelLoadFailed(model: String, path: String, cause: Throwable): TFSparkException = {
    val reason = Option(cause.getMessage).map(_.linesIterator.take(2).mkString(" ")).getOrElse(cause.getClass.getName)
    error("MODEL_LOAD_FAILED", "model" -> model, "path" -> path, "reason" -> reason)(cause)
  }

  /** The cause and the fix of the known Keras 3 export trap, shared with `python -m python_trainer check`. */
  val VariablesNotRestoredCause: String =
    "the SavedModel's variables are not restored by TensorFlow's C++ loader (TF Java, TF Serving): a Keras 3 model " +
      "saved with tf.saved_model.save, or a tf.Module that wraps a Keras 3 model without tracking its variables"
  val VariablesNotRestoredFix: String =
    "export with model.export(DIR) or keras.export.ExportArchive, or keep the variables on the module " +
      "(module.kept = [v.value for v in keras_model.variables]) before tf.saved_model.save, then run " +
      "python -m python_trainer check DIR"

  /** The load-time warm-up found that TF's C++ loader did not restore the model's variables. */
  def modelVariablesNotRestored(model: String, path: String, cause: Throwable): TFSparkException = {
    val tf = Option(cause.getMessage).map(_.linesIterator.next()).getOrElse(cause.getClass.getName)
    error(
      "MODEL_LOAD_FAILED",
      "model" -> model,
      "path" -> path,
      "reason" -> s"its warm-up run failed with \"$tf\". Cause: $VariablesNotRestoredCause. Fix: $VariablesNotRestoredFix"
    )(cause)
  }

  def nativeLibraryMissing(cause: Throwable): TFSparkException =
    error(
      "NATIVE_LIBRARY_MISSING",
      "reason" -> Option(cause.getMessage).map(_.linesIterator.next()).getOrElse(cause.getClass.getName),
      "jar" -> "tensorflow-core-native-1.1.0-linux-x86_64.jar"
    )(cause)

  def signatureNotFound(model: String, signature: String, available: Iterable[String]): TFSparkException =
    error("SIGNATURE_NOT_FOUND", "model" -> model, "signature" -> signature, "available" -> listed(available))()

  def unsupportedSignature(model: String, signature: String, reason: String, expected: String): TFSparkException =
    error("UNSUPPORTED_SIGNATURE", "model" -> model, "signature" -> signature, "reason" -> reason, "expected" -> expected)()

  def inputTypeMismatch(model: String, input: String, expected: String, got: String): TFSparkException =
    error("INPUT_TYPE_MISMATCH", "model" -> model, "input" -> input, "expected" -> expected, "got" -> got)()

  def inputShapeMismatch(model: String, input: String, expected: Long, got: Long, row: String, dim: Int = 1): TFSparkException =
    error("INPUT_SHAPE_MISMATCH", "model" -> model, "input" -> input, "expected" -> expected, "got" -> got, "row" -> row, "dim" -> dim)()

  def nullInput(model: String, input: String, expected: String, row: String): TFSparkException =
    error("NULL_INPUT", "model" -> model, "input" -> input, "expected" -> expected, "row" -> row)()

  def missingInput(model: String, signature: String, input: String, available: Iterable[String]): TFSparkException =
    error("MISSING_INPUT", "model" -> model, "signature" -> signature, "input" -> input, "available" -> listed(available))()

  def ambiguousInput(model: String, input: String, matches: Iterable[String]): TFSparkException =
    error("AMBIGUOUS_INPUT", "model" -> model, "input" -> input, "matches" -> listed(matches))()

  def unexpectedInput(model: String, signature: String, field: String, available: Iterable[String]): TFSparkException =
    error("UNEXPECTED_INPUT", "model" -> model, "signature" -> signature, "field" -> field, "available" -> listed(available))()

  /**
   * TF failed at run time on `row` (undecodable image bytes, an op's precondition), or on a batch
   * when `row` says so: `cause` is TF's error.
   */
  def modelExecutionFailed(model: String, row: String, cause: Throwable): TFSparkException = {
    val reason = Option(cause.getMessage).map(_.linesIterator.next()).getOrElse(cause.getClass.getName)
    error("MODEL_EXECUTION_FAILED", "model" -> model, "row" -> row, "reason" -> reason)(cause)
  }

  /**
   * A string output's value at `row` is not valid UTF-8 (`detail`: where and which byte), and the
   * output is not declared binary.
   */
  def outputNotUtf8(model: String, output: String, row: String, detail: String): TFSparkException =
    error("OUTPUT_NOT_UTF8", "model" -> model, "output" -> output, "row" -> row, "detail" -> detail)()

  def defaultModelNotSet(key: String, args: String): TFSparkException =
    error("DEFAULT_MODEL_NOT_SET", "key" -> key, "args" -> args, "example" -> "linear")()

  /** BatchScore's input resolved to no files or no rows (`what`); `hint` says what to check. */
  def inputEmpty(path: String, what: String, hint: String): TFSparkException =
    error("INPUT_EMPTY", "path" -> path, "what" -> what, "hint" -> hint)()

  def invalidConfig(key: String, got: String, expected: String): TFSparkException =
    error("INVALID_CONFIG", "key" -> key, "got" -> got, "expected" -> expected)()

  def invalidArgument(what: String, got: String, expected: String): TFSparkException =
    error("INVALID_ARGUMENT", "what" -> what, "got" -> got, "expected" -> expected)()

  // issue 17: op libraries, models that can never run in a JVM, and layout diagnosis

  /** What every op-library failure says about which libraries can work at all (docs/op-libraries.md). */
  val OpLibraryAbi: String =
    "An op library must be built against TensorFlow 2.18's libtensorflow_framework.so.2, the one TF Java 1.1.0 ships: " +
      "the op libraries in the PyPI wheels tensorflow-text 2.18.x and tensorflow-decision-forests 1.11.0 are; one built for " +
      "another TensorFlow version fails with undefined symbols (see docs/op-libraries.md)"

  /**
   * The op library `library` (as named in spark.tfpredict.opLibraries) could not be loaded in this
   * JVM (`where`: on the driver, on executor N): it is missing or unreadable, TF's `loadLibrary`
   * failed (`cause` holds TF's text), or its content changed after this JVM loaded it.
   */
  def opLibraryLoadFailed(library: String, where: String, reason: String, fix: String, cause: Throwable = null): TFSparkException =
    error("OP_LIBRARY_LOAD_FAILED", "library" -> library, "where" -> where, "reason" -> reason, "fix" -> fix)(cause)

  /**
   * The model uses op `op`, which no library of this JVM registers. `provider` names the package
   * and file known to provide it, when known ([[tfspark.model.KnownOpLibraries]]).
   */
  def modelNeedsOpLibrary(
      model: String,
      path: String,
      op: String,
      provider: Option[String],
      loaded: Seq[String],
      cause: Throwable
  ): TFSparkException = {
    val from = provider.fold(
      "tfspark knows no package that provides it: find the op library (.so) of the package the model was exported with"
    )(p => s"it is provided by $p")
    val already = if (loaded.isEmpty) "none is loaded in this JVM" else s"loaded in this JVM: ${loaded.mkString(", ")}"
    val reason =
      s"it uses op $op, which is not registered in this JVM's TensorFlow (TF: Op type not registered '$op'); $from. " +
        s"Name that library in spark.tfpredict.opLibraries at start (spark-submit --conf spark.tfpredict.opLibraries=/path/to/lib.so; " +
        s"$already). ${OpLibraryAbi}"
    error("MODEL_LOAD_FAILED", "model" -> model, "path" -> path, "reason" -> reason)(cause)
  }

  /**
   * The model's graph holds `op` (`PyFunc`, `EagerPyFunc`, `PyFuncStateless`), in `function` when
   * it sits in the function library: it calls back into a Python interpreter, which a JVM does not have.
   */
  def modelNeedsPython(model: String, path: String, op: String, function: Option[String]): TFSparkException = {
    val where = function.fold("in its graph")(f => s"in function $f")
    val reason =
      s"it contains op $op ($where), which calls back into the Python interpreter that exported it (tf.py_function or " +
        "tf.numpy_function); a JVM has no Python interpreter, so every row would fail. Re-export the model without " +
        "tf.py_function / tf.numpy_function, written with TensorFlow ops only"
    error("MODEL_LOAD_FAILED", "model" -> model, "path" -> path, "reason" -> reason)()
  }

  /** The repository folder of `model` is not laid out as `<repo>/<name>/<version>/saved_model.pb`: `problem`, and what to do. */
  def modelLayoutInvalid(model: String, path: String, problem: String): TFSparkException =
    error("MODEL_LOAD_FAILED", "model" -> model, "path" -> path, "reason" -> problem)()

  // issue 17: dtypes

  /**
   * A value at `row` that the input's `dtype` cannot hold (an integer outside its range, a finite
   * number that rounds to infinity in float16/bfloat16): `range` says what it holds.
   */
  def inputValueOutOfRange(model: String, input: String, dtype: String, range: String, value: String, row: String): TFSparkException =
    error(
      "INPUT_VALUE_OUT_OF_RANGE",
      "model" -> model,
      "input" -> input,
      "dtype" -> dtype,
      "range" -> range,
      "value" -> value,
      "row" -> row
    )()
}
