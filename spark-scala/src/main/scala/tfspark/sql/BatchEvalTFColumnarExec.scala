package tfspark.sql

import org.apache.spark.TaskContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Attribute, AttributeSet}
import org.apache.spark.sql.execution.{SparkPlan, UnaryExecNode}
import org.apache.spark.sql.execution.metric.SQLMetric
import org.apache.spark.sql.execution.vectorized.OnHeapColumnVector
import org.apache.spark.sql.types._
import org.apache.spark.sql.vectorized.{ColumnVector, ColumnarBatch}

import tfspark.tensor.BatchingIterator

/**
 * [[BatchEvalTFExec]] on columnar batches: the same `calls` over a child that produces
 * `ColumnarBatch`es (a vectorized Parquet or ORC scan, an in-memory table), chosen at planning by
 * [[BatchEvalTFColumnarRule]] where [[BatchEvalTFColumnarExec.rowOnlyReason]] finds none.
 *
 * Each input batch goes through tfspark's one batching loop ([[BatchingIterator]], the runners,
 * null and error policies, bisection and row labels of the row exec, built by the same
 * [[BatchEvalTFExec.engineCalls]]): its items are the batch's row numbers, and the runners read
 * each call's argument columns through the batch's row view (`ColumnarBatch.getRow`, typed getters
 * on the column vectors: no `ColumnarToRow`, no `UnsafeRow`, no row copy). The results are
 * appended to one column vector per call ([[ResultColumns]]), and the output batch is the input
 * batch's own vectors of the `passThrough` columns followed by those: pass-through columns are
 * never copied. Spark puts
 * `ColumnarToRow` above this node where a row consumer needs rows.
 *
 * A `Session.run` batch never spans two input batches (the child reuses its vectors for the next
 * batch, and the output batch hands them on): with `batchSize` rows per run, an input batch of
 * `n` rows takes `ceil(n / batchSize)` runs, the last one smaller. Results are the row exec's,
 * except that TF may round a float differently in a batch of another size (docs/sql.md).
 *
 * The result vectors are allocated once per task, reset for each input batch, and closed when the
 * task completes; an output batch is valid until the next one is requested (Spark's contract).
 */
case class BatchEvalTFColumnarExec(
    calls: Seq[TFPredict],
    resultAttrs: Seq[Attribute],
    passThrough: Seq[Attribute],
    child: SparkPlan,
    batchSize: Int,
    rowLabel: Seq[String]
) extends UnaryExecNode {

  override def output: Seq[Attribute] = passThrough ++ resultAttrs

  override def producedAttributes: AttributeSet = AttributeSet(resultAttrs)

  override def supportsColumnar: Boolean = true

  override lazy val metrics: Map[String, SQLMetric] = BatchEvalTFExec.metricsOf(sparkContext)

  override protected def doExecute(): RDD[InternalRow] =
    throw new IllegalStateException(s"$nodeName produces columnar batches only: Spark's ColumnarToRow reads rows from it")

  override protected def doExecuteColumnar(): RDD[ColumnarBatch] = {
    val numOutputRows = longMetric("numOutputRows")
    val numBatches = longMetric("numBatches")
    val numRowErrors = longMetric("numRowErrors")
    val childOutput = child.output
    val capacity = batchSize
    val callsHere = calls
    val labelColumns = rowLabel
    val passed = passThrough.map(a => childOutput.indexWhere(_.exprId == a.exprId)).toArray
    val namedByInputs = BatchEvalTFExec.keptColumns(childOutput, passThrough, labelColumns)._2 // as the row exec names them
    child.executeColumnar().mapPartitions { batches =>
      var current: ColumnarBatch = null
      val view: Int => InternalRow = rowId => current.getRow(rowId) // one shared row, moved to rowId
      val engineCalls = BatchEvalTFExec.engineCalls[Int](callsHere, childOutput, capacity, view, namedByInputs)
      val label = BatchEvalTFExec.labeller(callsHere, childOutput, labelColumns)
      val types: Array[DataType] = callsHere.map(_.dataType).toArray
      val results = types.map(t => new OnHeapColumnVector(BatchEvalTFColumnarExec.InitialRows, t))
      Option(TaskContext.get()).foreach(_.addTaskCompletionListener[Unit](_ => results.foreach(_.close())))
      batches.map { batch =>
        current = batch
        val n = batch.numRows()
        results.foreach(_.reset())
        val rows = new BatchingIterator[Int, Unit](
          Iterator.range(0, n),
          engineCalls,
          capacity,
          keep = identity, // a row number: the batch's vectors stay as they are until it is emitted
          emit = (_, values) => {
            var c = 0
            while (c < values.length) { ResultColumns.append(results(c), types(c), values(c)); c += 1 }
          },
          label = (rowId, _) => label(view(rowId)), // built only for an error message
          namedByInputs = namedByInputs,
          onBatch = () => numBatches += 1,
          onRowError = () => numRowErrors += 1
        )
        while (rows.hasNext) rows.next()
        results.foreach { v =>
          if (v.getElementsAppended != n) throw new IllegalStateException(s"${v.getElementsAppended} results for a batch of $n rows")
        }
        numOutputRows += n
        val columns = new Array[ColumnVector](passed.length + results.length)
        var i = 0
        while (i < passed.length) { columns(i) = batch.column(passed(i)); i += 1 }
        System.arraycopy(results, 0, columns, passed.length, results.length)
        new ColumnarBatch(columns, n)
      }
    }
  }

  override protected def withNewChildInternal(newChild: SparkPlan): BatchEvalTFColumnarExec = copy(child = newChild)

  override def simpleString(maxFields: Int): String = BatchEvalTFExec.describe(calls, resultAttrs, batchSize) + ", columnar"
}

