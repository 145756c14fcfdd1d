package tfspark.sql

import org.apache.spark.sql.catalyst.expressions.{Attribute, AttributeSet}
import org.apache.spark.sql.catalyst.plans.logical.{LogicalPlan, UnaryNode}

/**
 * Evaluates `calls` for every row of `child` in batches and outputs the `passThrough` columns of
 * `child` followed by the calls' results as `resultAttrs` (the logical twin of Spark's
 * `BatchEvalPython`). Created by [[ExtractTFPredict]] with every column of `child` passed through;
 * [[PruneTFPassThrough]] then drops those the plan above does not read, so the exec neither keeps
 * nor writes them (a `features` array that only the model reads). Planned as [[BatchEvalTFExec]].
 *
 * `labels` are the columns that name a row in error messages ([[RowLabel]]: the `rowLabel`
 * columns, else `path`) when the query reads them but does not select them: they are references
 * of this node, so column pruning keeps them in `child`, and the Project above drops them.
 */
case class BatchEvalTF(
    calls: Seq[TFPredict],
    resultAttrs: Seq[Attribute],
    passThrough: Seq[Attribute],
    child: LogicalPlan,
    labels: Seq[Attribute] = Nil
) extends UnaryNode {

  override def output: Seq[Attribute] = passThrough ++ resultAttrs

  override def producedAttributes: AttributeSet = AttributeSet(resultAttrs)

  override protected def withNewChildInternal(newChild: LogicalPlan): BatchEvalTF = copy(child = newChild)
}
