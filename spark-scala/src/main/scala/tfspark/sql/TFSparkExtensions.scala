package tfspark.sql

import org.apache.spark.sql.{SparkSession, SparkSessionExtensions}
import org.apache.spark.sql.catalyst.FunctionIdentifier

import tfspark.conf.TFSparkConf

/**
 * Installs tfspark into every session built with
 * `spark.sql.extensions=tfspark.sql.TFSparkExtensions`: registers the `tfpredict` function, and
 * batches its calls: the optimizer rule [[ExtractTFPredict]] moves them into a [[BatchEvalTF]] node,
 * planned as [[BatchEvalTFExec]] (`EXPLAIN` shows `BatchEvalTF`).
 */
class TFSparkExtensions extends (SparkSessionExtensions => Unit) {
  override def apply(extensions: SparkSessionExtensions): Unit = {
    TFSparkConf.register() // the repository becomes static before the session takes any statement
    extensions.injectFunction((TFPredictFunction.identifier, TFPredictFunction.info, TFPredictFunction.build _))
    extensions.injectOptimizerRule(_ => ExtractTFPredict)
    extensions.injectPlannerStrategy(_ => BatchEvalTFStrategy)
  }
}

/**
 * Registers `tfpredict` in a session that was started without [[TFSparkExtensions]], the way
 * the extension does: as a built-in function of this session (`system.builtin.tfpredict`).
 */
object TFSparkSQL {
  private val builtinIdentifier =
    FunctionIdentifier(
      TFPredictFunction.Name,
      Some("builtin"),
      Some("system")
    ) // CatalogManager.{BUILTIN_NAMESPACE,SYSTEM_CATALOG_NAME} are private[sql]

  def register(spark: SparkSession): Unit = {
    TFSparkConf.register()
    spark
      .asInstanceOf[org.apache.spark.sql.classic.SparkSession]
      .sessionState
      .functionRegistry
      .registerFunction(builtinIdentifier, TFPredictFunction.info, TFPredictFunction.build _)
  }
}
