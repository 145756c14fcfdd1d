package tfspark.conf

import org.apache.spark.{SparkConf, SparkContext, SparkEnv}
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.internal.SQLConf

import tfspark.errors.TFSparkErrors

/**
 * Every `spark.tfpredict.*` configuration key, with its default and its validation (documented in
 * README.md). Session keys are read from the session's SQL configuration, which includes every
 * `--conf spark.tfpredict.*` given at start; JVM-wide keys ([[MaxLoadedModels]]) from the
 * application's Spark configuration, where executors see it too.
 *
 * [[Repository]] (with [[MlflowTrackingUri]]) is the trust boundary (SECURITY.md): it is registered as a *static* SQL
 * configuration, so it is fixed when the application starts and a runtime `SET` or
 * `spark.conf.set` of it fails with Spark's `CANNOT_MODIFY_STATIC_CONFIG` from every client
 * (spark-sql, JDBC/Thrift, Spark Connect, pyspark). [[register]] must run before any session takes
 * statements; [[tfspark.sql.TFSparkExtensions]] and `TFSparkSQL.register` call it.
 *
 * Every key is declared once, as a [[ConfEntry]] in [[Entries]], and every value is checked by
 * that entry where it is read. [[validate]] checks them all at once, at each use of tfspark: an
 * unknown `spark.tfpredict.*` key (a typo) or a malformed value is INVALID_CONFIG, never ignored.
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
  val ColumnarEnabled = "spark.tfpredict.columnar.enabled"
  val IntraOpThreads = "spark.tfpredict.intraOpThreads"
  val NativeCacheDir = "spark.tfpredict.nativeCacheDir"
  val RepositoryShared = "spark.tfpredict.repositoryShared"
  val TaskErrorLogs = "spark.tfpredict.taskErrorLogs"
  val OpLibraries = "spark.tfpredict.opLibraries"
  val MlflowTrackingUri = "spark.tfpredict.mlflow.trackingUri"
  val PrecisionKey = "spark.tfpredict.precision"
  val PrecisionMaxDeviation = "spark.tfpredict.precision.maxDeviation"

  val Prefix = "spark.tfpredict."
  val DefaultRepository = "models"
  val DefaultBatchSize = 1024
  val DefaultMaxLoadedModels = 8

  /** The most rows one batch may hold (a model's own limit may be lower: `tfspark.tensor.BatchLimits`). */
  val MaxBatchSize: Int = 1 << 20

  import ConfScope.{Application, Session, Static}

  private val repositoryEntry = ConfEntry.text(Repository, Static, "a folder or a Hadoop URI")
  private val defaultModelEntry = ConfEntry.text(DefaultModel, Session, "a model reference NAME[@VERSION][:SIGNATURE]")
  private val batchSizeEntry = ConfEntry.int(BatchSize, Session, DefaultBatchSize, 1, MaxBatchSize)
  private val nullPolicyEntry =
    ConfEntry.oneOf(NullPolicy, Session, "error", Seq("error", "null", "fill"))(v => tfspark.conf.NullPolicy.parse(v).get)
  private val onErrorEntry = ConfEntry.oneOf(OnError, Session, "fail", Seq("fail", "null"))(v => tfspark.conf.OnError.parse(v).get)
  private val rowLabelEntry = ConfEntry.names(RowLabel, Session, "column names, separated by commas")
  private val strictInputsEntry = ConfEntry.boolean(StrictInputs, Session, default = false)
  private val unitOutputsAsArraysEntry = ConfEntry.boolean(UnitOutputsAsArrays, Session, default = false)
  private val binaryOutputsEntry = ConfEntry.names(BinaryOutputs, Session, "output keys, separated by commas, or *")
  private val batchedSqlEntry = ConfEntry.boolean(BatchedSql, Session, default = true)
  private val columnarEnabledEntry = ConfEntry.boolean(ColumnarEnabled, Session, default = true)
  private val maxLoadedModelsEntry = ConfEntry.int(MaxLoadedModels, Application, DefaultMaxLoadedModels, 1, Int.MaxValue)
  private val intraOpThreadsEntry = ConfEntry.optionalInt(IntraOpThreads, Application, 1, 4096)
  private val nativeCacheDirEntry = ConfEntry.text(NativeCacheDir, Application, "a folder")
  private val repositorySharedEntry = ConfEntry.boolean(RepositoryShared, Application, default = false)
  private val taskErrorLogsEntry = ConfEntry.oneOf(TaskErrorLogs, Application, "once", Seq("once", "all"))(_.equalsIgnoreCase("once"))
  private val opLibrariesEntry = ConfEntry.validatedList(
    OpLibraries,
    Application,
    "absolute paths or URIs (file:, hdfs:, s3a:, ...) of TensorFlow op libraries (.so), separated by commas"
  )(isOpLibraryLocation)

  private val mlflowTrackingUriEntry =
    ConfEntry.httpUrl(MlflowTrackingUri, Static, "the http(s) URL of an MLflow tracking server, e.g. http://mlflow.internal:5000")

  private val precisionEntry = ConfEntry.oneOf(PrecisionKey, Session, Precision.Float32.name, Precision.Names)(identity)
  private val precisionMaxDeviationEntry = ConfEntry.positiveDouble(PrecisionMaxDeviation, Session, Precision.DefaultMaxDeviation)

  /** Every key tfspark reads, each declared once. */
  val Entries: Seq[ConfEntry[_]] = Seq(
    repositoryEntry,
    defaultModelEntry,
    batchSizeEntry,
    nullPolicyEntry,
    onErrorEntry,
    rowLabelEntry,
    strictInputsEntry,
    unitOutputsAsArraysEntry,
    binaryOutputsEntry,
    batchedSqlEntry,
    columnarEnabledEntry,
    maxLoadedModelsEntry,
    intraOpThreadsEntry,
    nativeCacheDirEntry,
    repositorySharedEntry,
    taskErrorLogsEntry,
    opLibrariesEntry,
    mlflowTrackingUriEntry,
    precisionEntry,
    precisionMaxDeviationEntry
  )
  private val byKey: Map[String, ConfEntry[_]] = Entries.map(e => e.key -> e).toMap

  /** The entry of `key`, for what stands for it elsewhere (Transformer params, job options). */
  def entry(key: String): ConfEntry[_] = byKey.getOrElse(key, throw new IllegalArgumentException(s"not a tfspark setting: $key"))

  /**
   * Makes [[Repository]] and [[MlflowTrackingUri]], the two places models come from, static
   * configurations of this JVM's Spark SQL. Idempotent.
   */
  def register(): Unit = registered

  private lazy val registered: Unit = { SQLConf.registerStaticConfigKey(Repository); SQLConf.registerStaticConfigKey(MlflowTrackingUri) }

  private def session(conf: SQLConf): String => Option[String] = key => Option(conf.getConfString(key, null))
  private def application(conf: SparkConf): String => Option[String] = conf.getOption
  private def applicationNow: String => Option[String] = key => Option(SparkEnv.get).flatMap(_.conf.getOption(key))

  /** The repository root fixed at start (a static configuration: no session can change it). */
  def repository(conf: SQLConf = SQLConf.get): String = {
    register()
    repositoryEntry.read(session(conf)).getOrElse(DefaultRepository)
  }

  /**
   * The MLflow tracking server fixed at start (a static configuration, like [[repository]]):
   * `models:/` references are resolved there ([[tfspark.model.MlflowRegistry]]). None when unset.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG for a value that is not an http(s) URL
   */
  def mlflowTrackingUri(conf: SQLConf = SQLConf.get): Option[String] = {
    register()
    mlflowTrackingUriEntry.read(session(conf))
  }

  def defaultModel(conf: SQLConf = SQLConf.get): Option[String] = defaultModelEntry.read(session(conf))

  /** Rows per `Session.run`: 1 to [[MaxBatchSize]]. @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def batchSize(conf: SQLConf = SQLConf.get): Int = batchSizeEntry.read(session(conf))

  /** @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def onError(conf: SQLConf = SQLConf.get): tfspark.conf.OnError = onErrorEntry.read(session(conf))

  /**
   * The columns that name a row in error messages (comma-separated), when the query keeps them;
   * empty: a `path` column, else the row's first columns. The DataFrame API checks that they exist
   * ([[checkRowLabel]]).
   */
  def rowLabel(conf: SQLConf = SQLConf.get): Seq[String] = rowLabelEntry.read(session(conf))

  /** [[rowLabel]] of `spark`'s session. */
  def rowLabel(spark: SparkSession): Seq[String] = rowLabelEntry.read(spark.conf.getOption)

  /** @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def nullPolicy(conf: SQLConf = SQLConf.get): NullPolicy = nullPolicyEntry.read(session(conf))

  /**
   * The settings that a call of the Scala API leaves to `spark`'s session (`tfspark.TFInference`,
   * the Transformer): [[batchSize]], [[nullPolicy]], [[onError]], [[unitOutputsAsArrays]] and
   * [[binaryOutputsOf]] of that session, read when the call is made.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG for a malformed value
   */
  def batchSize(spark: SparkSession): Int = batchSizeEntry.read(spark.conf.getOption)

  /** [[nullPolicy]] of `spark`'s session. @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def nullPolicy(spark: SparkSession): NullPolicy = nullPolicyEntry.read(spark.conf.getOption)

  /** [[onError]] of `spark`'s session. @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def onError(spark: SparkSession): tfspark.conf.OnError = onErrorEntry.read(spark.conf.getOption)

  /** [[unitOutputsAsArrays]] of `spark`'s session. @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def unitOutputsAsArrays(spark: SparkSession): Boolean = unitOutputsAsArraysEntry.read(spark.conf.getOption)

  /** [[binaryOutputsOf]] `model` in `spark`'s session. */
  def binaryOutputsOf(model: String, spark: SparkSession): Seq[String] =
    entriesOf(model, binaryOutputsEntry.read(spark.conf.getOption))

  /**
   * The session whose settings apply to a call on `sc`'s RDDs (which name no session): the
   * thread's active session, else the default one, if it runs on `sc`. `None` when there is none:
   * then the settings are those the application started with (the `SparkConf` readers below).
   */
  def sessionOf(sc: SparkContext): Option[SparkSession] =
    SparkSession.getActiveSession.orElse(SparkSession.getDefaultSession).filter(_.sparkContext eq sc)

  /** [[batchSize]] given at start (`--conf`), for RDD calls without a session. @throws INVALID_CONFIG */
  def batchSize(conf: SparkConf): Int = batchSizeEntry.read(application(conf))

  /** [[binaryOutputsOf]] `model` given at start (`--conf`), for RDD calls without a session. */
  def binaryOutputsOf(model: String, conf: SparkConf): Seq[String] = entriesOf(model, binaryOutputsEntry.read(application(conf)))

  /** Whether a `[-1,1]` output is an `array` of one element rather than a scalar. @throws INVALID_CONFIG */
  def unitOutputsAsArrays(conf: SQLConf = SQLConf.get): Boolean = unitOutputsAsArraysEntry.read(session(conf))

  /**
   * The string outputs that are `binary` (their bytes as they are) rather than UTF-8-checked
   * `string`: output keys, comma-separated, or `*` for every string output. Empty by default.
   * Each key must name a string output of the signature called (INVALID_CONFIG at analysis).
   */
  def binaryOutputs(conf: SQLConf = SQLConf.get): Seq[String] = binaryOutputsEntry.read(session(conf))

  /**
   * The entries of [[binaryOutputs]] that apply to `model`: unqualified keys (`png`, `*`) apply to
   * every model, `model:key` (`thumbnail:png`, `thumbnail:*`) to that model only, so that one
   * session can query models with different string outputs.
   */
  def binaryOutputsOf(model: String, conf: SQLConf = SQLConf.get): Seq[String] = entriesOf(model, binaryOutputs(conf))

  private def entriesOf(model: String, entries: Seq[String]): Seq[String] =
    entries.flatMap { entry =>
      entry.split(":", 2) match {
        case Array(m, key) => if (m.trim == model) Some(key.trim) else None
        case _ => Some(entry)
      }
    }

  /**
   * The arithmetic models run in ([[tfspark.conf.Precision]]): `spark.tfpredict.precision` with, for bfloat16,
   * `spark.tfpredict.precision.maxDeviation`. `givenAs` (the name and value of a Transformer param
   * or BatchScore option that stands for the key) wins over the key.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  private def precisionOf(lookup: String => Option[String], givenAs: Option[(String, String)]): Precision = {
    val word = givenAs.fold(precisionEntry.read(lookup)) { case (name, value) => precisionEntry.parseAs(name, value) }
    Precision.of(word, precisionMaxDeviationEntry.read(lookup)).get
  }

  /** [[precisionOf]] a SQL session's configuration, with the value given as an option. @throws INVALID_CONFIG */
  def precision(conf: SQLConf, givenAs: Option[(String, String)] = None): Precision = precisionOf(session(conf), givenAs)

  /** [[precisionOf]] `spark`'s session, with the value given as a param or option. @throws INVALID_CONFIG */
  def precision(spark: SparkSession, givenAs: Option[(String, String)]): Precision = precisionOf(k => spark.conf.getOption(k), givenAs)

  /** [[precision]] given at start (`--conf`), for RDD calls without a session. @throws INVALID_CONFIG */
  def precision(conf: SparkConf): Precision = precisionOf(application(conf), None)

  /** Whether struct fields that feed no input are an error (UNEXPECTED_INPUT). @throws INVALID_CONFIG */
  def strictInputs(conf: SQLConf = SQLConf.get): Boolean = strictInputsEntry.read(session(conf))

  /** Whether `tfpredict` calls run batched (`false`: one `Session.run` per row, on request only). */
  def batchedSql(conf: SQLConf = SQLConf.get): Boolean = batchedSqlEntry.read(session(conf))

  /**
   * Whether a batched call over a child that produces columnar batches runs on them
   * (`BatchEvalTFColumnarExec`, chosen at planning), rather than on rows. @throws INVALID_CONFIG
   */
  def columnarEnabled(conf: SQLConf = SQLConf.get): Boolean = columnarEnabledEntry.read(session(conf))

  /**
   * Threads per TF op in each session (`intra_op_parallelism_threads`), from the application's
   * configuration: `None` unless set (then TF chooses).
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  def intraOpThreads(): Option[Int] = intraOpThreadsEntry.read(applicationNow)

  /** Where executors unpack TF's native library (`None` unless set). */
  def nativeCacheDir(): Option[String] = nativeCacheDirEntry.read(applicationNow)

  /**
   * Whether the driver logs a tfspark error that fails a task once (`once`, the default: Spark's
   * per-task copies are dropped, see [[tfspark.errors.TaskErrorLogFilter]]) or as Spark logs any
   * task failure (`all`). Read from the application's configuration.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  def taskErrorLogsOnce(conf: SparkConf): Boolean = taskErrorLogsEntry.read(application(conf))

  /**
   * `taskErrorLogsOnce(conf)` of this JVM's application (`once` without a SparkEnv).
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  def taskErrorLogsOnce(): Boolean = taskErrorLogsEntry.read(applicationNow)

  /**
   * Whether local (`file:` or scheme-less) model repositories are on a filesystem that every
   * executor reads at the same path (NFS, a cluster-wide mount). Then executors copy a model
   * version from its real path there; otherwise each executor fetches it from the driver's file
   * server. Repositories under any other scheme (`hdfs:`, `s3a:`, ...) are always read by the
   * executors directly. Read from the application's configuration (default `false`).
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  def repositoryShared(conf: SparkConf): Boolean = repositorySharedEntry.read(application(conf))

  /**
   * How many model versions one JVM keeps loaded ([[tfspark.model.ModelCache]]): beyond it, the
   * least recently used versions that no running task uses are closed. Read from the
   * application's configuration (`--conf spark.tfpredict.maxLoadedModels=N`), on the driver and
   * the executors alike.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  def maxLoadedModels(): Int = maxLoadedModelsEntry.read(applicationNow)

  /**
   * The TensorFlow op libraries (shared libraries of custom ops, `.so`) that every JVM of the
   * application loads before its first model ([[tfspark.model.OpLibraries]]): absolute paths or
   * URIs, from the application's configuration. Loading a native library is process-wide and
   * cannot be undone, so the key is fixed at start (a runtime `SET` is refused). Empty by default.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  def opLibraries(): Seq[String] = opLibrariesEntry.read(applicationNow)

  /** [[opLibraries]] of `conf` (the driver, when it ships a model). */
  def opLibraries(conf: SparkConf): Seq[String] = opLibrariesEntry.read(application(conf))

  /** An absolute local path or a URI with a scheme and a path, naming a file (not a folder). */
  private def isOpLibraryLocation(v: String): Boolean =
    !v.endsWith("/") && scala.util.Try(new java.net.URI(null, null, v, null)).isSuccess && (v.startsWith("/") || {
      val uri = scala.util.Try(new java.net.URI(v)).toOption
      uri.exists(u => u.getScheme != null && u.getScheme.length > 1 && u.getPath != null && u.getPath.startsWith("/"))
    })

  /**
   * Checks every `spark.tfpredict.*` key of the application's configuration: each must be a known
   * key with a valid value. Called whenever a model is shipped, so every entry point (SQL, the
   * DataFrame API, the Transformer, BatchScore, RDDs) checks the start-up configuration.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG for an unknown key (naming the closest
   *   known one) or a malformed value
   */
  def validate(app: SparkConf): Unit = check(app.getAll.toSeq, None)

  /**
   * [[validate]] for `spark`'s session configuration, which holds the start-up keys and every
   * runtime `SET`: also refuses a runtime change of a key fixed at start
   * ([[ConfScope.Application]]), which would otherwise have no effect. Called at each use of
   * tfspark in a session (`tfpredict`'s analysis, the DataFrame API and the Transformer).
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  def validate(spark: SparkSession): Unit =
    check(spark.conf.getAll.toSeq, Some(spark.sparkContext.getConf))

  private def check(settings: Seq[(String, String)], app: Option[SparkConf]): Unit =
    settings.iterator.filter(_._1.startsWith(Prefix)).toSeq.sortBy(_._1).foreach { case (key, value) =>
      val entry = byKey.getOrElse(key, throw unknownKey(key, value))
      entry.parse(value)
      app.filter(_ => entry.scope == Application).foreach { conf =>
        val atStart = conf.getOption(key)
        if (!atStart.contains(value)) {
          throw TFSparkErrors.invalidConfig(
            key,
            s"'$value' in this session but ${atStart.fold("unset")(v => s"'$v'")} in the application",
            s"the value the application started with: it is read when a model loads, on the driver and every executor, so set " +
              s"it at start (spark-submit --conf $key=$value, or the session builder's config)"
          )
        }
      }
    }

  private def unknownKey(key: String, value: String) = {
    val closest = Entries.map(_.key).minBy(known => editDistance(known.toLowerCase, key.toLowerCase))
    TFSparkErrors.invalidConfig(
      key,
      s"set to '$value', but it is not a tfspark setting",
      s"one of tfspark's settings: did you mean $closest? (known: ${Entries.map(_.key.stripPrefix(Prefix)).mkString(", ")})"
    )
  }

  /** Levenshtein distance: how many single-character edits turn `a` into `b`. */
  private[conf] def editDistance(a: String, b: String): Int = {
    val row = Array.tabulate(b.length + 1)(identity)
    a.indices.foreach { i =>
      var diagonal = row(0)
      row(0) = i + 1
      b.indices.foreach { j =>
        val above = row(j + 1)
        row(j + 1) = math.min(math.min(row(j) + 1, above + 1), diagonal + (if (a(i) == b(j)) 0 else 1))
        diagonal = above
      }
    }
    row(b.length)
  }
}
