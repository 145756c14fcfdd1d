package tfspark.jobs

import java.lang.management.ManagementFactory

import org.apache.hadoop.fs.Path
import org.apache.spark.sql.{AnalysisException, DataFrame, SparkSession}
import org.apache.spark.sql.functions.{array, col, count, lit}
import org.apache.spark.sql.internal.SQLConf
import org.apache.spark.sql.types.{NumericType, StructType}

import tfspark.TFInference
import tfspark.conf.{NullPolicy, OnError, TFSparkConf}
import tfspark.errors.{TFSparkErrors, TFSparkException}
import tfspark.model.{ModelReference, ModelRepository, ShippedModel, SignatureSpec}
import tfspark.sql.DataFramePredictions
import tfspark.tensor.BatchLimits

/**
 * The `spark-submit` batch-scoring job: reads a table of features, adds the model's prediction
 * column through the batched path ([[TFInference.predictDataFrame]]), writes the result, and
 * prints one summary line.
 *
 * Output is written to a sibling directory and renamed into place only when complete, the
 * previous output aside first ([[OutputCommit]]), so that a failed or killed run never leaves
 * output that looks finished: `--output` is the previous output or the new one, whole. Exit status: 0 on success, 1 when the job
 * fails (one line on stderr), 2 for a usage error.
 */
object BatchScore {

  /** Every option, declared once: the parser and `--help` both come from here. */
  val Declared: Seq[JobOption] = Seq(
    JobOption.value("model", "NAME[@VERSION][:SIGNATURE]", "model in the repository, latest version unless @VERSION (required)"),
    JobOption
      .value("repository", "DIR", "model repository root, <DIR>/<name>/<version>/ (default: models,\nor spark.tfpredict.repository)"),
    JobOption.value("input", "PATH", "input data (required)"),
    JobOption.value(
      "input-format",
      "FMT",
      "any Spark source: csv (header, inferSchema), json, parquet, ...\n(default: from the extension of the path, or of the files in\nthe folder it names, else csv)"
    ),
    JobOption.value(
      "input-map",
      "IN=COL,...",
      "feed signature input IN from column COL (default: the columns\nnamed like the inputs, case-insensitive)"
    ),
    JobOption.value(
      "features",
      "COLS",
      "assemble these numeric columns, in order, into the array of a\nsingle-input signature (default for such a signature when no\n" +
        "column is named like its input: every numeric column)"
    ),
    JobOption.value("drop", "COLS", "leave these input columns out of the output (e.g. content)"),
    JobOption.value(
      "null-policy",
      "P",
      "error (default, or spark.tfpredict.nullPolicy), null (null result)\nor fill (NaN / \"\"; also for null array elements)"
    ),
    JobOption.value(
      "on-error",
      "P",
      "fail (default, or spark.tfpredict.onError): a row the model cannot\nscore fails the job; null: it gets a null prediction and its error\n" +
        "(class, message) in <prediction-col>_error, and the job goes on"
    ),
    JobOption.value("id-col", "COLS", "columns that name a row in error messages (default: path if\npresent, else the first 3 columns)"),
    JobOption.value("output", "PATH", "output directory (required); must not exist unless --overwrite"),
    JobOption.value("output-format", "FMT", "parquet, csv or json (default: parquet)"),
    JobOption.value("prediction-col", "NAME", "name of the added column (default: prediction)"),
    JobOption.value("batch-size", "N", "rows per TF call (default: spark.tfpredict.batchSize, else 1024)"),
    JobOption.value(
      "binary-outputs",
      "KEYS",
      "string outputs written as binary, their bytes as they are (keys,\ncomma-separated, or *; default: spark.tfpredict.binaryOutputs);\nother string outputs must be UTF-8 text"
    ),
    JobOption.flag("overwrite", "replace an existing output directory"),
    JobOption.flag("recursive", "read input files in subfolders too (Spark's recursiveFileLookup)"),
    JobOption
      .flag("allow-empty", "an input with no files or no rows writes an empty output and\nexits 0 (default: it is an error, exit 1)"),
    JobOption.flag("help", "print this text")
  )

