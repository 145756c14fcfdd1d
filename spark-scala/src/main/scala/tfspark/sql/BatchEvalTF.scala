package tfspark.sql

import org.apache.spark.sql.catalyst.expressions.{Attribute, AttributeSet}
import org.apache.spark.sql.catalyst.plans.logical.{LogicalPlan, UnaryNode}

/**
 * Evaluates `calls` for every row of `child` in batches and appends their results as
 * `resultAttrs` (the logical twin of Spark's `BatchEvalPython`). Created by [[ExtractTFPredict]];
 * planned as [[BatchEvalTFExec]].
 */
case class BatchEvalTF(calls: Seq[TFPredict], resultAttrs: Seq[Attribute], child: LogicalPlan) extends UnaryNode {

  override def output: Seq[Attribute] = child.output ++ resultAttrs

  override def producedAttributes: AttributeSet = AttributeSet(resultAttrs)

  override protected def withNewChildInternal(newChild: LogicalPlan): BatchEvalTF = copy(child = newChild)
}
