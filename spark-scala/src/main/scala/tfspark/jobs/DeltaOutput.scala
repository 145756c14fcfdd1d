package tfspark.jobs

import java.nio.charset.StandardCharsets
import java.security.MessageDigest

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.apache.spark.sql.{DataFrame, SaveMode, SparkSession}

import tfspark.conf.Precision
import tfspark.errors.TFSparkErrors

/**
 * [[BatchScore]]'s Delta Lake output (`--output-format delta`): one Delta commit per run, whose
 * transaction log makes it atomic, so [[OutputCommit]]'s renames are not used.
 *
 * '''Modes.''' As for files, an existing table is refused unless the command line says what to do
 * with it: `--append` adds this run's rows in one commit, `--overwrite` replaces the table's rows in
 * one commit (earlier versions stay readable by time travel until VACUUM).
 *
 * '''A run is written once.''' Every write carries Delta's idempotent-write options, `txnAppId` =
 * `tfspark-batchscore-<run id>` and `txnVersion` = 1, and the commit's `userMetadata` names the same
 * id. A run whose id the table has already committed writes nothing and says so: BatchScore looks
 * for its commit in the table's history before scoring, and Delta itself skips a write whose
 * `(txnAppId, txnVersion)` its log already holds (a retry racing another, or a commit older than the
 * history kept). So a run killed after its commit and run again adds nothing twice, and one killed
 * before its commit left nothing in the table (files without a commit are not part of it).
 *
 * '''The run id''' is `--run-id`, or derived ([[derivedRunId]]) from what decides the rows written:
 * the model's content (SHA-256), the input's files (path, size, modification time; a Delta input's
 * data files, which name its version), the scoring options and the output. A second run of the same
 * job over the same files is the same run; over new files, or with another model, it is a new one.
 */
