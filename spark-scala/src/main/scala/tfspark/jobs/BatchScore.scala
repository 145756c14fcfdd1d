package tfspark.jobs

import java.util.UUID

import org.apache.hadoop.fs.Path
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.functions.{array, col}
import org.apache.spark.sql.types.{NumericType, StructType}

import tfspark.TFInference
import tfspark.conf.{NullPolicy, TFSparkConf}
import tfspark.errors.{TFSparkErrors, TFSparkException}
import tfspark.model.{ModelReference, ModelRepository}

/**
 * The `spark-submit` batch-scoring job: reads a table of features, adds the model's prediction
 * column through the batched path ([[TFInference.predictDataFrame]]), writes the result, and
 * prints one summary line.
 *
 * Output is written to a hidden sibling directory and renamed into place only when complete, so
 * a failed run never leaves output that looks finished. Exit status: 0 on success, 1 when the job
 * fails (one line on stderr), 2 for a usage error.
 */
object BatchScore {

  /** Every option, declared once: the parser and `--help` both come from here. */
  val Declared: Seq[JobOption] = Seq(
    JobOption.value("model", "NAME[@VERSION][:SIGNATURE]", "model in the repository, latest version unless @VERSION (default: linear)"),
    JobOption
      .value("repository", "DIR", "model repository root, <DIR>/<name>/<version>/ (default: models,\nor spark.tfpredict.repository)"),
    JobOption.value("input", "PATH", "input data (required)"),
    JobOption.value(
      "input-format",
      "FMT",
      "any Spark source: csv (header, inferSchema), json, parquet, ...\n(default: from the file extension, else csv)"
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
    JobOption.value("null-policy", "P", "error (default), null (null result) or fill (NaN / \"\")"),
    JobOption.value("output", "PATH", "output directory (required); must not exist unless --overwrite"),
    JobOption.value("output-format", "FMT", "parquet, csv or json (default: parquet)"),
    JobOption.value("prediction-col", "NAME", "name of the added column (default: prediction)"),
    JobOption.value("batch-size", "N", "rows per TF call (default: 1024)"),
    JobOption.flag("overwrite", "replace an existing output directory"),
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
      output: String,
      outputFormat: String,
      predictionCol: String,
      batchSize: Int,
      overwrite: Boolean
  )

  object Options {

    /** @throws tfspark.errors.TFSparkException INVALID_ARGUMENT */
    def parse(args: Seq[String]): Options = from(JobArguments.parse(args, Declared))

    /** @throws tfspark.errors.TFSparkException INVALID_ARGUMENT */
    def from(args: JobArguments): Options = {
      val input = args.required("input")
      Options(
        model = args.getOrElse("model", "linear"),
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
        output = args.required("output"),
        outputFormat = args.getOrElse("output-format", "parquet"),
        predictionCol = args.getOrElse("prediction-col", "prediction"),
        batchSize = args.positiveInt("batch-size", 1024),
        overwrite = args.flag("overwrite")
      )
    }

    private def list(text: String): Seq[String] = text.split(",").map(_.trim).filter(_.nonEmpty).toSeq

    private def inferFormat(path: String): String =
      Seq("parquet", "json", "csv", "orc").find(ext => path.toLowerCase.endsWith("." + ext)).getOrElse("csv")
  }

  /** The outcome of a successful run. */
  final case class Summary(rows: Long, seconds: Double, model: String, output: String, format: String) {
    def line: String = {
      val rate = if (seconds > 0) rows / seconds else 0.0
      f"BatchScore: scored $rows%d rows in $seconds%.2f s ($rate%.0f rows/s) with $model -> $output ($format)"
    }
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
      val spark = SparkSession.builder().appName("tfspark BatchScore").config("spark.ui.showConsoleProgress", progress).getOrCreate()
      spark.sparkContext.setLogLevel(sys.props.getOrElse("tfspark.logLevel", "WARN")) // INFO logs would bury the progress bar
      println(run(spark, options).line)
      0
    } catch {
      case e: Throwable =>
        val cause = TFSparkException.find(e).getOrElse(e)
        System.err.println(s"BatchScore failed: ${Option(cause.getMessage).getOrElse(cause.toString).linesIterator.next()}")
        1
    }
  }

