package tfspark.jobs

import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.functions.col
import org.apache.spark.sql.types.StructType

import tfspark.errors.TFSparkErrors
import tfspark.sql.DataFramePredictions

/** The columns [[BatchScore]] adds to its output, and how CSV, which has no structs, writes them. */
private[jobs] object OutputColumns {

  /** CSV has no structs: one column per field (`prediction_probability`, `prediction_error_message`). */
  def flattenStructs(df: DataFrame): DataFrame =
    df.select(df.schema.fields.toIndexedSeq.flatMap { f =>
      f.dataType match {
        case struct: StructType => struct.fieldNames.toIndexedSeq.map(n => col(s"`${f.name}`.`$n`").as(s"${f.name}_$n"))
        case _ => IndexedSeq(col(s"`${f.name}`"))
      }
    }: _*)

  /** The columns BatchScore adds, with the option that names each. */
  def added(options: BatchScoreOptions): Seq[(String, String)] =
    Seq("--prediction-col" -> options.predictionCol) ++ (if (options.onError.isolates) Seq("the error column" -> options.errorCol) else Nil)

  /**
   * The columns BatchScore adds must not clash with the input's that it keeps.
   *
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT
   */
  def check(input: DataFrame, options: BatchScoreOptions): Unit = {
    val kept = StructType(input.schema.fields.filterNot(f => options.drop.exists(_.equalsIgnoreCase(f.name))))
    DataFramePredictions.checkOutputColumns(
      kept,
      added(options),
      caseSensitive = false,
      clash => s"a new column name: --prediction-col NAME, or --drop $clash"
    )
    options.idCols.filterNot(c => input.columns.exists(_.equalsIgnoreCase(c))).foreach { c =>
      throw TFSparkErrors.invalidArgument("--id-col", s"'$c'", s"one of the input's columns: ${input.columns.mkString(", ")}")
    }
  }
}
