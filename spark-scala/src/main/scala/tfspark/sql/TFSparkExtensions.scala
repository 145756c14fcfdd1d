package tfspark.sql

import org.apache.spark.sql.SparkSessionExtensions

import tfspark.conf.TFSparkConf
import tfspark.errors.TaskErrorLogFilter

/**
 * Installs tfspark into every session built with
 * `spark.sql.extensions=tfspark.sql.TFSparkExtensions`: registers the `tfpredict` function, and
 * batches its calls: the optimizer rule [[ExtractTFPredict]] moves them into a [[BatchEvalTF]] node (whose unread
 * pass-through columns [[PruneTFPassThrough]] drops),
 * planned as [[BatchEvalTFExec]] (`EXPLAIN` shows `BatchEvalTF`), which the columnar rule
 * [[BatchEvalTFColumnarRule]] replaces by [[BatchEvalTFColumnarExec]] over a child that produces
 * columnar batches (`EXPLAIN` shows `BatchEvalTF [...], columnar`).
 */
class TFSparkExtensions extends (SparkSessionExtensions => Unit) {
  override def apply(extensions: SparkSessionExtensions): Unit = {
    TFSparkConf.register() // the repository becomes static before the session takes any statement
    TaskErrorLogFilter.install(once = TFSparkConf.taskErrorLogsOnce())
    extensions.injectFunction((TFPredictFunction.identifier, TFPredictFunction.info, TFPredictFunction.build _))
    extensions.injectOptimizerRule(_ => ExtractTFPredict)
    extensions.injectOptimizerRule(_ => PruneTFPassThrough)
    extensions.injectPlannerStrategy(_ => BatchEvalTFStrategy)
    extensions.injectColumnar(_ => BatchEvalTFColumnarRule)
  }
}
