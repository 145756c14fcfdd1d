package tfspark.conf

import org.apache.spark.{SparkConf, SparkEnv}
import org.apache.spark.sql.internal.SQLConf

import tfspark.errors.TFSparkErrors

/**
 * Every `spark.tfpredict.*` configuration key, with its default and its validation (documented in
 * README.md). Session keys are read from the session's SQL configuration, which includes every
 * `--conf spark.tfpredict.*` given at start; JVM-wide keys ([[MaxLoadedModels]]) from the
 * application's Spark configuration, where executors see it too.
 *
 * [[Repository]] is the trust boundary (SECURITY.md): it is registered as a *static* SQL
 * configuration, so it is fixed when the application starts and a runtime `SET` or
 * `spark.conf.set` of it fails with Spark's `CANNOT_MODIFY_STATIC_CONFIG` from every client
 * (spark-sql, JDBC/Thrift, Spark Connect, pyspark). [[register]] must run before any session takes
 * statements; [[tfspark.sql.TFSparkExtensions]] and `TFSparkSQL.register` call it.
 */
object TFSparkConf {
  val Repository = "spark.tfpredict.repository"
  val DefaultModel = "spark.tfpredict.defaultModel"
  val BatchSize = "spark.tfpredict.batchSize"
  val NullPolicy = "spark.tfpredict.nullPolicy"
  val OnError = "spark.tfpredict.onError"
  val RowLabel = "spark.tfpredict.rowLabel"
  val StrictInputs = "spark.tfpredict.strictInputs"
  val UnitOutputsAsArrays = "spark.tfpredict.unitOutputsAsArrays"
  val BinaryOutputs = "spark.tfpredict.binaryOutputs"
  val MaxLoadedModels = "spark.tfpredict.maxLoadedModels"
  val BatchedSql = "spark.tfpredict.batchedSql"
  val IntraOpThreads = "spark.tfpredict.intraOpThreads"
  val NativeCacheDir = "spark.tfpredict.nativeCacheDir"
  val RepositoryShared = "spark.tfpredict.repositoryShared"
  val TaskErrorLogs = "spark.tfpredict.taskErrorLogs"

  val DefaultRepository = "models"
  val DefaultMaxLoadedModels = 8

  /** The most rows one batch may hold (a model's own limit may be lower: `tfspark.tensor.BatchLimits`). */
  val MaxBatchSize: Int = 1 << 20

  /** Makes [[Repository]] a static configuration of this JVM's Spark SQL. Idempotent. */
  def register(): Unit = registered

  private lazy val registered: Unit = SQLConf.registerStaticConfigKey(Repository)

  /** The repository root fixed at start (a static configuration: no session can change it). */
  def repository(conf: SQLConf = SQLConf.get): String = {
    register()
    conf.getConfString(Repository, DefaultRepository)
  }

  def defaultModel(conf: SQLConf = SQLConf.get): Option[String] =
    Option(conf.getConfString(DefaultModel, null)).map(_.trim).filter(_.nonEmpty)

  /** Rows per `Session.run`: 1 to [[MaxBatchSize]]. @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def batchSize(conf: SQLConf = SQLConf.get): Int = {
    val raw = conf.getConfString(BatchSize, "1024")
    raw.trim.toIntOption
      .filter(n => n > 0 && n <= MaxBatchSize)
      .getOrElse(throw TFSparkErrors.invalidConfig(BatchSize, raw, s"a number of rows from 1 to $MaxBatchSize"))
  }

  /** @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def onError(conf: SQLConf = SQLConf.get): tfspark.conf.OnError = {
    val raw = conf.getConfString(OnError, "fail")
    tfspark.conf.OnError.parse(raw).getOrElse(throw TFSparkErrors.invalidConfig(OnError, raw, "'fail' or 'null'"))
  }

  /**
   * The columns that name a row in error messages (comma-separated), when the query keeps them;
   * empty: a `path` column, else the row's first columns.
   */
  def rowLabel(conf: SQLConf = SQLConf.get): Seq[String] =
    conf.getConfString(RowLabel, "").split(",").map(_.trim).filter(_.nonEmpty).toSeq

