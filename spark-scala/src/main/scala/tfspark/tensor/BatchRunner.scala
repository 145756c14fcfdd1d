package tfspark.tensor

import scala.collection.mutable.ArrayBuffer
import scala.util.Using

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.tensorflow.Tensor

import tfspark.errors.TFSparkErrors
import tfspark.model.SavedModelHandle

/**
 * Runs a [[SignatureBinding]] over batches: [[add]] copies one row's argument into every input's
 * buffer, [[run]] returns one result per added row, in order (Catalyst internal values; a struct
 * `InternalRow` when the signature has several outputs), and clears the batch.
 *
 * A batch is normally one `Session.run`. Scalar-shaped inputs (`()`) take one value per run, so
 * the runner cuts the batch into *segments* wherever such a value changes, running each closed
 * segment as soon as the next row needs a new one; a signature of scalar inputs only runs once
 * per row. Callers see none of this: [[run]] still returns every row's result in order.
 *
 * Input tensors and each `Result` (which owns the outputs) are closed before the segment's run
 * returns. Not thread-safe: one per task.
 *
 * @param fillNulls null scalar inputs become NaN or "" (`spark.tfpredict.nullPolicy=fill`)
 */
final class BatchRunner(handle: SavedModelHandle, val binding: SignatureBinding, val capacity: Int, fillNulls: Boolean) {
  require(capacity > 0, s"batch capacity must be positive, got $capacity")

  private val feeders = binding.inputs.map { case (spec, t, _) =>
    InputFeeder.create(binding.model, binding.signature, spec, t, fillNulls)
  }.toArray
  private val ordinals = binding.inputs.map(_._3).toArray
  private val types = binding.inputs.map(_._2).toArray
  private val unbatched = feeders.map(!_.batched)
  private val scalarTyped = types.map(InputFeeder.depthOf(_) == 0) // a null there can be filled
  private val anyUnbatched = unbatched.contains(true)
  private val perRow = binding.perRow
  private val decoders = binding.decoders
  private val values = new Array[Any](feeders.length) // one row's scalar-input values, reused
  private val nulls = new Array[Boolean](feeders.length)
  private val segmentScalars = new Array[Any](feeders.length) // the open segment's scalar inputs
  private val closedSegments = ArrayBuffer.empty[Seq[Array[Any]]] // decoded columns per closed segment
  private var rows = 0
  private var segmentRows = 0
  private var segmentFirstRow = ""

  def size: Int = rows
  def isFull: Boolean = rows == capacity
  def isEmpty: Boolean = rows == 0

  def clear(): Unit = {
    rows = 0
    segmentRows = 0
    closedSegments.clear()
    feeders.foreach(_.clear())
  }

  /**
   * Whether a non-null argument has a null input field (a whole-row null is the caller's to check).
   */
  def hasNullInput(argument: Any): Boolean =
    ordinals.exists(_.exists(o => argument.asInstanceOf[InternalRow].isNullAt(o)))

  /**
   * Copies one row's argument (not null) into the batch; runs the open segment first when this
   * row's scalar inputs differ from it.
   *
   * @throws tfspark.errors.TFSparkException NULL_INPUT, INPUT_SHAPE_MISMATCH naming `row`;
   *   MODEL_EXECUTION_FAILED when a segment run here fails
   */
  def add(argument: Any, row: => String): Unit = {
    // First the null checks and the scalar inputs (which may close the open segment), then the
    // batched inputs, read straight from the struct without boxing.
    var i = 0
    while (i < feeders.length) {
      val isNull = ordinals(i) match {
        case None => argument == null
        case Some(ordinal) => argument.asInstanceOf[InternalRow].isNullAt(ordinal)
      }
      if (isNull && !(fillNulls && scalarTyped(i))) {
        throw TFSparkErrors.nullInput(binding.model, feeders(i).spec.key, s"a ${types(i).simpleString} value", row)
      }
      nulls(i) = isNull
      if (unbatched(i)) values(i) = if (isNull) null else valueOf(argument, i)
      i += 1
    }
    if (segmentRows > 0 && (perRow || (anyUnbatched && scalarsChange()))) runSegment()
    i = 0
    while (i < feeders.length) {
      if (unbatched(i)) {
        if (segmentRows == 0) { feeders(i).add(values(i), row); segmentScalars(i) = BatchRunner.owned(values(i)) } // once per segment
        values(i) = null
      } else if (nulls(i)) feeders(i).add(null, row)
      else
        ordinals(i) match {
          case None => feeders(i).add(argument, row)
          case Some(ordinal) => feeders(i).addField(argument.asInstanceOf[InternalRow], ordinal, row)
        }
      i += 1
    }
    if (segmentRows == 0) segmentFirstRow = row
    segmentRows += 1
    rows += 1
  }