  val Usage: String = JobArguments.usage(
    """Usage: spark-submit --class tfspark.jobs.BatchScore tfspark-assembly.jar [options]
      |
      |Scores a table with a TensorFlow SavedModel from the model repository and writes it with a
      |`prediction` column added. The scoring is a batched Spark plan (BatchEvalTF).""".stripMargin,
    Declared
  )

  /** The job's options, validated before Spark starts. */
  final case class Options(
      model: String,
      repository: Option[String],
      input: String,
      inputFormat: String,
      features: Option[Seq[String]],
      inputMap: Map[String, String],
      drop: Seq[String],
      nullPolicy: NullPolicy,
      onError: OnError,
      idCols: Seq[String],
      output: String,
      outputFormat: String,
      predictionCol: String,
      batchSize: Int,
      overwrite: Boolean,
      recursive: Boolean = false,
      allowEmpty: Boolean = false,
      binaryOutputs: Seq[String] = Nil,
      given: Set[String] = Set.empty
  ) {

    /**
     * These options with what the command line left unset taken from the session's
     * `spark.tfpredict.*` settings (a `--conf` given to spark-submit), so that no setting is
     * ignored: `--batch-size` from `batchSize`, `--null-policy` from `nullPolicy`, `--on-error`
     * from `onError`, `--binary-outputs` from `binaryOutputs` (the entries for `model`).
     * `rowLabel` needs nothing here: without `--id-col` the scoring reads it.
     *
     * @throws tfspark.errors.TFSparkException INVALID_CONFIG for a malformed setting
     */
    def withSessionDefaults(conf: SQLConf): Options = {
      def unless[T](option: String, explicit: T)(setting: => T): T = if (given(option)) explicit else setting
      copy(
        batchSize = unless("batch-size", batchSize)(TFSparkConf.batchSize(conf)),
        nullPolicy = unless("null-policy", nullPolicy)(TFSparkConf.nullPolicy(conf)),
        onError = unless("on-error", onError)(TFSparkConf.onError(conf)),
        binaryOutputs = unless("binary-outputs", binaryOutputs)(TFSparkConf.binaryOutputsOf(ModelReference.parse(model).name, conf))
      )
    }

    /** The column of each row's error under `--on-error null`. */
    def errorCol: String = s"${predictionCol}_error"
  }

  object Options {

    /** @throws tfspark.errors.TFSparkException INVALID_ARGUMENT */
    def parse(args: Seq[String]): Options = from(JobArguments.parse(args, Declared))

    /** @throws tfspark.errors.TFSparkException INVALID_ARGUMENT */
    def from(args: JobArguments): Options = {
      val input = args.required("input")
      Options(
        model = args.required("model"),
        repository = args.get("repository"),
        input = input,
        inputFormat = args.getOrElse("input-format", inferFormat(input)),
        features = args.get("features").map(list),
        inputMap = args
          .get("input-map")
          .map(list)
          .getOrElse(Nil)
          .map { pair =>
            pair.split("=", 2) match {
              case Array(in, col) if in.nonEmpty && col.nonEmpty => in.trim -> col.trim
              case _ => throw TFSparkErrors.invalidArgument("--input-map entry", s"'$pair'", "INPUT=COLUMN")
            }
          }
          .toMap,
        drop = args.get("drop").map(list).getOrElse(Nil),
        nullPolicy = args
          .get("null-policy")
          .map { p =>
            NullPolicy.parse(p).getOrElse(throw TFSparkErrors.invalidArgument("--null-policy", p, "error, null or fill"))
          }
          .getOrElse(NullPolicy.Error),
        onError = args
          .get("on-error")
          .map(p => OnError.parse(p).getOrElse(throw TFSparkErrors.invalidArgument("--on-error", p, "fail or null")))
          .getOrElse(OnError.Fail),
        idCols = args.get("id-col").map(list).getOrElse(Nil),
        output = nonEmpty(args, "output", args.required("output")),
        outputFormat = args.getOrElse("output-format", "parquet"),
        predictionCol = nonEmpty(args, "prediction-col", args.getOrElse("prediction-col", "prediction")),
        batchSize = {
          val n = args.positiveInt("batch-size", 1024)
          BatchLimits.check(n, None, "--batch-size", isConfig = false)
          n
        },
        overwrite = args.flag("overwrite"),
        recursive = args.flag("recursive"),
        allowEmpty = args.flag("allow-empty"),
        binaryOutputs = args.get("binary-outputs").map(list).getOrElse(Nil),
        given = SessionBackedOptions.filter(args.get(_).isDefined)
      )
    }

