package tfspark.sql

import org.apache.spark.SparkContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{
  Attribute,
  AttributeSet,
  BindReferences,
  CreateNamedStruct,
  Expression,
  GenericInternalRow,
  JoinedRow,
  UnsafeProjection
}
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan
import org.apache.spark.sql.execution.{SparkPlan, SparkStrategy, UnaryExecNode}
import org.apache.spark.sql.execution.metric.{SQLMetric, SQLMetrics}

import tfspark.conf.{Precision, TFSparkConf}
import tfspark.model.ModelCache
import tfspark.tensor.{BatchLimits, BatchRunner, BatchingIterator, ValueText}

/**
 * Runs `calls` over the child's rows in batches of `batchSize`: one `Session.run` per batch per
 * call, results joined back to their rows in order, through tfspark's one batching loop
 * ([[BatchingIterator]]). Outputs the `passThrough` columns of the child, then the results.
 *
 * Input rows are reused by the child operator, so each call's argument is copied into its batch
 * buffers as soon as the row is read, and the row's *kept* columns are copied to be joined with
 * its results later: the pass-through columns, and the `rowLabel` (or `path`) columns that name
 * it. Columns that only the model reads are not kept. Memory is bounded by one batch of rows and results.
 *
 * Errors name a row by its content ([[RowLabel]], preferring the `rowLabel` columns); a row that
 * TF fails on whose label columns were not kept is named by its model inputs, read back from the
 * batch. A call under `spark.tfpredict.onError=null` isolates its bad rows instead of failing;
 * `numRowErrors` counts them.
 */
case class BatchEvalTFExec(
    calls: Seq[TFPredict],
    resultAttrs: Seq[Attribute],
    passThrough: Seq[Attribute],
    child: SparkPlan,
    batchSize: Int,
    rowLabel: Seq[String]
) extends UnaryExecNode {

  override def output: Seq[Attribute] = passThrough ++ resultAttrs

  override def producedAttributes: AttributeSet = AttributeSet(resultAttrs)

  override lazy val metrics: Map[String, SQLMetric] = BatchEvalTFExec.metricsOf(sparkContext)

  override protected def doExecute(): RDD[InternalRow] = {
    val numOutputRows = longMetric("numOutputRows")
    val numBatches = longMetric("numBatches")
    val numRowErrors = longMetric("numRowErrors")
    val childOutput = child.output
    val schema = output
    val capacity = batchSize
    val callsHere = calls
    val labelColumns = rowLabel
    val (kept, namedByInputs) = BatchEvalTFExec.keptColumns(childOutput, passThrough, labelColumns)
    child.execute().mapPartitions { rows =>
      val engineCalls = BatchEvalTFExec.engineCalls[InternalRow](callsHere, childOutput, capacity, row => row, namedByInputs)
      val label = BatchEvalTFExec.labeller(callsHere, childOutput, labelColumns)
      val keep: InternalRow => InternalRow =
        if (kept == childOutput) _.copy()
        else if (kept.isEmpty) _ => InternalRow.empty
        else { val narrow = UnsafeProjection.create(kept, childOutput); row => narrow(row).copy() }
      val project = UnsafeProjection.create(schema, kept ++ resultAttrs)
      val joined = new JoinedRow
      new BatchingIterator[InternalRow, InternalRow](
        rows,
        engineCalls,
        capacity,
        keep = keep,
        emit = (row, results) => { numOutputRows += 1; project(joined(row, new GenericInternalRow(results))) },
        label = (row, _) => label(row), // built only for an error message
        labelKept =
          if (kept == childOutput || namedByInputs) None
          else Some { val read = RowLabel.reading(kept, childOutput, labelColumns); (row, _) => read(row) },
        namedByInputs = namedByInputs,
        onBatch = () => numBatches += 1,
        onRowError = () => numRowErrors += 1
      )
    }
  }

  override protected def withNewChildInternal(newChild: SparkPlan): BatchEvalTFExec = copy(child = newChild)

  override def simpleString(maxFields: Int): String = BatchEvalTFExec.describe(calls, resultAttrs, batchSize)
}

object BatchEvalTFExec {

  /** The metrics of both execs ([[BatchEvalTFExec]], [[BatchEvalTFColumnarExec]]). */
  private[sql] def metricsOf(sc: SparkContext): Map[String, SQLMetric] = Map(
    "numOutputRows" -> SQLMetrics.createMetric(sc, "number of output rows"),
    "numBatches" -> SQLMetrics.createMetric(sc, "number of TF batches"),
    "numRowErrors" -> SQLMetrics.createMetric(sc, "number of rows with an isolated error")
  )

  /**
   * What `EXPLAIN` shows of either exec: `BatchEvalTF [model/version:signature] -> [results],
   * batchSize=n`, and for a call in bfloat16 its precision and the driver's measure of it
   * (`precision=bfloat16 (max |Δ| vs float32 prediction 3.9e-3 ...)`).
   */
  private[sql] def describe(calls: Seq[TFPredict], resultAttrs: Seq[Attribute], batchSize: Int): String =
    s"BatchEvalTF [${calls.map(c => s"${c.model.name}/${c.model.version}:${c.binding.signature}").mkString(", ")}] " +
      s"-> [${resultAttrs.mkString(", ")}], batchSize=$batchSize" +
      (if (calls.exists(_.onError.isolates)) ", onError=null" else "") +
      calls
        .filter(_.model.precision != Precision.Float32)
        .map(c => s", precision=${c.model.precision} for ${c.model.name} (${c.model.deviation.fold("not measured")(_.summary)})")
        .mkString

