package tfspark.sql

import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.catalyst.FunctionIdentifier

import tfspark.conf.TFSparkConf
import tfspark.errors.TaskErrorLogFilter

/**
 * tfspark in a session that was started without [[TFSparkExtensions]] (a plain pyspark or
 * spark-shell session): [[register]] adds the `tfpredict` function, [[install]] the batched
 * execution, so that nothing runs row by row unless asked (`spark.tfpredict.batchedSql=false`).
 */
object TFSparkSQL {
  private val builtinIdentifier =
    FunctionIdentifier(
      TFPredictFunction.Name,
      Some("builtin"),
      Some("system")
    ) // CatalogManager.{BUILTIN_NAMESPACE,SYSTEM_CATALOG_NAME} are private[sql]

  /**
   * Registers `tfpredict` as a built-in function of `spark`, as the extension does, and installs batching.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG for an unknown or malformed `spark.tfpredict.*` key
   */
  def register(spark: SparkSession): Unit = {
    TFSparkConf.register()
    TFSparkConf.validate(spark)
    classic(spark).sessionState.functionRegistry.registerFunction(builtinIdentifier, TFPredictFunction.info, TFPredictFunction.build _)
    install(spark)
  }

  /**
   * Installs the batching rule ([[ExtractTFPredictAndPrune]]) and planner strategy ([[BatchEvalTFStrategy]])
   * on `spark` through `spark.experimental`, unless the session already has them (from the
   * extension, or an earlier call). Idempotent and thread-safe. The DataFrame API, the
   * Transformer, BatchScore and pyspark's `register` call it at first use.
   *
   * It cannot install the columnar rule ([[BatchEvalTFColumnarRule]]): Spark fixes a session's
   * columnar rules when it builds the session state, and `spark.experimental` has no place for
   * them. Such a session runs every batched call on rows (same results); a session started with
   * `spark.sql.extensions=tfspark.sql.TFSparkExtensions` has the columnar exec.
   */
  def install(spark: SparkSession): Unit = {
    TFSparkConf.register()
    TaskErrorLogFilter.install(once = TFSparkConf.taskErrorLogsOnce())
    val session = classic(spark)
    if (!hasExtension(session)) session.synchronized {
      val experimental = session.experimental
      if (!experimental.extraOptimizations.contains(ExtractTFPredictAndPrune)) experimental.extraOptimizations :+= ExtractTFPredictAndPrune
      if (!experimental.extraStrategies.contains(BatchEvalTFStrategy)) experimental.extraStrategies :+= BatchEvalTFStrategy
    }
  }

  /** Whether `spark.sql.extensions` names [[TFSparkExtensions]] (then the rule is already injected). */
  private def hasExtension(spark: SparkSession): Boolean =
    namesExtension(spark.sparkContext.getConf.get("spark.sql.extensions", ""))

  private def namesExtension(extensions: String): Boolean =
    extensions.split(",").map(_.trim).contains(classOf[TFSparkExtensions].getName)

  /**
   * A `spark.sql.extensions` value that names [[TFSparkExtensions]]: `extensions` as it is when it
   * names it already, else with it appended. For a program that builds its own session
   * (BatchScore), so that the session gets the columnar rule, which [[install]] cannot add.
   */
  private[tfspark] def extensionsWithTFSpark(extensions: String): String =
    if (namesExtension(extensions)) extensions
    else (extensions.split(",").map(_.trim).filter(_.nonEmpty) :+ classOf[TFSparkExtensions].getName).mkString(",")

  private def classic(spark: SparkSession): org.apache.spark.sql.classic.SparkSession =
    spark.asInstanceOf[org.apache.spark.sql.classic.SparkSession]
}