    /** The options whose default is a session setting ([[Options.withSessionDefaults]]). */
    private val SessionBackedOptions = Set("batch-size", "null-policy", "on-error", "binary-outputs")

    private def nonEmpty(args: JobArguments, key: String, value: String): String =
      if (value.trim.nonEmpty) value else throw TFSparkErrors.invalidArgument(s"--$key", "''", "a non-empty value")

    private def list(text: String): Seq[String] = text.split(",").map(_.trim).filter(_.nonEmpty).toSeq

    private val Extensions = Seq("parquet", "json", "csv", "orc")

    /** From the path's extension, or, for a folder (a Spark output), from its data files' (`part-0.snappy.parquet`). */
    private def inferFormat(path: String): String = {
      def byExtension(name: String) = Extensions.find(ext => name.toLowerCase.endsWith("." + ext))
      byExtension(path).orElse(folderFormat(path)).getOrElse("csv")
    }

    private def folderFormat(path: String): Option[String] =
      try {
        val dir = new Path(path)
        val fs = dir.getFileSystem(new org.apache.hadoop.conf.Configuration())
        if (!fs.getFileStatus(dir).isDirectory) None
        else {
          val names = fs.listStatus(dir).iterator.map(_.getPath.getName).filterNot(n => n.startsWith("_") || n.startsWith("."))
          names.flatMap(n => Extensions.find(ext => n.toLowerCase.endsWith("." + ext))).nextOption()
        }
      } catch { case _: java.io.IOException => None } // a missing path is Spark's to report
  }

  /**
   * The outcome of a successful run; `failedRows` had an error instead of a prediction (`--on-error null`).
   * `seconds` is the wall-clock time of scoring and writing (one Spark job: rows are written as
   * they are scored), the time the rate is computed over; `phases` says where the rest went.
   */
  final case class Summary(
      rows: Long,
      seconds: Double,
      model: String,
      output: String,
      format: String,
      failedRows: Long = 0,
      phases: PhaseTimes = new PhaseTimes
  ) {
    def line: String = {
      val rate = if (seconds > 0) rows / seconds else 0.0
      val failed = if (failedRows > 0) s" ($failedRows ${if (failedRows == 1) "row" else "rows"} failed: see the error column)" else ""
      f"BatchScore: scored $rows%d rows$failed in $seconds%.2f s ($rate%.0f rows/s) with $model -> $output ($format)"
    }

    /** The phases line, "BatchScore: start-up 3.10 s, model load and warm-up 0.42 s, ...; 7.73 s in all". */
    def phasesLine: String = s"BatchScore: ${phases.line}"
  }

  /** Phase names, as the summary prints them. */
  object Phase {
    val StartUp = "start-up"
    val Recovery = "recovering an interrupted run"
    val Model = "model load and warm-up"
    val Input = "reading the input"
    val Scoring = "scoring and writing"
    val Check = "counting the output"
    val Commit = "committing the output"
  }

  def main(args: Array[String]): Unit = {
    val code = exitCode(args)
    if (code != 0) sys.exit(code)
  }