  /**
   * One task's engine calls, for items of type `T` that `row` shows as a row of the child (the
   * row itself, or a view of a columnar batch's row): each call's runner on its cached model,
   * and its argument read from that row. struct(*) and the DataFrame API's arguments are structs
   * of columns: the runner reads those fields straight from the row, and no struct is built.
   * With `namedByInputs` ([[keptColumns]]), the runners keep the text of the inputs TF fails on.
   */
  private[sql] def engineCalls[T](
      calls: Seq[TFPredict],
      childOutput: Seq[Attribute],
      capacity: Int,
      row: T => InternalRow,
      namedByInputs: Boolean
  ): IndexedSeq[BatchingIterator.Call[T]] =
    calls.map { c =>
      val columns = columnOrdinals(c.argument, childOutput)
      val argument = BindReferences.bindReference(c.argument, childOutput)
      BatchingIterator.Call[T](
        new BatchRunner(
          ModelCache.acquire(c.model),
          c.binding,
          capacity,
          c.nullPolicy.fillNulls,
          stopAtFirstFailure = !c.onError.isolates,
          fieldOrdinals = columns,
          describeFailedInputs = namedByInputs
        ),
        if (columns.isDefined) item => row(item) else item => argument.eval(row(item)),
        c.nullPolicy,
        s"a non-null ${c.argument.dataType.simpleString}",
        c.onError
      )
    }.toIndexedSeq

  /**
   * The columns of the child that either exec keeps with a row until its batch is emitted: the
   * `passThrough` ones, and those that name it ([[RowLabel.named]]: the `rowLabel` columns, or
   * `path`), in the child's order; and whether a row that TF fails on after its batch was read is
   * named by its model inputs instead, because the kept columns cannot name it as the row's label
   * would (the label reads the first columns of the child, and the query does not output them all).
   */
  private[sql] def keptColumns(
      childOutput: Seq[Attribute],
      passThrough: Seq[Attribute],
      rowLabel: Seq[String]
  ): (Seq[Attribute], Boolean) = {
    val named = RowLabel.named(childOutput, rowLabel).getOrElse(Nil)
    val kept = childOutput.filter(a => passThrough.exists(_.exprId == a.exprId) || named.exists(_.exprId == a.exprId))
    // A literal-only argument's rows have no columns: its label reads the argument, not a column.
    (kept, named.isEmpty && !childOutput.take(RowLabel.MaxColumns).forall(a => kept.exists(_.exprId == a.exprId)))
  }

  /** Names a row of the child in errors ([[RowLabel]]); for rows without columns, by the first call's argument. */
  private[sql] def labeller(calls: Seq[TFPredict], childOutput: Seq[Attribute], labelColumns: Seq[String]): InternalRow => String = {
    val firstArgument = BindReferences.bindReference(calls.head.argument, childOutput)
    RowLabel.of(childOutput, labelColumns, row => s"row ${ValueText.of(firstArgument.eval(row), firstArgument.dataType)}")
  }

  /** For a struct argument whose fields are all columns of `childOutput`: their ordinals there. */
  def columnOrdinals(argument: Expression, childOutput: Seq[Attribute]): Option[IndexedSeq[Int]] = argument match {
    case s: CreateNamedStruct if s.valExprs.forall(_.isInstanceOf[Attribute]) =>
      val ordinals = s.valExprs.map(a => childOutput.indexWhere(_.exprId == a.asInstanceOf[Attribute].exprId)).toIndexedSeq
      if (ordinals.forall(_ >= 0)) Some(ordinals) else None
    case _ => None
  }
}

/**
 * Plans [[BatchEvalTF]] as [[BatchEvalTFExec]] with the session's `spark.tfpredict.batchSize` and
 * `spark.tfpredict.rowLabel`, unless its calls carry their own (the DataFrame API, the Transformer
 * and BatchScore may).
 *
 * @throws tfspark.errors.TFSparkException INVALID_CONFIG for a batch size over a model's limit
 */
object BatchEvalTFStrategy extends SparkStrategy {
  override def apply(plan: LogicalPlan): Seq[SparkPlan] = plan match {
    case BatchEvalTF(calls, resultAttrs, passThrough, child, _) =>
      val batchSize = calls.flatMap(_.batchSize).headOption.getOrElse {
        val n = TFSparkConf.batchSize()
        calls.foreach(c => BatchLimits.check(n, Some(c.binding), TFSparkConf.BatchSize, isConfig = true))
        n
      }
      val rowLabel = calls.map(_.rowLabel).find(_.nonEmpty).getOrElse(TFSparkConf.rowLabel())
      BatchEvalTFExec(calls, resultAttrs, passThrough, planLater(child), batchSize, rowLabel) :: Nil
    case _ => Nil
  }
}
