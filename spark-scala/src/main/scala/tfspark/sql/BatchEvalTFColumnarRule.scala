package tfspark.sql

import org.apache.spark.sql.catalyst.rules.Rule
import org.apache.spark.sql.execution.{ColumnarRule, SparkPlan}

import tfspark.conf.TFSparkConf

/**
 * Chooses between the row and the columnar exec of a batched call, at physical planning, where
 * the real child is known: Spark applies it before it inserts its row/columnar transitions
 * (`ApplyColumnarRulesAndInsertTransitions`, `preColumnarTransitions`), in every query, adaptive
 * stage and cached plan. A [[BatchEvalTFExec]] becomes a [[BatchEvalTFColumnarExec]] when
 * `spark.tfpredict.columnar.enabled` (default true) and [[BatchEvalTFColumnarExec.rowOnlyReason]]
 * finds no reason to stay on rows; in particular its child already produces columnar batches, so
 * Spark never inserts `RowToColumnar` under it (a columnar node's children must be columnar), only
 * `ColumnarToRow` above it where a row consumer reads it. Every other plan is left as it is.
 *
 * Installed by [[TFSparkExtensions]] (`spark.sql.extensions`). A session started without the
 * extension gets the row exec only: Spark fixes a session's columnar rules when it builds the
 * session state, and `spark.experimental` takes strategies and optimizer rules, not columnar rules
 * ([[TFSparkSQL.install]]).
 *
 * @throws tfspark.errors.TFSparkException INVALID_CONFIG for a malformed `spark.tfpredict.columnar.enabled`,
 *   in plans with a batched call only
 */
object BatchEvalTFColumnarRule extends ColumnarRule {

  override def preColumnarTransitions: Rule[SparkPlan] = ChooseColumnarExec

  /** The rule itself: `BatchEvalTFExec` over a columnar child becomes `BatchEvalTFColumnarExec`. */
  object ChooseColumnarExec extends Rule[SparkPlan] {
    override def apply(plan: SparkPlan): SparkPlan =
      if (!plan.exists(_.isInstanceOf[BatchEvalTFExec]) || !TFSparkConf.columnarEnabled(conf)) plan
      else
        plan.transformUp { // innermost first: a call over another call's columnar exec runs on its batches too
          case e: BatchEvalTFExec if BatchEvalTFColumnarExec.rowOnlyReason(e).isEmpty =>
            BatchEvalTFColumnarExec(e.calls, e.resultAttrs, e.passThrough, e.child, e.batchSize, e.rowLabel)
        }
  }
}