  /** Runs the job as `main` does and returns its exit status instead of exiting. */
  def exitCode(args: Array[String]): Int = {
    val options =
      try {
        val parsed = JobArguments.parse(args.toSeq, Declared)
        if (parsed.flag("help")) { println(Usage); return 0 }
        Options.from(parsed)
      } catch {
        case e: TFSparkException =>
          System.err.println(s"BatchScore: ${e.getMessage}\nRun with --help for usage.")
          return 2
      }
    try {
      // The Spark progress bar, unless --conf spark.ui.showConsoleProgress says otherwise.
      val progress = sys.props.getOrElse("spark.ui.showConsoleProgress", "true")
      ConsoleLogging.quiet() // INFO logs, start-up included, would bury the progress bar and the summary
      val spark = SparkSession.builder().appName("tfspark BatchScore").config("spark.ui.showConsoleProgress", progress).getOrCreate()
      val phases = new PhaseTimes
      // From the JVM's start: spark-submit's own start-up, the Spark session and its executors.
      phases.record(Phase.StartUp, (System.currentTimeMillis() - ManagementFactory.getRuntimeMXBean.getStartTime) / 1000.0)
      val summary = run(spark, options, phases, _ => ())
      println(summary.line)
      println(summary.phasesLine)
      0
    } catch {
      case e: Throwable =>
        val cause = TFSparkException.find(e).getOrElse(e)
        System.err.println(s"BatchScore failed: ${Option(cause.getMessage).getOrElse(cause.toString).linesIterator.next()}")
        cause match {
          case t: TFSparkException if UsageErrors(t.errorClass) => 2 // found once the input's columns are known
          case _ => 1
        }
    }
  }

  /** Error classes that mean the command line asked for something impossible: exit 2, as a usage error. */
  private val UsageErrors = Set("INVALID_ARGUMENT", "INVALID_CONFIG")

  /**
   * Scores `options.input` into `options.output` in `spark`; returns the summary.
   *
   * Before anything else it refuses an output that is, contains or lies inside the input
   * ([[InputOutputPaths]]); then it recovers what an interrupted run left beside the output, one
   * line on stderr per action ([[OutputCommit.recover]]).
   *
   * @throws tfspark.errors.TFSparkException for bad arguments, models or inputs (at analysis,
   *   before anything is written) and for bad rows (as the cause of the job failure)
   */
  def run(spark: SparkSession, options: Options): Summary = run(spark, options, new PhaseTimes, _ => ())

  /**
   * [[run]], timing its phases into `phases`, with `hook` called before each step of the output's
   * commit (tests throw from it).
   */
  private[jobs] def run(spark: SparkSession, given: Options, phases: PhaseTimes, hook: OutputCommit.Step => Unit): Summary = {
    val options = given.withSessionDefaults(spark.asInstanceOf[org.apache.spark.sql.classic.SparkSession].sessionState.conf)
    val conf = spark.sparkContext.hadoopConfiguration
    InputOutputPaths.checkApart(options.input, options.output, conf)
    val output = new Path(options.output)
    val commit = new OutputCommit(output.getFileSystem(conf), output, line => System.err.println(s"BatchScore: $line"), hook)
    phases.time(Phase.Recovery)(commit.recover())
    if (commit.fs.exists(commit.target) && !options.overwrite) {
      throw TFSparkErrors.invalidArgument("--output", s"'${options.output}' (it exists)", "a new path, or --overwrite")
    }
    val (scored, model) = plan(spark, options, phases)
    val (rows, failed) = writeAtomically(scored, options, commit, phases)
    Summary(rows, phases.seconds(Phase.Scoring), model, options.output, options.outputFormat, failed, phases)
  }

  /**
   * The scored table as a Spark plan (nothing runs yet) and the model's `name/version`: the
   * input, the `tfpredict` column (batched: `explain()` shows `BatchEvalTF`), and the columns kept.
   *
   * @throws tfspark.errors.TFSparkException for bad arguments, models or inputs
   */
  def plan(spark: SparkSession, options: Options): (DataFrame, String) = plan(spark, options, new PhaseTimes)

  private def plan(spark: SparkSession, options: Options, phases: PhaseTimes): (DataFrame, String) = {
    val repository = ModelRepository(options.repository.getOrElse(spark.conf.get(TFSparkConf.Repository, TFSparkConf.DefaultRepository)))
    val reference = ModelReference.parse(options.model)
    val model = phases.time(Phase.Model)(TFInference.ship(spark.sparkContext, repository.resolve(reference.name, reference.version)))
    val scored = phases.time(Phase.Input)(read(spark, options)) match {
      case None => spark.emptyDataFrame // no files, --allow-empty
      case Some(input) =>
        try score(input, model, reference, options)
        catch { case e: TFSparkException if typedByRows(e) && input.isEmpty => noRows(input, options, e) }
    }
    (scored, s"${reference.name}/${model.version}")
  }