  private def valueOf(argument: Any, i: Int): Any = ordinals(i) match {
    case None => argument
    case Some(ordinal) => argument.asInstanceOf[InternalRow].get(ordinal, types(i))
  }

  private def scalarsChange(): Boolean = {
    var i = 0
    while (i < feeders.length) {
      if (unbatched(i) && !BatchRunner.sameValue(values(i), segmentScalars(i))) return true
      i += 1
    }
    false
  }

  /**
   * Runs what is buffered; returns the results of every row added since the last [[run]], in
   * order, and clears the batch.
   *
   * @throws tfspark.errors.TFSparkException MODEL_EXECUTION_FAILED when TF rejects a segment
   */
  def run(): Array[Any] = {
    if (segmentRows > 0) runSegment()
    val columns =
      if (closedSegments.size == 1) closedSegments.head
      else decoders.indices.map(c => closedSegments.iterator.flatMap(_(c)).toArray)
    val n = rows
    clear()
    if (columns.size == 1) columns.head
    else Array.tabulate[Any](n)(r => new GenericInternalRow(columns.map(_(r)).toArray))
  }

  /** One `Session.run` for the open segment; keeps its decoded columns. */
  private def runSegment(): Unit = {
    val n = segmentRows
    val inputs = scala.collection.mutable.LinkedHashMap.empty[String, Tensor]
    try {
      feeders.foreach(f => inputs(f.spec.key) = f.toTensor())
      val columns =
        try {
          Using.resource(handle.run(binding.signature, inputs.toMap)) { result =>
            decoders.map(d => d.decode(result.get(d.spec.key).orElseThrow(), n))
          }
        } catch {
          // TF Java's status exceptions share a package, not a base class (TFInvalidArgumentException
          // is an IllegalArgumentException, TFFailedPreconditionException an IllegalStateException).
          case e: RuntimeException if e.getClass.getName.startsWith("org.tensorflow.exceptions.") =>
            throw TFSparkErrors.modelExecutionFailed(binding.model, n, s"starting at $segmentFirstRow", e)
        }
      closedSegments += columns
      segmentRows = 0
      feeders.foreach(_.clear())
    } finally inputs.values.foreach(_.close())
  }
}

object BatchRunner {

  /**
   * A copy of a Catalyst value that outlives the row it came from: strings and arrays read from an
   * `UnsafeRow` point into the row's buffer, which the upstream operator reuses.
   */
  private[tensor] def owned(value: Any): Any = value match {
    case s: org.apache.spark.unsafe.types.UTF8String => s.clone()
    case a: org.apache.spark.sql.catalyst.util.ArrayData => a.copy()
    case b: Array[Byte] => b.clone()
    case other => other
  }

  /** Equality of two Catalyst input values (binary values by content). */
  private[tensor] def sameValue(a: Any, b: Any): Boolean = (a, b) match {
    case (x: Array[Byte], y: Array[Byte]) => java.util.Arrays.equals(x, y)
    case _ => a == b
  }
}
