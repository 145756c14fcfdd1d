package tfspark.sql

import scala.collection.mutable

import org.apache.spark.sql.catalyst.expressions._
import org.apache.spark.sql.catalyst.plans.logical.{Filter, LogicalPlan, Project, Subquery}
import org.apache.spark.sql.catalyst.rules.Rule

/**
 * Moves `tfpredict` calls out of `Project` and `Filter` into a [[BatchEvalTF]] node below them, so
 * that they run batched (Spark's `ExtractPythonUDFs` does the same for Python UDFs).
 *
 * Only calls that run on every row are extracted: not those inside the branches of `CASE`, `IF`,
 * `COALESCE` (beyond their first input), the right side of `AND`/`OR`, or lambdas, which may skip
 * rows; not calls with non-deterministic arguments. Those stay row by row, which is correct. In a
 * `Filter`, conjuncts without calls stay below the new node, so rows they remove are never scored.
 * Nested calls are extracted innermost first; the optimizer's fixed point extracts the outer ones.
 * Equal calls share one evaluation. Idempotent. Off when `spark.tfpredict.batchedSql=false`.
 */
object ExtractTFPredict extends Rule[LogicalPlan] {

  val EnabledKey = "spark.tfpredict.batchedSql"

  override def apply(plan: LogicalPlan): LogicalPlan =
    if (!conf.getConfString(EnabledKey, "true").equalsIgnoreCase("true")) plan
    else
      plan match {
        case s: Subquery if s.correlated => plan
        case _ =>
          plan.transformUp {
            case p @ Project(list, child) if extractable(list).nonEmpty =>
              val (rewrite, node) = evaluateBelow(extractable(list), child)
              p.copy(projectList = list.map(rewrite(_).asInstanceOf[NamedExpression]), child = node)
            // Each top-level conjunct is looked at on its own: the others stay below, so the rows
            // they remove are never scored (a call on the right of a top-level AND is extracted).
            case f @ Filter(condition, child) if splitConjuncts(condition).exists(c => extractable(Seq(c)).nonEmpty) =>
              val (withCalls, plain) = splitConjuncts(condition).partition(c => extractable(Seq(c)).nonEmpty)
              val below = plain.reduceOption(And).map(Filter(_, child)).getOrElse(child)
              val (rewrite, node) = evaluateBelow(extractable(withCalls), below)
              Project(f.output, Filter(withCalls.map(rewrite).reduce(And), node))
          }
      }

  /** The calls of `expressions` that every row evaluates and that have no call in their argument. */
  private def extractable(expressions: Seq[Expression]): Seq[TFPredict] = {
    def collect(e: Expression): Seq[TFPredict] = e match {
      case call: TFPredict if call.argument.exists(_.isInstanceOf[TFPredict]) => collect(call.argument)
      case call: TFPredict => if (call.argument.deterministic) Seq(call) else Nil
      case c: ConditionalExpression => c.alwaysEvaluatedInputs.flatMap(collect)
      case And(left, _) => collect(left)
      case Or(left, _) => collect(left)
      case h: HigherOrderFunction => h.arguments.flatMap(collect)
      case _: LambdaFunction | _: SubqueryExpression => Nil
      case other => other.children.flatMap(collect)
    }
    val seen = mutable.LinkedHashMap.empty[Expression, TFPredict]
    expressions.flatMap(collect).foreach(c => seen.getOrElseUpdate(c.canonicalized, c))
    seen.values.toSeq
  }

  private def splitConjuncts(condition: Expression): Seq[Expression] = condition match {
    case And(left, right) => splitConjuncts(left) ++ splitConjuncts(right)
    case other => Seq(other)
  }

  /** A [[BatchEvalTF]] of `calls` over `child`, and a rewrite that replaces the calls by its results. */
  private def evaluateBelow(calls: Seq[TFPredict], child: LogicalPlan): (Expression => Expression, BatchEvalTF) = {
    val results = calls.zipWithIndex.map { case (c, i) => AttributeReference(s"tfpredict_${c.model.name}_$i", c.dataType, c.nullable)() }
    val byCall = calls.map(_.canonicalized).zip(results).toMap
    val rewrite = (e: Expression) => e.transformUp { case c: TFPredict if byCall.contains(c.canonicalized) => byCall(c.canonicalized) }
    (rewrite, BatchEvalTF(calls, results, child))
  }
}