object BatchEvalTFColumnarExec {

  /** Rows the result vectors hold before they first grow. */
  private val InitialRows = 4096

  /**
   * Why `exec` runs on rows, or `None` when it can run on its child's columnar batches: the child
   * produces them, every call's argument is a column of the child or a struct of its columns,
   * every input is fed from a boolean, integer, float, string or binary column or an array of them
   * (not decimals, not a ragged input), every column of the child is of a type that a row label
   * can read from the batch ([[viewable]]: not a user-defined type such as ML's vectors),
   * and every result type can be written to a column vector ([[ResultColumns.supports]]).
   */
  def rowOnlyReason(exec: BatchEvalTFExec): Option[String] = {
    val childOutput = exec.child.output
    def isColumn(e: org.apache.spark.sql.catalyst.expressions.Expression) = e match {
      case a: Attribute => childOutput.exists(_.exprId == a.exprId)
      case _ => false
    }
    if (!exec.child.supportsColumnar) Some(s"its child ${exec.child.nodeName} produces rows")
    else if (!childOutput.forall(a => viewable(a.dataType)))
      childOutput
        .find(a => !viewable(a.dataType))
        .map(a => s"column ${a.name} is ${a.dataType.simpleString}, which error labels cannot read from a batch's row view")
    else
      exec.calls.iterator
        .map { c =>
          if (!isColumn(c.argument) && BatchEvalTFExec.columnOrdinals(c.argument, childOutput).isEmpty)
            Some(s"the argument of ${c.model.name} is an expression, not columns: ${c.argument.sql}")
          else
            c.binding.inputs
              .collectFirst {
                case (spec, _, _) if spec.composite.isDefined => s"input ${spec.key} of ${c.model.name} is ${spec.composite.get.kind}"
                case (spec, t, _) if !readable(t) => s"input ${spec.key} of ${c.model.name} is fed from ${t.simpleString}"
              }
              .orElse {
                if (ResultColumns.supports(c.dataType)) None else Some(s"the result of ${c.model.name} is ${c.dataType.simpleString}")
              }
        }
        .collectFirst { case Some(reason) => reason }
  }

  /**
   * The column types whose values a columnar batch's row view (`ColumnarBatchRow.get`) returns,
   * for row labels, which may read any column of the child.
   */
  private def viewable(t: DataType): Boolean = t match {
    case BooleanType | ByteType | ShortType | IntegerType | LongType | FloatType | DoubleType => true
    case _: StringType | BinaryType | DateType | TimestampType | TimestampNTZType => true
    case _: DecimalType => true
    case ArrayType(e, _) => viewable(e)
    case s: StructType => s.fields.forall(f => viewable(f.dataType))
    case MapType(k, v, _) => viewable(k) && viewable(v)
    case _ => false
  }

  /** The Spark types a runner reads from a columnar batch's row view (its typed getters). */
  private def readable(t: DataType): Boolean = t match {
    case BooleanType | ByteType | ShortType | IntegerType | LongType | FloatType | DoubleType => true
    case _: StringType | BinaryType => true
    case ArrayType(e, _) => readable(e)
    case _ => false
  }
}