  /** The scoring plan over `input` (not empty). */
  private def score(input: DataFrame, model: ShippedModel, reference: ModelReference, options: Options): DataFrame = {
    val (name, signature) = (reference.name, reference.signature)
    val spec = SignatureSpec.find(name, model.signatures, signature)
    val single = spec.inputs.map(_.key) match { case Seq(k) => Some(k); case _ => None }
    // A single-input signature whose input no column is named after takes an array of the
    // feature columns (--features, or every numeric column).
    val assembled = (options.features, single) match {
      case (Some(cols), None) =>
        throw TFSparkErrors.invalidArgument(
          "--features",
          cols.mkString(","),
          s"a single-input signature; $name:$signature has ${spec.inputs.size} inputs, use --input-map"
        )
      case (Some(cols), Some(key)) => Some(key -> cols)
      case (None, Some(key)) if options.inputMap.isEmpty && !input.columns.exists(_.equalsIgnoreCase(key)) =>
        Some(key -> input.schema.fields.filter(_.dataType.isInstanceOf[NumericType]).map(_.name).toSeq)
      case _ => None
    }
    if (assembled.exists(_._2.isEmpty)) { // no numeric column: a file without rows cannot tell its columns' types
      val none = TFSparkErrors.invalidArgument("feature columns", "none", "--features or numeric input columns")
      if (input.isEmpty) return noRows(input, options, none) else throw none
    }
    val df = assembled.fold(input) { case (key, cols) =>
      cols.filterNot(input.columns.contains).foreach { c =>
        throw TFSparkErrors.invalidArgument("feature column", s"'$c'", s"one of the input's columns: ${input.columns.mkString(", ")}")
      }
      input.withColumn(key, array(cols.map(col): _*))
    }
    checkOutputColumns(input, options)
    val added = addedColumns(options).map(_._2)
    // Column, type and width errors surface here, before anything is written.
    val predicted = TFInference.predictDataFrame(
      df,
      model,
      options.predictionCol,
      options.inputMap,
      options.batchSize,
      signature,
      options.nullPolicy,
      onError = options.onError,
      errorCol = Some(options.errorCol),
      rowLabel = options.idCols,
      binaryOutputs = options.binaryOutputs,
      // checkOutputColumns allowed a clash only with a column that --drop leaves out: that one is replaced
      replaceColumns = added.exists(a => options.drop.exists(_.equalsIgnoreCase(a)))
    )
    // A --drop of the name a prediction column took drops the input column it replaced, not the prediction.
    val dropped = options.drop.filterNot(d => added.exists(_.equalsIgnoreCase(d)))
    val kept = predicted.drop((dropped ++ assembled.map(_._1).filterNot(input.columns.contains)): _*)
    if (options.outputFormat == "csv") flattenStructs(kept) else kept
  }

  /** CSV has no structs: one column per field (`prediction_probability`, `prediction_error_message`). */
  private def flattenStructs(df: DataFrame): DataFrame =
    df.select(df.schema.fields.toIndexedSeq.flatMap { f =>
      f.dataType match {
        case struct: StructType => struct.fieldNames.toIndexedSeq.map(n => col(s"`${f.name}`.`$n`").as(s"${f.name}_$n"))
        case _ => IndexedSeq(col(s"`${f.name}`"))
      }
    }: _*)

  /** The columns BatchScore adds, with the option that names each. */
  private def addedColumns(options: Options): Seq[(String, String)] =
    Seq("--prediction-col" -> options.predictionCol) ++ (if (options.onError.isolates) Seq("the error column" -> options.errorCol) else Nil)

  /**
   * The columns BatchScore adds must not clash with the input's that it keeps.
   *
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT
   */
  private def checkOutputColumns(input: DataFrame, options: Options): Unit = {
    val kept = StructType(input.schema.fields.filterNot(f => options.drop.exists(_.equalsIgnoreCase(f.name))))
    DataFramePredictions.checkOutputColumns(
      kept,
      addedColumns(options),
      caseSensitive = false,
      clash => s"a new column name: --prediction-col NAME, or --drop $clash"
    )
    options.idCols.filterNot(c => input.columns.exists(_.equalsIgnoreCase(c))).foreach { c =>
      throw TFSparkErrors.invalidArgument("--id-col", s"'$c'", s"one of the input's columns: ${input.columns.mkString(", ")}")
    }
  }

