package tfspark.jobs

import java.lang.management.ManagementFactory

import org.apache.hadoop.fs.Path
import org.apache.spark.SparkConf
import org.apache.spark.sql.{DataFrame, SparkSession}

import tfspark.TFInference
import tfspark.conf.TFSparkConf
import tfspark.errors.{TFSparkErrors, TFSparkException}
import tfspark.jobs.ScoringInput.noRows
import tfspark.model.{ModelReference, ModelSource, ShippedModel, SignatureSpec}
import tfspark.sql.TFSparkSQL

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
      phases: PhaseTimes = new PhaseTimes,
      skipped: Option[String] = None
  ) {

    /**
     * "BatchScore: scored 50 rows in 1.20 s (42 rows/s) with linear/1 -> out (parquet)", or, for a
     * run that wrote nothing (`skipped`: a Delta table that already holds its commit), why.
     */
    def line: String = skipped.fold(scoredLine)(why => s"BatchScore: $why")

    private def scoredLine: String = {
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
    val DeltaCheck = "checking the Delta table"
  }

  def main(args: Array[String]): Unit = {
    val code = exitCode(args)
    if (code != 0) sys.exit(code)
  }

  /** Runs the job as `main` does and returns its exit status instead of exiting. */
  def exitCode(args: Array[String]): Int = {
    val options =
      try {
        val parsed = JobArguments.parse(args.toSeq, BatchScoreOptions.Declared)
        if (parsed.flag("help")) { println(BatchScoreOptions.Usage); return 0 }
        BatchScoreOptions.from(parsed)
      } catch {
        case e: TFSparkException =>
          System.err.println(s"BatchScore: ${e.getMessage}\nRun with --help for usage.")
          return 2
      }
    try {
      // The Spark progress bar, unless --conf spark.ui.showConsoleProgress says otherwise.
      val progress = sys.props.getOrElse("spark.ui.showConsoleProgress", "true")
      ConsoleLogging.quiet() // INFO logs, start-up included, would bury the progress bar and the summary
      // tfspark's extension, so that this session has the columnar exec too (TFSparkSQL.install cannot add it).
      val sparkConf = new SparkConf()
      val extensions = TFSparkSQL.extensionsWithTFSpark(sparkConf.get("spark.sql.extensions", ""))
      val builder = SparkSession
        .builder()
        .appName("tfspark BatchScore")
        .config("spark.ui.showConsoleProgress", progress)
        .config("spark.sql.extensions", extensions)
      // Delta is the user's jar (--packages): checked before Spark starts, and its two session
      // settings added to this session (a table named by --input-table may be Delta's too).
      val loader = Thread.currentThread().getContextClassLoader
      DeltaSupport.askedBy(options).foreach(DeltaSupport.requireClasses(_, loader))
      if (DeltaSupport.askedBy(options).isDefined || (options.inputTable && DeltaSupport.available(loader))) {
        val (settings, said) = DeltaSupport.sessionSettings(sparkConf, extensions)
        settings.foreach { case (k, v) => builder.config(k, v) }
        said.foreach(line => System.err.println(s"BatchScore: $line"))
      }
      val spark = builder.getOrCreate()
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
  def run(spark: SparkSession, options: BatchScoreOptions): Summary = run(spark, options, new PhaseTimes, _ => ())

  /**
   * [[run]], timing its phases into `phases`, with `hook` called before each step of the output's
   * commit (tests throw from it).
   */
  private[jobs] def run(spark: SparkSession, given: BatchScoreOptions, phases: PhaseTimes, hook: OutputCommit.Step => Unit): Summary = {
    val options = given.withSessionDefaults(spark.asInstanceOf[org.apache.spark.sql.classic.SparkSession].sessionState.conf)
    DeltaSupport.askedBy(options).foreach(DeltaSupport.requireSession(_, spark))
    val conf = spark.sparkContext.hadoopConfiguration
    if (options.inputTable || options.outputTable) {
      if (options.inputTable && options.outputTable && options.input.equalsIgnoreCase(options.output)) {
        throw TFSparkErrors.invalidArgument(
          "--output-table",
          s"'${options.output}', which is the input",
          "an output table apart from the input"
        )
      }
    } else InputOutputPaths.checkApart(options.input, options.output, conf)
    if (options.outputFormat == DeltaSupport.Format) return runDelta(spark, options, phases)
    val output = new Path(options.output)
    val commit = new OutputCommit(output.getFileSystem(conf), output, line => System.err.println(s"BatchScore: $line"), hook)
    phases.time(Phase.Recovery)(commit.recover())
    if (commit.fs.exists(commit.target) && !options.overwrite) {
      throw TFSparkErrors.invalidArgument("--output", s"'${options.output}' (it exists)", "a new path, or --overwrite")
    }
    val planned = plan(spark, options, phases)
    val (rows, failed) = ScoredOutput.writeAtomically(planned.scored, options, commit, phases)
    Summary(rows, phases.seconds(Phase.Scoring), planned.shown, options.output, options.outputFormat, failed, phases)
  }

  /** [[run]] into a Delta table: one commit, or none when the table already holds this run's ([[DeltaOutput]]). */
  private def runDelta(spark: SparkSession, options: BatchScoreOptions, phases: PhaseTimes): Summary = {
    val planned = plan(spark, options, phases)
    val runId = options.runId.getOrElse {
      val files = if (planned.scored.schema.isEmpty) Nil else planned.scored.inputFiles.toSeq
      DeltaOutput.derivedRunId(options, planned.model, planned.modelSha256, files, spark.sparkContext.hadoopConfiguration)
    }
    val result = DeltaOutput.write(spark, options, planned.scored, runId, phases)
    val format = result.version.fold("delta")(v => s"delta, version $v")
    Summary(result.rows, phases.seconds(Phase.Scoring), planned.shown, options.output, format, result.failed, phases, result.skipped)
  }

  /** The scoring plan, the model's `name/version` and its content's SHA-256. */
  /**
   * @param model the model's `name/version`
   * @param shown what the summary says of it: `name/version`, and in bfloat16 the precision and
   *   the driver's measure of it (which a run's identity must not include: it depends on the CPU)
   */
  private final case class Planned(scored: DataFrame, model: String, modelSha256: String, shown: String)

  /**
   * The scored table as a Spark plan (nothing runs yet) and the model's `name/version`: the
   * input, the `tfpredict` column (batched: `explain()` shows `BatchEvalTF`), and the columns kept.
   *
   * @throws tfspark.errors.TFSparkException for bad arguments, models or inputs
   */
  def plan(spark: SparkSession, options: BatchScoreOptions): (DataFrame, String) = {
    val planned = plan(spark, options, new PhaseTimes)
    (planned.scored, planned.model)
  }

  private def plan(spark: SparkSession, options: BatchScoreOptions, phases: PhaseTimes): Planned = {
    val repository = options.repository.getOrElse(spark.conf.get(TFSparkConf.Repository, TFSparkConf.DefaultRepository))
    val reference = ModelReference.parse(options.model)
    val model =
      phases.time(Phase.Model)(
        TFInference.ship(spark.sparkContext, ModelSource.resolve(reference, repository, spark.sessionState.conf), options.precision)
      )
    val scored = phases.time(Phase.Input)(ScoringInput.read(spark, options)) match {
      case None => spark.emptyDataFrame // no files, --allow-empty
      case Some(input) =>
        try score(input, model, reference, options)
        catch { case e: TFSparkException if typedByRows(e) && input.isEmpty => noRows(input, options, e) }
    }
    // The precision shows in the summary when it is not the default: the figures came from bfloat16.
    val name = s"${reference.name}/${model.version}"
    Planned(scored, name, model.sha256, name + model.deviation.fold("")(d => s" (${model.precision}, ${d.summary})"))
  }

  /** The scoring plan over `input` (not empty). */
  private def score(input: DataFrame, model: ShippedModel, reference: ModelReference, options: BatchScoreOptions): DataFrame = {
    val (name, signature) = (reference.name, reference.signature)
    val spec = SignatureSpec.find(name, model.signatures, signature)
    val assembled = FeatureAssembly.columns(input, spec, name, signature, options)
    if (assembled.exists(_._2.isEmpty)) { // no numeric column: a file without rows cannot tell its columns' types
      val none = TFSparkErrors.invalidArgument("feature columns", "none", "--features or numeric input columns")
      if (input.isEmpty) return noRows(input, options, none) else throw none
    }
    val df = FeatureAssembly.assemble(input, assembled)
    OutputColumns.check(input, options)
    val added = OutputColumns.added(options).map(_._2)
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
      // OutputColumns.check allowed a clash only with a column that --drop leaves out: that one is replaced
      replaceColumns = added.exists(a => options.drop.exists(_.equalsIgnoreCase(a)))
    )
    // A --drop of the name a prediction column took drops the input column it replaced, not the prediction.
    val dropped = options.drop.filterNot(d => added.exists(_.equalsIgnoreCase(d)))
    val kept = predicted.drop((dropped ++ assembled.map(_._1).filterNot(input.columns.contains)): _*)
    if (options.outputFormat == "csv") OutputColumns.flattenStructs(kept) else kept
  }

  /**
   * An error about the input's column types, which a file without rows cannot tell (a header-only
   * CSV reads as strings). An input with rows, or with types its format stores (Parquet), scores to
   * an empty output.
   */
  private def typedByRows(e: TFSparkException): Boolean =
    e.errorClass == "INPUT_TYPE_MISMATCH" || e.errorClass == "MISSING_INPUT"
}
