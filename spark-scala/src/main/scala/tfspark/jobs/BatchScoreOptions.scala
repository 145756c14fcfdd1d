package tfspark.jobs

import org.apache.spark.sql.internal.SQLConf

import tfspark.conf.{NullPolicy, OnError, TFSparkConf}
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
  def withSessionDefaults(conf: SQLConf): BatchScoreOptions = {
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

  /** @throws tfspark.errors.TFSparkException INVALID_ARGUMENT */
  def parse(args: Seq[String]): BatchScoreOptions = from(JobArguments.parse(args, Declared))

  /** @throws tfspark.errors.TFSparkException INVALID_ARGUMENT */
  def from(args: JobArguments): BatchScoreOptions = {
    val input = args.required("input")
    BatchScoreOptions(
      model = args.required("model"),
      repository = args.get("repository"),
      input = input,
      inputFormat = args.getOrElse("input-format", InputFormat.infer(input)),
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

  /** The options whose default is a session setting ([[BatchScoreOptions.withSessionDefaults]]). */
  private val SessionBackedOptions = Set("batch-size", "null-policy", "on-error", "binary-outputs")

  private def nonEmpty(args: JobArguments, key: String, value: String): String =
    if (value.trim.nonEmpty) value else throw TFSparkErrors.invalidArgument(s"--$key", "''", "a non-empty value")

  private def list(text: String): Seq[String] = text.split(",").map(_.trim).filter(_.nonEmpty).toSeq
}
