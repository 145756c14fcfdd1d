package tfspark.jobs

import org.apache.spark.sql.internal.SQLConf

import tfspark.conf.{NullPolicy, OnError, Precision, TFSparkConf}
import tfspark.errors.TFSparkErrors
import tfspark.model.ModelReference
import tfspark.tensor.BatchLimits

/** The options of [[BatchScore]], validated before Spark starts ([[BatchScoreOptions.parse]]). */
final case class BatchScoreOptions(
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
    given: Set[String] = Set.empty,
    inputTable: Boolean = false,
    outputTable: Boolean = false,
    append: Boolean = false,
    runId: Option[String] = None,
    precisionGiven: Option[String] = None,
    precision: Precision = Precision.Float32
) {

  /**
   * These options with what the command line left unset taken from the session's
   * `spark.tfpredict.*` settings (a `--conf` given to spark-submit), so that no setting is
   * ignored: `--batch-size` from `batchSize`, `--null-policy` from `nullPolicy`, `--on-error`
   * from `onError`, `--binary-outputs` from `binaryOutputs` (the entries for `model`), and the
   * precision from `--precision`, else `precision` (with `precision.maxDeviation` for bfloat16).
   * `rowLabel` needs nothing here: without `--id-col` the scoring reads it.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG for a malformed setting
   */
  def withSessionDefaults(conf: SQLConf): BatchScoreOptions = {
    def unless[T](option: String, explicit: T)(setting: => T): T = if (given(option)) explicit else setting
    copy(
      batchSize = unless("batch-size", batchSize)(TFSparkConf.batchSize(conf)),
      nullPolicy = unless("null-policy", nullPolicy)(TFSparkConf.nullPolicy(conf)),
      onError = unless("on-error", onError)(TFSparkConf.onError(conf)),
      binaryOutputs = unless("binary-outputs", binaryOutputs)(TFSparkConf.binaryOutputsOf(ModelReference.parse(model).name, conf)),
      precision = TFSparkConf.precision(conf, precisionGiven.map("--precision" -> _))
    )
  }

  /** The column of each row's error under `--on-error null`. */
  def errorCol: String = s"${predictionCol}_error"
}

object BatchScoreOptions {

