package tfspark.sql

import scala.collection.mutable

import org.apache.spark.sql.catalyst.expressions._
import org.apache.spark.sql.catalyst.expressions.aggregate.AggregateExpression
import org.apache.spark.sql.catalyst.plans.logical.{Aggregate, Filter, LogicalPlan, Project, Subquery}
import org.apache.spark.sql.catalyst.optimizer.{CollapseProject, ColumnPruning, RemoveNoopOperators}
import org.apache.spark.sql.catalyst.rules.Rule

import tfspark.conf.TFSparkConf

/**
 * Moves `tfpredict` calls out of `Project`, `Filter` and the aggregate functions of `Aggregate`
 * into a [[BatchEvalTF]] node below them, so that they run batched (Spark's `ExtractPythonUDFs`
 * does the same for Python UDFs).
 *
 * Only calls that run on every row are extracted: not those inside the branches of `CASE`, `IF`,
 * `COALESCE` (beyond their first input), the right side of `AND`/`OR`, lambdas, or an aggregate
 * function with a `FILTER` clause, which may skip rows; not calls with non-deterministic arguments. Those stay row by row, which is correct. In a
 * `Filter`, conjuncts without calls stay below the new node, so rows they remove are never scored.
 * Nested calls are extracted innermost first; the optimizer's fixed point extracts the outer ones.
 * Equal calls share one evaluation. Idempotent. Off when `spark.tfpredict.batchedSql=false`.
 */
object ExtractTFPredict extends Rule[LogicalPlan] {

  val EnabledKey: String = TFSparkConf.BatchedSql

  // The setting is read only for plans that call tfpredict: a malformed value must fail those
  // queries (INVALID_CONFIG), not every statement of the session, RESET and SET included.
  override def apply(plan: LogicalPlan): LogicalPlan =
    if (!plan.exists(_.expressions.exists(_.exists(_.isInstanceOf[TFPredict]))) || !TFSparkConf.batchedSql(conf)) plan
    else
      plan match {
        case s: Subquery if s.correlated => plan
        case _ =>
          plan.transformUp {
            case p @ Project(list, child) if extractable(list).nonEmpty =>
              // A call that a Filter just below already evaluates (WHERE and SELECT calling the
              // same model on the same argument) reuses that result: one run per row.
              val below = computedBelow(child)
              val reused = list.map(e => replaceCalls(e, below).asInstanceOf[NamedExpression])
              val exposed = expose(child, below.values.filter(a => reused.exists(_.references.contains(a))).toSeq)
              val fresh = extractable(reused)
              if (fresh.isEmpty) p.copy(projectList = reused, child = exposed)
              else {
                val (rewrite, node) = evaluateBelow(fresh, exposed)
                p.copy(projectList = reused.map(rewrite(_).asInstanceOf[NamedExpression]), child = node)
              }
            // Each top-level conjunct is looked at on its own: the others stay below, so the rows
            // they remove are never scored (a call on the right of a top-level AND is extracted).
            // The Filter keeps its output (a Union above needs it exact); a Project above that
            // calls the same model on the same argument exposes the result instead ([[expose]]).
            case f @ Filter(condition, child) if splitConjuncts(condition).exists(c => extractable(Seq(c)).nonEmpty) =>
              val (withCalls, plain) = splitConjuncts(condition).partition(c => extractable(Seq(c)).nonEmpty)
              val below = plain.reduceOption(And).map(Filter(_, child)).getOrElse(child)
              val (rewrite, node) = evaluateBelow(extractable(withCalls), below)
              Project(f.output, Filter(withCalls.map(rewrite).reduce(And), node))
            // An aggregate function's argument is evaluated on every input row, so its calls run
            // batched below the Aggregate (Spark already moves grouping keys into a Project below).
            case a: Aggregate if extractable(aggregatedPerRow(a)).nonEmpty =>
              val (rewrite, node) = evaluateBelow(extractable(aggregatedPerRow(a)), a.child)
              a.copy(aggregateExpressions = a.aggregateExpressions.map(rewrite(_).asInstanceOf[NamedExpression]), child = node)
          }
      }