  /**
   * Scores `options.input` into `options.output` in `spark`; returns the summary.
   *
   * @throws tfspark.errors.TFSparkException for bad arguments, models or inputs (at analysis,
   *   before anything is written) and for bad rows (as the cause of the job failure)
   */
  def run(spark: SparkSession, options: Options): Summary = {
    val started = System.nanoTime()
    val (scored, model) = plan(spark, options)
    val rows = writeAtomically(scored, options)
    Summary(rows, (System.nanoTime() - started) / 1e9, model, options.output, options.outputFormat)
  }

  /**
   * The scored table as a Spark plan (nothing runs yet) and the model's `name/version`: the
   * input, the `tfpredict` column (batched: `explain()` shows `BatchEvalTF`), and the columns kept.
   *
   * @throws tfspark.errors.TFSparkException for bad arguments, models or inputs
   */
  def plan(spark: SparkSession, options: Options): (DataFrame, String) = {
    val repository = ModelRepository(options.repository.getOrElse(spark.conf.get(TFSparkConf.Repository, TFSparkConf.DefaultRepository)))
    val reference = ModelReference.parse(options.model)
    val (name, signature) = (reference.name, reference.signature)
    val model = TFInference.ship(spark.sparkContext, repository.resolve(name, reference.version))

    val input = read(spark, options.input, options.inputFormat)
    val spec = model.signatures.getOrElse(signature, throw TFSparkErrors.signatureNotFound(name, signature, model.signatures.keys))
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
    val df = assembled.fold(input) { case (key, cols) =>
      if (cols.isEmpty) throw TFSparkErrors.invalidArgument("feature columns", "none", "--features or numeric input columns")
      cols.filterNot(input.columns.contains).foreach { c =>
        throw TFSparkErrors.invalidArgument("feature column", s"'$c'", s"one of the input's columns: ${input.columns.mkString(", ")}")
      }
      input.withColumn(key, array(cols.map(col): _*))
    }
    // Column, type and width errors surface here, before anything is written.
    val predicted =
      TFInference.predictDataFrame(df, model, options.predictionCol, options.inputMap, options.batchSize, signature, options.nullPolicy)
    val kept = predicted.drop((options.drop ++ assembled.map(_._1).filterNot(input.columns.contains)): _*)
    val scored = (kept.schema(options.predictionCol).dataType, options.outputFormat) match {
      case (struct: StructType, "csv") => // CSV has no structs: one column per output
        kept.select(
          kept.columns.filter(_ != options.predictionCol).map(col).toIndexedSeq ++
            struct.fieldNames.map(f => col(s"${options.predictionCol}.$f").as(s"${options.predictionCol}_$f")).toIndexedSeq: _*
        )
      case _ => kept
    }
    (scored, s"$name/${model.version}")
  }

  private def read(spark: SparkSession, path: String, format: String): DataFrame = {
    val reader = spark.read.format(format)
    if (format == "csv") reader.option("header", "true").option("inferSchema", "true").load(path) else reader.load(path)
  }

  /** Writes to a staging directory beside the output, then renames it; returns the rows written. */
  private def writeAtomically(df: DataFrame, options: Options): Long = {
    val spark = df.sparkSession
    val target = new Path(options.output)
    val fs = target.getFileSystem(spark.sparkContext.hadoopConfiguration)
    if (fs.exists(target) && !options.overwrite) {
      throw TFSparkErrors.invalidArgument("--output", s"'${options.output}' (it exists)", "a new path, or --overwrite")
    }
    // Not hidden: Spark's readers skip paths that start with '.' or '_'.
    val staging = new Path(target.getParent, s"${target.getName}.tfspark-staging-${UUID.randomUUID()}")
    try {
      df.write.format(options.outputFormat).option("header", "true").save(staging.toString)
      val rows = spark.read.format(options.outputFormat).option("header", "true").load(staging.toString).count()
      if (fs.exists(target)) fs.delete(target, true)
      if (!fs.rename(staging, target)) throw new java.io.IOException(s"could not rename $staging to $target")
      rows
    } finally if (fs.exists(staging)) fs.delete(staging, true)
  }
}