  /** Every option, declared once: the parser and `--help` both come from here. */
  val Declared: Seq[JobOption] = Seq(
    JobOption.value(
      "model",
      "NAME[@VERSION][:SIGNATURE]",
      "model in the repository, latest version unless @VERSION; or\nmodels:/NAME[/VERSION|@ALIAS] in the MLflow registry\n(spark.tfpredict.mlflow.trackingUri) (required)"
    ),
    JobOption
      .value("repository", "DIR", "model repository root, <DIR>/<name>/<version>/ (default: models,\nor spark.tfpredict.repository)"),
    JobOption.value("input", "PATH", "input data (required, unless --input-table)"),
    JobOption.value(
      "input-table",
      "NAME",
      "read the table NAME of the session's catalog instead of a path\n(a Delta table, or any other the catalog reads)"
    ),
    JobOption.value(
      "input-format",
      "FMT",
      "any Spark source: csv (header, inferSchema), json, parquet, delta,\n... (default: delta for a folder with _delta_log/, else from the\nextension of the path, or of the files in the folder it names,\nelse csv)"
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
    JobOption.value(
      "precision",
      "P",
      "float32 (default, or spark.tfpredict.precision) or bfloat16: matmuls\nand convolutions in bfloat16 on CPUs with avx512_bf16/amx_bf16,\n" +
        "refused when an output moves more than\nspark.tfpredict.precision.maxDeviation (default " + Precision.DefaultMaxDeviation + ")\nfrom float32 on the model's warm-up inputs"
    ),
    JobOption.value("id-col", "COLS", "columns that name a row in error messages (default: path if\npresent, else the first 3 columns)"),
    JobOption.value(
      "output",
      "PATH",
      "output directory (required, unless --output-table); must not exist\nunless --overwrite (delta: or --append)"
    ),
    JobOption.value(
      "output-table",
      "NAME",
      "write the Delta table NAME of the session's catalog instead of a\npath (implies --output-format delta)"
    ),
    JobOption.value(
      "output-format",
      "FMT",
      "parquet, csv, json or delta (default: parquet; delta with\n--output-table). Delta: one commit per run, and a run already\ncommitted writes nothing (see --run-id); needs Delta's jars:\n" +
        s"--packages io.delta:delta-spark_2.13:${tfspark.Versions.delta}"
    ),
    JobOption.value("prediction-col", "NAME", "name of the added column (default: prediction)"),
    JobOption.value("batch-size", "N", "rows per TF call (default: spark.tfpredict.batchSize, else 1024)"),
    JobOption.value(
      "binary-outputs",
      "KEYS",
      "string outputs written as binary, their bytes as they are (keys,\ncomma-separated, or *; default: spark.tfpredict.binaryOutputs);\nother string outputs must be UTF-8 text"
    ),
    JobOption.flag("overwrite", "replace an existing output directory (delta: the table's rows, in\none commit)"),
    JobOption.flag("append", "delta only: add this run's rows to an existing table, in one\ncommit"),
    JobOption.value(
      "run-id",
      "ID",
      "delta only: the run's id; a table that has committed it is not\nwritten again (default: a hash of the model's content, the\n" +
        "input's files and the options; letters, digits, . _ -)"
    ),
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

  /** @throws tfspark.errors.TFSparkException INVALID_ARGUMENT */
  def parse(args: Seq[String]): BatchScoreOptions = from(JobArguments.parse(args, Declared))

  /** @throws tfspark.errors.TFSparkException INVALID_ARGUMENT */
  def from(args: JobArguments): BatchScoreOptions = {
    val (input, inputTable) = oneOf(args, "input", "input-table")
    if (inputTable && args.get("input-format").isDefined) {
      throw TFSparkErrors.invalidArgument(
        "--input-format",
        s"'${args.required("input-format")}' with --input-table",
        "no --input-format: the catalog knows the table's format"
      )
    }
    val (output, outputTable) = oneOf(args, "output", "output-table")
    // Spark's format names are case-insensitive: DELTA is Delta too, and must not take the file route.
    def format(key: String): Option[String] =
      args.get(key).map(f => if (f.equalsIgnoreCase(DeltaSupport.Format)) DeltaSupport.Format else f)
    val outputFormat = format("output-format") match {
      case Some(f) if outputTable && f != DeltaSupport.Format =>
        throw TFSparkErrors.invalidArgument("--output-format", s"'$f' with --output-table", "delta, or no --output-format")
      case Some(f) => f
      case None => if (outputTable) DeltaSupport.Format else "parquet"
    }
    val inputFormat = if (inputTable) "table" else format("input-format").getOrElse(InputFormat.infer(input))
    val delta = outputFormat == DeltaSupport.Format
    for (flag <- Seq("append", "run-id") if args.get(flag).isDefined && !delta) {
      throw TFSparkErrors.invalidArgument(
        s"--$flag",
        s"given with --output-format $outputFormat",
        "--output-format delta (a file output is replaced whole: --overwrite, and a rerun rewrites it)"
      )
    }
    if (args.flag("append") && args.flag("overwrite")) {
      throw TFSparkErrors.invalidArgument("--append", "given with --overwrite", "one of --append and --overwrite")
    }
    val runId = args.get("run-id").map { id =>
      if (id.matches("[A-Za-z0-9._-]{1,128}")) id
      else throw TFSparkErrors.invalidArgument("--run-id", s"'$id'", "1 to 128 letters, digits, '.', '_' or '-'")
    }
    if (args.flag("recursive") && (inputFormat == DeltaSupport.Format || inputTable)) {
      throw TFSparkErrors.invalidArgument(
        "--recursive",
        s"given with a ${if (inputTable) "table" else "Delta"} input",
        "a file input: a table lists its own files"
      )
    }
    BatchScoreOptions(
      model = args.required("model"),
      repository = args.get("repository"),
      input = input,
      inputFormat = inputFormat,
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
      output = output,
      outputFormat = outputFormat,
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
      given = SessionBackedOptions.filter(args.get(_).isDefined),
      inputTable = inputTable,
      outputTable = outputTable,
      append = args.flag("append"),
      runId = runId,
      precisionGiven = args.get("precision").map { p =>
        Precision
          .of(p, Precision.DefaultMaxDeviation)
          .fold(throw TFSparkErrors.invalidArgument("--precision", p, "float32 or bfloat16"))(_ => p)
      }
    )
  }

  /**
   * The value of exactly one of `--path` and `--table` (a path, or a table name), and whether it is
   * the table.
   *
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT for both, neither, or an empty value
   */
  private def oneOf(args: JobArguments, path: String, table: String): (String, Boolean) =
    (args.get(path), args.get(table)) match {
      case (Some(_), Some(_)) => throw TFSparkErrors.invalidArgument(s"--$table", s"given with --$path", s"one of --$path and --$table")
      case (None, Some(t)) => (nonEmpty(args, table, t), true)
      case _ => (nonEmpty(args, path, args.required(path)), false)
    }

  /** The options whose default is a session setting ([[BatchScoreOptions.withSessionDefaults]]). */
  private val SessionBackedOptions = Set("batch-size", "null-policy", "on-error", "binary-outputs")

  private def nonEmpty(args: JobArguments, key: String, value: String): String =
    if (value.trim.nonEmpty) value else throw TFSparkErrors.invalidArgument(s"--$key", "''", "a non-empty value")

  private def list(text: String): Seq[String] = text.split(",").map(_.trim).filter(_.nonEmpty).toSeq
}