  /** @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def nullPolicy(conf: SQLConf = SQLConf.get): NullPolicy = {
    val raw = conf.getConfString(NullPolicy, "error")
    tfspark.conf.NullPolicy.parse(raw).getOrElse(throw TFSparkErrors.invalidConfig(NullPolicy, raw, "'error', 'null' or 'fill'"))
  }

  /** Whether a `[-1,1]` output is an `array` of one element rather than a scalar. */
  def unitOutputsAsArrays(conf: SQLConf = SQLConf.get): Boolean =
    conf.getConfString(UnitOutputsAsArrays, "false").trim.equalsIgnoreCase("true")

  /**
   * The string outputs that are `binary` (their bytes as they are) rather than UTF-8-checked
   * `string`: output keys, comma-separated, or `*` for every string output. Empty by default.
   * Each key must name a string output of the signature called (INVALID_CONFIG at analysis).
   */
  def binaryOutputs(conf: SQLConf = SQLConf.get): Seq[String] =
    conf.getConfString(BinaryOutputs, "").split(",").map(_.trim).filter(_.nonEmpty).toSeq

  /** Whether struct fields that feed no input are an error (UNEXPECTED_INPUT). */
  def strictInputs(conf: SQLConf = SQLConf.get): Boolean =
    conf.getConfString(StrictInputs, "false").trim.equalsIgnoreCase("true")

  /** Whether `tfpredict` calls run batched (`false`: one `Session.run` per row, on request only). */
  def batchedSql(conf: SQLConf = SQLConf.get): Boolean = {
    val raw = conf.getConfString(BatchedSql, "true")
    raw.trim.toLowerCase match {
      case "true" => true
      case "false" => false
      case _ => throw TFSparkErrors.invalidConfig(BatchedSql, raw, "true or false")
    }
  }

  /**
   * Threads per TF op in each session (`intra_op_parallelism_threads`), from the application's
   * configuration: `None` unless set.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  def intraOpThreads(): Option[Int] =
    Option(SparkEnv.get).flatMap(_.conf.getOption(IntraOpThreads)).map { raw =>
      raw.trim.toIntOption.filter(_ > 0).getOrElse(throw TFSparkErrors.invalidConfig(IntraOpThreads, raw, "a positive integer"))
    }

  /** Where executors unpack TF's native library (`None` unless set). */
  def nativeCacheDir(): Option[String] =
    Option(SparkEnv.get).flatMap(_.conf.getOption(NativeCacheDir)).map(_.trim).filter(_.nonEmpty)

  /**
   * Whether the driver logs a tfspark error that fails a task once (`once`, the default: Spark's
   * per-task copies are dropped, see [[tfspark.errors.TaskErrorLogFilter]]) or as Spark logs any
   * task failure (`all`). Read from the application's configuration.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  def taskErrorLogsOnce(conf: SparkConf): Boolean = {
    val raw = conf.get(TaskErrorLogs, "once")
    raw.trim.toLowerCase match {
      case "once" => true
      case "all" => false
      case _ => throw TFSparkErrors.invalidConfig(TaskErrorLogs, raw, "once or all")
    }
  }

  /**
   * Whether local (`file:` or scheme-less) model repositories are on a filesystem that every
   * executor reads at the same path (NFS, a cluster-wide mount). Then executors copy a model
   * version from its real path there; otherwise each executor fetches it from the driver's file
   * server. Repositories under any other scheme (`hdfs:`, `s3a:`, ...) are always read by the
   * executors directly. Read from the application's configuration (default `false`).
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  def repositoryShared(conf: SparkConf): Boolean = {
    val raw = conf.get(RepositoryShared, "false")
    raw.trim.toLowerCase match {
      case "true" => true
      case "false" => false
      case _ => throw TFSparkErrors.invalidConfig(RepositoryShared, raw, "true or false")
    }
  }

  /**
   * How many model versions one JVM keeps loaded ([[tfspark.model.ModelCache]]): beyond it, the
   * least recently used versions that no running task uses are closed. Read from the
   * application's configuration (`--conf spark.tfpredict.maxLoadedModels=N`), on the driver and
   * the executors alike.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  def maxLoadedModels(): Int = {
    val raw = Option(SparkEnv.get).flatMap(_.conf.getOption(MaxLoadedModels)).getOrElse(DefaultMaxLoadedModels.toString)
    raw.trim.toIntOption.filter(_ > 0).getOrElse(throw TFSparkErrors.invalidConfig(MaxLoadedModels, raw, "a positive integer"))
  }
}
