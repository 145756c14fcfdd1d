package tfspark.errors

/**
 * The JVM's error factory: one method per error class that the JVM raises, each filling every
 * parameter of the class's template. The classes, templates and SQLSTATEs are the error registry's
 * ([[ErrorRegistry]], the one file `tfspark/error-classes.json` that the Python packages read too);
 * nothing here repeats them. Templates name their parameters as `<param>`. See Spark's
 * `error-conditions.json` with `ErrorClassesJsonReader`, and Delta's `DeltaErrors.scala`.
 */
object TFSparkErrors {

  /** Every error class that the JVM raises (the registry's classes raised by `jvm`). */
  def errorClasses: Set[String] = ErrorRegistry.classes.collect { case (name, c) if c.raisedBy.contains("jvm") => name }.toSet

  /** The registry's SQLSTATE of `errorClass`; null for a class the registry does not have, as [[SparkThrowable]] allows. */
  def sqlState(errorClass: String): String =
    ErrorRegistry.classes.get(errorClass).map(_.sqlState).orNull

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
    val condition = ErrorRegistry.classes.getOrElse(errorClass, throw new IllegalArgumentException(s"unknown error class $errorClass"))
    val base = condition.message.getOrElse(throw new IllegalArgumentException(s"$errorClass has no message template"))
    val template = if (failing) base + condition.whenFailing else base
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

  /** The cause and the fix of the known Keras 3 export trap, shared with `python -m python_trainer check` (the registry's). */
  def VariablesNotRestoredCause: String = ErrorRegistry.diagnosis("MODEL_LOAD_FAILED", "variablesNotRestored").cause
  def VariablesNotRestoredFix: String = ErrorRegistry.diagnosis("MODEL_LOAD_FAILED", "variablesNotRestored").fix

  /** The advice for a version published non-atomically, shared with `python -m python_trainer check` (the registry's). */
  def IncompleteVersion: String = {
    val d = ErrorRegistry.diagnosis("MODEL_LOAD_FAILED", "incompleteVersion")
    s"${d.cause}: ${d.fix}"
  }

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
      "jar" -> s"tensorflow-core-native-${tfspark.Versions.tensorflowJava}-${tfspark.Versions.nativeClassifier}.jar"
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

  /**
   * BatchScore was asked for Delta Lake (`what`: the option that asked), and `reason` says what is
   * missing: Delta's classes on the classpath, or the session's Delta catalog.
   */
  def deltaNotAvailable(what: String, reason: String): TFSparkException =
    error("DELTA_NOT_AVAILABLE", "what" -> what, "reason" -> reason, "version" -> tfspark.Versions.delta)()

  def invalidConfig(key: String, got: String, expected: String): TFSparkException =
    error("INVALID_CONFIG", "key" -> key, "got" -> got, "expected" -> expected)()

  def invalidArgument(what: String, got: String, expected: String): TFSparkException =
    error("INVALID_ARGUMENT", "what" -> what, "got" -> got, "expected" -> expected)()

  // issue 17: op libraries, models that can never run in a JVM, and layout diagnosis

  /** What every op-library failure says about which libraries can work at all (docs/op-libraries.md). */
  val OpLibraryAbi: String =
    s"An op library must be built against TensorFlow 2.18's libtensorflow_framework.so.2, the one TF Java ${tfspark.Versions.tensorflowJava} ships: " +
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
    val d = ErrorRegistry.diagnosis("MODEL_LOAD_FAILED", "pythonOnlyOp")
    val where = function.fold("in its graph")(f => s"in function $f")
    val cause = d.cause.replace("<op>", op).replace("<where>", where)
    error("MODEL_LOAD_FAILED", "model" -> model, "path" -> path, "reason" -> s"$cause. ${d.fix.capitalize}")()
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

  // issue 21: the MLflow model registry (tfspark.model.MlflowRegistry)

  def mlflowNotConfigured(reference: String, key: String, problem: String): TFSparkException =
    error("MLFLOW_NOT_CONFIGURED", "reference" -> reference, "key" -> key, "problem" -> problem)()

  def mlflowUnreachable(server: String, source: String, request: String, cause: Throwable): TFSparkException =
    error(
      "MLFLOW_UNREACHABLE",
      "server" -> server,
      "source" -> source,
      "request" -> request,
      "reason" -> Option(cause.getMessage).filter(_.nonEmpty).fold(cause.getClass.getName)(m => s"${cause.getClass.getSimpleName}: $m")
    )(cause)

  def mlflowModelNotFound(model: String, server: String, available: Iterable[String]): TFSparkException =
    error("MLFLOW_MODEL_NOT_FOUND", "model" -> model, "server" -> server, "available" -> listed(available))()

  /** @param wanted what is missing, as the template reads it: "no version 7", "no alias champion", "no version" */
  def mlflowVersionNotFound(
      model: String,
      wanted: String,
      server: String,
      versions: Iterable[Long],
      aliases: Iterable[String]
  ): TFSparkException =
    error(
      "MLFLOW_VERSION_NOT_FOUND",
      "model" -> model,
      "wanted" -> wanted,
      "server" -> server,
      "versions" -> listed(versions),
      "aliases" -> listed(aliases)
    )()

  def mlflowRequestFailed(server: String, request: String, status: Int, reason: String): TFSparkException =
    error("MLFLOW_REQUEST_FAILED", "server" -> server, "request" -> request, "status" -> status, "reason" -> reason)()

  def mlflowNotSavedModel(model: String, version: Long, artifacts: String, found: String, fix: String): TFSparkException =
    error("MLFLOW_NOT_SAVED_MODEL", "model" -> model, "version" -> version, "artifacts" -> artifacts, "found" -> found, "fix" -> fix)()

  // issue 22: opt-in bfloat16

  def bfloat16NotSupported(model: String, host: String, reason: String): TFSparkException =
    error("BFLOAT16_NOT_SUPPORTED", "model" -> model, "host" -> host, "reason" -> reason)()

  def bfloat16DeviationExceeded(
      model: String,
      version: Long,
      limit: Double,
      outputs: String,
      summary: String,
      source: String
  ): TFSparkException =
    error(
      "BFLOAT16_DEVIATION_EXCEEDED",
      "model" -> model,
      "version" -> version,
      "limit" -> limit,
      "outputs" -> outputs,
      "summary" -> summary,
      "source" -> source
    )()
}
