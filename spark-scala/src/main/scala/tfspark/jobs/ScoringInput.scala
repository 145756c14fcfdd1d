package tfspark.jobs

import org.apache.spark.sql.{AnalysisException, DataFrame, SparkSession}

import tfspark.errors.{TFSparkErrors, TFSparkException}

/**
 * [[BatchScore]]'s input and its empty-input policy: an input with no files, or with files but no
 * rows, is an error (INPUT_EMPTY) unless `--allow-empty` is given, when it writes an empty output.
 * A table (`--input-table`, or a Delta path) has its columns' types without rows: with none it
 * scores to an empty output.
 */
private[jobs] object ScoringInput {

  /**
   * The input; `None` when it has no files and `--allow-empty` is given.
   *
   * @throws tfspark.errors.TFSparkException INPUT_EMPTY for no files without `--allow-empty`
   */
  def read(spark: SparkSession, options: BatchScoreOptions): Option[DataFrame] = {
    // A table has a schema of its own, with or without rows: it is never "no files".
    if (options.inputTable) return Some(spark.read.table(options.input))
    if (options.inputFormat == DeltaSupport.Format) return Some(spark.read.format(DeltaSupport.Format).load(options.input))
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

  private def noFiles(options: BatchScoreOptions): Option[DataFrame] =
    if (options.allowEmpty) None
    else {
      val hint = if (options.recursive) "Check the path and the format." else "If the files are in subfolders, add --recursive."
      throw TFSparkErrors.inputEmpty(options.input, "no files", hint)
    }

  /**
   * The input has files but no rows, and its columns' types could not feed the model: with
   * `--allow-empty` it is written as it is (no rows).
   *
   * @throws tfspark.errors.TFSparkException INPUT_EMPTY without `--allow-empty`, with `cause`
   */
  def noRows(input: DataFrame, options: BatchScoreOptions, cause: TFSparkException): DataFrame =
    if (options.allowEmpty) input
    else {
      val hint = s"Without rows its columns' types cannot be inferred (${cause.errorClass}: ${cause.getMessage.linesIterator.next()})."
      throw TFSparkErrors.inputEmpty(options.input, "no rows", hint)
    }
}
