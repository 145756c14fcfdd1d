package tfspark.tensor

import scala.util.Using

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.tensorflow.Tensor

import tfspark.errors.TFSparkErrors
import tfspark.model.SavedModelHandle

/**
 * Runs a [[SignatureBinding]] over batches: [[add]] copies one row's argument into every input's
 * buffer, [[run]] makes one `Session.run` for the batch and returns one result per row (Catalyst
 * internal values; a struct `InternalRow` when the signature has several outputs).
 *
 * Input tensors and the `Result` (which owns the outputs) are closed before [[run]] returns. Not
 * thread-safe: one per task.
 *
 * @param fillNulls null scalar inputs become NaN or "" (`spark.tfpredict.nullPolicy=fill`)
 */
final class BatchRunner(handle: SavedModelHandle, val binding: SignatureBinding, val capacity: Int, fillNulls: Boolean) {
  require(capacity > 0, s"batch capacity must be positive, got $capacity")

  private val feeders = binding.inputs.map { case (spec, t, _) => InputFeeder.create(binding.model, binding.signature, spec, t, fillNulls) }
  private val ordinals = binding.inputs.map(_._3).toArray
  private val types = binding.inputs.map(_._2).toArray
  private val decoders = binding.decoders
  private var rows = 0
  private var firstRow = ""

  def size: Int = rows
  def isFull: Boolean = rows == capacity
  def isEmpty: Boolean = rows == 0

  def clear(): Unit = { rows = 0; feeders.foreach(_.clear()) }

  /**
   * Whether a non-null argument has a null input field (a whole-row null is the caller's to check).
   */
  def hasNullInput(argument: Any): Boolean =
    ordinals.exists(_.exists(o => argument.asInstanceOf[InternalRow].isNullAt(o)))

  /**
   * Copies one row's argument (not null) into the batch.
   *
   * @throws tfspark.errors.TFSparkException NULL_INPUT, INPUT_SHAPE_MISMATCH naming `row`
   */
  def add(argument: Any, row: => String): Unit = {
    var i = 0
    while (i < feeders.length) {
      val value = ordinals(i) match {
        case None => argument
        case Some(ordinal) =>
          val struct = argument.asInstanceOf[InternalRow]
          if (struct.isNullAt(ordinal)) null else struct.get(ordinal, types(i))
      }
      if (value == null && !(fillNulls && InputFeeder.depthOf(types(i)) == 0)) {
        throw TFSparkErrors.nullInput(binding.model, feeders(i).spec.key, s"a ${types(i).simpleString} value", row)
      }
      feeders(i).add(value, row)
      i += 1
    }
    if (rows == 0) firstRow = row
    rows += 1
  }

  /**
   * One `Session.run` for the buffered rows; returns their results in order and clears the batch.
   *
   * @throws tfspark.errors.TFSparkException MODEL_EXECUTION_FAILED when TF rejects the batch
   */
  def run(): Array[Any] = {
    val n = rows
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
            throw TFSparkErrors.modelExecutionFailed(binding.model, n, s"starting at $firstRow", e)
        }
      clear()
      if (columns.size == 1) columns.head
      else Array.tabulate[Any](n)(r => new GenericInternalRow(columns.map(_(r)).toArray))
    } finally inputs.values.foreach(_.close())
  }
}
