package tfspark.jobs

import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.functions.{array, col}
import org.apache.spark.sql.types.NumericType

import tfspark.errors.TFSparkErrors
import tfspark.model.SignatureSpec

/**
 * `--features`: a single-input signature whose input no column is named after takes an array of
 * the feature columns (`--features`, or every numeric column), assembled into a column named like
 * the input.
 */
private[jobs] object FeatureAssembly {

  /**
   * The input key and the columns to assemble into it, or None when the input is fed as it is.
   *
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT for `--features` with a signature of
   *   several inputs
   */
  def columns(
      input: DataFrame,
      spec: SignatureSpec,
      name: String,
      signature: String,
      options: BatchScoreOptions
  ): Option[(String, Seq[String])] = {
    val single = spec.inputs.map(_.key) match { case Seq(k) => Some(k); case _ => None }
    (options.features, single) match {
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
  }

  /**
   * `input` with the `assembled` column added ([[columns]]), or `input` itself.
   *
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT when there are no feature columns
   *   (`what`: "feature columns") or one is not an input column
   */
  def assemble(input: DataFrame, assembled: Option[(String, Seq[String])]): DataFrame =
    assembled.fold(input) { case (key, cols) =>
      if (cols.isEmpty) throw TFSparkErrors.invalidArgument("feature columns", "none", "--features or numeric input columns")
      cols.filterNot(input.columns.contains).foreach { c =>
        throw TFSparkErrors.invalidArgument("feature column", s"'$c'", s"one of the input's columns: ${input.columns.mkString(", ")}")
      }
      input.withColumn(key, array(cols.map(col): _*))
    }
}
