package tfspark.sql

import scala.collection.mutable.ArrayBuffer

import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Attribute, AttributeSet, BindReferences, GenericInternalRow, JoinedRow, UnsafeProjection}
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan
import org.apache.spark.sql.execution.{SparkPlan, SparkStrategy, UnaryExecNode}
import org.apache.spark.sql.execution.metric.{SQLMetric, SQLMetrics}

import tfspark.conf.TFSparkConf
import tfspark.errors.TFSparkErrors
import tfspark.model.ModelCache
import tfspark.tensor.BatchRunner

/**
 * Runs `calls` over the child's rows in batches of `batchSize`: one `Session.run` per batch per
 * call, results joined back to their rows in order.
 *
 * Input rows are reused by the child operator, so each call's argument is copied into its batch
 * buffers as soon as the row is read, and the row itself is copied (`InternalRow.copy`) to be
 * joined with its results later. DO NOT use `iter.grouped`: it would keep references to reused
 * rows. Memory is bounded by one batch of rows and results.
 */
case class BatchEvalTFExec(calls: Seq[TFPredict], resultAttrs: Seq[Attribute], child: SparkPlan, batchSize: Int) extends UnaryExecNode {

  override def output: Seq[Attribute] = child.output ++ resultAttrs

  override def producedAttributes: AttributeSet = AttributeSet(resultAttrs)

  override lazy val metrics: Map[String, SQLMetric] = Map(
    "numOutputRows" -> SQLMetrics.createMetric(sparkContext, "number of output rows"),
    "numBatches" -> SQLMetrics.createMetric(sparkContext, "number of TF batches")
  )

  override protected def doExecute(): RDD[InternalRow] = {
    val numOutputRows = longMetric("numOutputRows")
    val numBatches = longMetric("numBatches")
    val childOutput = child.output
    val schema = output
    val capacity = batchSize
    val callsHere = calls
    child.execute().mapPartitionsWithIndex { (partitionIndex, rows) =>
      val arguments = callsHere.map(c => BindReferences.bindReference(c.argument, childOutput))
      val runners = callsHere.map(c => new BatchRunner(ModelCache.acquire(c.model), c.binding, capacity, c.nullPolicy.fillNulls))
      val project = UnsafeProjection.create(schema, schema)
      val joined = new JoinedRow
      new Iterator[InternalRow] {
        private val pending = ArrayBuffer.empty[InternalRow]
        private val slots = Array.fill(callsHere.size)(new Array[Int](capacity)) // -1: a null result
        private var results: Seq[Array[Any]] = Nil
        private var cursor = 0
        private var read = 0L

        override def hasNext: Boolean = cursor < pending.size || (rows.hasNext && { fill(); pending.nonEmpty })

        override def next(): InternalRow = {
          if (!hasNext) throw new NoSuchElementException
          val values = callsHere.indices.map(c => if (slots(c)(cursor) < 0) null else results(c)(slots(c)(cursor)))
          val out = project(joined(pending(cursor), new GenericInternalRow(values.toArray)))
          cursor += 1
          numOutputRows += 1
          out
        }

        private def fill(): Unit = {
          pending.clear()
          cursor = 0
          while (pending.size < capacity && rows.hasNext) {
            val row = rows.next()
            val index = read
            def label = s"row $index of partition $partitionIndex" // built only for an error message
            read += 1
            var c = 0
            while (c < callsHere.size) {
              val call = callsHere(c)
              val value = arguments(c).eval(row)
              val nullGivesNull = call.nullPolicy.nullGivesNull
              if (value == null || (nullGivesNull && runners(c).hasNullInput(value))) {
                if (!nullGivesNull) {
                  throw TFSparkErrors.nullInput(
                    call.model.name,
                    call.binding.inputKeys.mkString(", "),
                    s"a non-null ${call.argument.dataType.simpleString}",
                    label
                  )
                }
                slots(c)(pending.size) = -1
              } else {
                slots(c)(pending.size) = runners(c).size
                runners(c).add(value, label)
              }
              c += 1
            }
            pending += row.copy()
          }
          results = runners.map(r => if (r.isEmpty) Array.empty[Any] else { numBatches += 1; r.run() })
        }
      }
    }
  }

  override protected def withNewChildInternal(newChild: SparkPlan): BatchEvalTFExec = copy(child = newChild)

  override def simpleString(maxFields: Int): String =
    s"BatchEvalTF [${calls.map(c => s"${c.model.name}/${c.model.version}:${c.binding.signature}").mkString(", ")}] " +
      s"-> [${resultAttrs.mkString(", ")}], batchSize=$batchSize"
}

/** Plans [[BatchEvalTF]] as [[BatchEvalTFExec]] with the session's `spark.tfpredict.batchSize`. */
object BatchEvalTFStrategy extends SparkStrategy {
  override def apply(plan: LogicalPlan): Seq[SparkPlan] = plan match {
    case BatchEvalTF(calls, resultAttrs, child) => BatchEvalTFExec(calls, resultAttrs, planLater(child), TFSparkConf.batchSize()) :: Nil
    case _ => Nil
  }
}