  /**
   * The input; `None` when it has no files and `--allow-empty` is given.
   *
   * @throws tfspark.errors.TFSparkException INPUT_EMPTY for no files without `--allow-empty`
   */
  private def read(spark: SparkSession, options: Options): Option[DataFrame] = {
    val reader = spark.read.format(options.inputFormat).option("recursiveFileLookup", options.recursive.toString)
    try {
      val input =
        if (options.inputFormat == "csv") reader.option("header", "true").option("inferSchema", "true").load(options.input)
        else reader.load(options.input)
      if (input.inputFiles.nonEmpty) Some(input) else noFiles(options)
    } catch {
      // Parquet, CSV, JSON, ORC: a folder with no data files has no schema to infer.
      case e: AnalysisException if e.getCondition == "UNABLE_TO_INFER_SCHEMA" => noFiles(options)
    }
  }

  private def noFiles(options: Options): Option[DataFrame] =
    if (options.allowEmpty) None
    else {
      val hint = if (options.recursive) "Check the path and the format." else "If the files are in subfolders, add --recursive."
      throw TFSparkErrors.inputEmpty(options.input, "no files", hint)
    }

  /**
   * An error about the input's column types, which a file without rows cannot tell (a header-only
   * CSV reads as strings). An input with rows, or with types its format stores (Parquet), scores to
   * an empty output.
   */
  private def typedByRows(e: TFSparkException): Boolean =
    e.errorClass == "INPUT_TYPE_MISMATCH" || e.errorClass == "MISSING_INPUT"

  /**
   * The input has files but no rows, and its columns' types could not feed the model: with
   * `--allow-empty` it is written as it is (no rows).
   *
   * @throws tfspark.errors.TFSparkException INPUT_EMPTY without `--allow-empty`, with `cause`
   */
  private def noRows(input: DataFrame, options: Options, cause: TFSparkException): DataFrame =
    if (options.allowEmpty) input
    else {
      val hint = s"Without rows its columns' types cannot be inferred (${cause.errorClass}: ${cause.getMessage.linesIterator.next()})."
      throw TFSparkErrors.inputEmpty(options.input, "no rows", hint)
    }

  /**
   * Writes into `commit`'s staging folder and puts it in place of the output ([[OutputCommit]]);
   * returns the rows written and how many of them carry an error instead of a prediction.
   */
  private def writeAtomically(df: DataFrame, options: Options, commit: OutputCommit, phases: PhaseTimes): (Long, Long) = {
    val started = System.nanoTime()
    var written = 0.0 // when the staging folder is complete: what follows is the commit's renames
    val counts = commit.commit { staging =>
      val spark = df.sparkSession
      if (df.schema.isEmpty) { // no input files, --allow-empty: an empty output that says it is complete
        commit.fs.mkdirs(staging)
        commit.fs.create(new Path(staging, "_SUCCESS")).close()
        (0L, 0L)
      } else {
        phases.time(Phase.Scoring)(df.write.format(options.outputFormat).option("header", "true").save(staging.toString))
        val counted = phases.time(Phase.Check) {
          val output = spark.read.format(options.outputFormat).option("header", "true").schema(df.schema).load(staging.toString)
          // The error column (CSV: its flattened class column) is non-null exactly on the failed rows.
          val errorColumn = Seq(options.errorCol, s"${options.errorCol}_errorClass").find(output.columns.contains)
          val row = output.agg(count(lit(1)), errorColumn.map(c => count(col(s"`$c`"))).getOrElse(lit(0L))).head()
          (row.getLong(0), row.getLong(1))
        }
        written = (System.nanoTime() - started) / 1e9
        counted
      }
    }
    phases.record(Phase.Commit, (System.nanoTime() - started) / 1e9 - written)
    counts
  }
}
