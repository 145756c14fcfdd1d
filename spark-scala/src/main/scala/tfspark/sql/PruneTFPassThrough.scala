package tfspark.sql

import org.apache.spark.sql.catalyst.expressions.AttributeSet
import org.apache.spark.sql.catalyst.plans.logical.{Filter, LogicalPlan, Project}
import org.apache.spark.sql.catalyst.rules.Rule

/**
 * Drops from a [[BatchEvalTF]]'s `passThrough` the columns that the `Project` above it (and a
 * `Filter` between them) does not read: `SELECT tfpredict('mlp', features)` keeps and writes no
 * copy of `features`, which only the model reads. Spark's column pruning puts such a `Project`
 * above the node wherever a parent reads fewer columns; this rule then puts one below it with
 * what the calls, the row labels and the remaining pass-through columns read, which Spark pushes
 * down to the scan. Idempotent.
 */
object PruneTFPassThrough extends Rule[LogicalPlan] {
  override def apply(plan: LogicalPlan): LogicalPlan =
    if (!plan.exists(_.isInstanceOf[BatchEvalTF])) plan
    else
      plan.transform {
        case p @ Project(_, b: BatchEvalTF) if unread(b, p.references).nonEmpty =>
          p.copy(child = pruned(b, p.references))
        case p @ Project(_, f @ Filter(_, b: BatchEvalTF)) if unread(b, p.references ++ f.references).nonEmpty =>
          p.copy(child = f.copy(child = pruned(b, p.references ++ f.references)))
      }

  private def unread(b: BatchEvalTF, read: AttributeSet) = b.passThrough.filterNot(read.contains)

  /**
   * `b` passing through only the columns in `read`, over a `Project` of what it still reads: Spark's
   * column pruning would drop the `Project` above `b` (now a no-op) before it prunes `b`'s child.
   */
  private def pruned(b: BatchEvalTF, read: AttributeSet): BatchEvalTF = {
    val narrow = b.copy(passThrough = b.passThrough.filter(read.contains))
    val needed = narrow.references
    if (b.child.outputSet.subsetOf(needed)) narrow else narrow.copy(child = Project(b.child.output.filter(needed.contains), b.child))
  }
}