private[jobs] object DeltaOutput {

  /** The `txnVersion` of every run: each run has an `txnAppId` of its own, written once. */
  val TxnVersion = 1L

  def appId(runId: String): String = s"tfspark-batchscore-$runId"

  /** The commit's `userMetadata` (`DESCRIBE HISTORY` shows it): names the run. */
  def marker(runId: String): String = s"tfspark BatchScore run ${appId(runId)}"

  /**
   * What a Delta write did: the rows of its commit (and how many carry an error), the commit's
   * version, or why nothing was written (`skipped`).
   */
  final case class Result(rows: Long, failed: Long, version: Option[Long], skipped: Option[String])

  /**
   * Writes `scored` to `options.output` in one commit (or nothing, when this run's commit is there).
   *
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT for an existing table without
   *   `--append`/`--overwrite`, or a path that holds something other than a Delta table
   */
  def write(spark: SparkSession, options: BatchScoreOptions, scored: DataFrame, runId: String, phases: PhaseTimes): Result = {
    val target = DeltaTarget(options.output, options.outputTable)
    val mark = marker(runId)
    val checked: Either[Result, Option[Long]] = phases.time(BatchScore.Phase.DeltaCheck) {
      val table = DeltaTables.find(spark, target)
      table.flatMap(t => DeltaTables.commitOf(t, mark)) match {
        case Some((v, _)) =>
          Left(
            Result(
              0,
              0,
              Some(v),
              Some(s"$target already holds this run's commit (version $v, txnAppId ${appId(runId)}): ${Rerun(options)}")
            )
          )
        case None =>
          if (table.isDefined && !options.append && !options.overwrite) {
            throw TFSparkErrors.invalidArgument(
              if (target.isTable) "--output-table" else "--output",
              s"'${options.output}' (it exists)",
              "a new path or table, --append or --overwrite"
            )
          }
          if (table.isEmpty && !target.isTable) checkNoOtherData(options.output, spark.sparkContext.hadoopConfiguration)
          Right(table.map(DeltaTables.latestVersion))
      }
    }
    val before = checked match {
      case Left(done) => return done
      case Right(version) => version
    }
    if (scored.schema.isEmpty) { // no input files, --allow-empty: no columns to create a table with
      return Result(0, 0, None, Some(s"the input has no files (--allow-empty): nothing written to $target"))
    }
    val mode = if (options.overwrite) SaveMode.Overwrite else if (options.append) SaveMode.Append else SaveMode.ErrorIfExists
    phases.time(BatchScore.Phase.Scoring)(DeltaTables.write(scored, target, mode, appId(runId), TxnVersion, mark))
    phases.time(BatchScore.Phase.Check) {
      val table =
        DeltaTables.find(spark, target).getOrElse(throw new IllegalStateException(s"$target is not a Delta table after its write"))
      DeltaTables.commitOf(table, mark) match {
        case None =>
          val why = s"Delta skipped the write: $target had already committed txnAppId ${appId(runId)} (txnVersion $TxnVersion)"
          Result(0, 0, None, Some(s"$why: ${Rerun(options)}"))
        case Some((version, metrics)) =>
          // Delta's count of the rows its commit wrote; the table read at that version when the
          // metrics are off, or to count the rows that carry an error (--on-error null).
          val written = metrics.get("numOutputRows").flatMap(_.toLongOption)
          if (written.isDefined && !options.onError.isolates) Result(written.get, 0, Some(version), None)
          else {
            val location = DeltaTables.location(table)
            val errorColumn = if (options.onError.isolates) Some(options.errorCol) else None
            val (rows, failed) = DeltaTables.counts(spark, location, version, errorColumn)
            // An append's commit adds to the version before it, which is exactly the table it saw.
            val (rowsBefore, failedBefore) =
              if (mode == SaveMode.Append && before.isDefined && version > 0) DeltaTables.counts(spark, location, version - 1, errorColumn)
              else (0L, 0L)
            Result(rows - rowsBefore, failed - failedBefore, Some(version), None)
          }
      }
    }
  }

  private def Rerun(options: BatchScoreOptions): String =
    if (options.runId.isDefined) "nothing written; another --run-id writes again"
    else "nothing written (the same model, input files and options); --run-id ID writes again"

  /**
   * A path that is not a Delta table may hold only the data files of an interrupted first write
   * (`part-*.parquet`, no commit: not part of any table); anything else is someone's data.
   *
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT
   */
  private def checkNoOtherData(output: String, conf: Configuration): Unit = {
    val path = new Path(output)
    val fs = path.getFileSystem(conf)
    if (fs.exists(path)) {
      val names = if (fs.getFileStatus(path).isDirectory) fs.listStatus(path).map(_.getPath.getName).toSeq else Seq(path.getName)
      val other = names.filterNot(n => n.startsWith(".") || n == "_delta_log" || (n.startsWith("part-") && n.endsWith(".parquet")))
      if (other.nonEmpty || !fs.getFileStatus(path).isDirectory) {
        throw TFSparkErrors.invalidArgument(
          "--output",
          s"'$output' (it exists and is not a Delta table: ${other.sorted.take(3).mkString(", ")})",
          "a new path, or a Delta table's"
        )
      }
    }
  }

  /**
   * The run id of a run without `--run-id`: the first 32 hex digits of the SHA-256 of the model
   * (`name/version` and content hash), the input (format, where, and each file with its size and
   * modification time), the options that decide the rows written (the precision among them, unless float32), and the output.
   */
  def derivedRunId(options: BatchScoreOptions, model: String, modelSha256: String, inputFiles: Seq[String], conf: Configuration): String = {
    val files = inputFiles.sorted.map { f =>
      val path = new Path(f)
      val status = path.getFileSystem(conf).getFileStatus(path)
      s"$f ${status.getLen} ${status.getModificationTime}"
    }
    def where(name: String, isTable: Boolean) =
      if (isTable) s"table $name" else { val p = new Path(name); p.getFileSystem(conf).makeQualified(p).toString }
    val text = (Seq(
      "tfspark BatchScore run 1",
      s"model ${options.model} $model $modelSha256",
      s"input ${options.inputFormat} ${where(options.input, options.inputTable)} ${files.size} files"
    ) ++ files ++ Seq(
      s"features ${options.features.map(_.mkString(",")).getOrElse("")}",
      s"input-map ${options.inputMap.toSeq.sorted.mkString(",")}",
      s"drop ${options.drop.mkString(",")}",
      s"null-policy ${options.nullPolicy} on-error ${options.onError} id-col ${options.idCols.mkString(",")}",
      s"prediction-col ${options.predictionCol} binary-outputs ${options.binaryOutputs.mkString(",")}"
    ) ++
      // Only when not float32, so that float32 runs keep the identity they had before precisions existed.
      (if (options.precision == Precision.Float32) Nil else Seq(s"precision ${options.precision.name}")) ++
      Seq(s"output ${where(options.output, options.outputTable)}")).mkString("\n")
    MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)).map("%02x".format(_)).mkString.take(32)
  }
}