  /**
   * The aggregate functions of `a` that see every input row: not those with a `FILTER (WHERE ...)`
   * clause, which skips rows that a call must not score (a bad row the clause leaves out).
   */
  private def aggregatedPerRow(a: Aggregate): Seq[Expression] =
    a.aggregateExpressions.flatMap(_.collect { case e: AggregateExpression if e.filter.isEmpty => e.aggregateFunction })

  /**
   * The results of calls that a [[BatchEvalTF]] evaluates below `plan`, by canonical call, when
   * only Filters and column-selecting Projects (the shape the Filter case leaves) are between.
   */
  private def computedBelow(plan: LogicalPlan): Map[Expression, Attribute] = plan match {
    case b: BatchEvalTF => b.calls.map(_.canonicalized).zip(b.resultAttrs).toMap
    case f: Filter => computedBelow(f.child)
    case p: Project if p.projectList.forall(_.isInstanceOf[Attribute]) => computedBelow(p.child)
    case _ => Map.empty
  }

  /** Adds `attributes` to the column-selecting Projects between `plan` and the [[BatchEvalTF]] below it. */
  private def expose(plan: LogicalPlan, attributes: Seq[Attribute]): LogicalPlan =
    if (attributes.isEmpty) plan
    else
      plan match {
        case p: Project if p.projectList.forall(_.isInstanceOf[Attribute]) =>
          p.copy(projectList = p.projectList ++ attributes.filterNot(p.outputSet.contains), child = expose(p.child, attributes))
        case f: Filter => f.copy(child = expose(f.child, attributes))
        case other => other
      }

  private def replaceCalls(e: Expression, computed: Map[Expression, Attribute]): Expression =
    if (computed.isEmpty) e else e.transformUp { case c: TFPredict if computed.contains(c.canonicalized) => computed(c.canonicalized) }

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
    val labels = labelColumns(calls, child)
    val exposed = expose(child, labels.filterNot(child.outputSet.contains))
    (rewrite, BatchEvalTF(calls, results, exposed.output, exposed, labels))
  }

  /**
   * The columns that name a row in errors ([[RowLabel]]): the calls' or the session's `rowLabel`
   * columns, else `path` (what `binaryFile` gives images), found in `child`'s output or below it
   * through column-selecting Projects and Filters: a query that scores `content` without selecting
   * `path` still names a bad image by its path.
   */
  private def labelColumns(calls: Seq[TFPredict], child: LogicalPlan): Seq[Attribute] = {
    val names = calls.map(_.rowLabel).find(_.nonEmpty).getOrElse(TFSparkConf.rowLabel(conf)) match {
      case Seq() => Seq("path")
      case configured => configured
    }
    def reachable(plan: LogicalPlan): Seq[Attribute] = plan match {
      case p: Project if p.projectList.forall(_.isInstanceOf[Attribute]) => p.output ++ reachable(p.child)
      case f: Filter => reachable(f.child)
      case other => other.output
    }
    val available = child.output ++ reachable(child)
    names.flatMap(n => available.find(_.name.equalsIgnoreCase(n))).distinct
  }
}

/**
 * [[ExtractTFPredict]] followed by [[PruneTFPassThrough]] and Spark's column pruning, for sessions where the rule is
 * installed at run time (`spark.experimental.extraOptimizations`, [[TFSparkSQL.install]]): that
 * batch runs after Spark's operator optimizations, so without this the scan under a new
 * [[BatchEvalTF]] would read every column.
 */
object ExtractTFPredictAndPrune extends Rule[LogicalPlan] {
  override def apply(plan: LogicalPlan): LogicalPlan = {
    val extracted = ExtractTFPredict(plan)
    if (extracted.fastEquals(plan)) plan
    else RemoveNoopOperators(CollapseProject(ColumnPruning(PruneTFPassThrough(ColumnPruning(extracted)))))
  }
}
