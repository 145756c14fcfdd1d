package tfspark.tensor

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.unsafe.types.UTF8String

import tfspark.conf.{NullPolicy, OnError}
import tfspark.errors.{TFSparkErrors, TFSparkException}

/**
 * The one batching loop of tfspark: every entry point (the SQL operator, and through it the
 * DataFrame API, the Transformer and BatchScore; the RDD and driver paths) runs its rows through
 * it. It reads at most `capacity` items, feeds each item's argument of every call into that
 * call's [[BatchRunner]] as soon as the item is read, runs each call once for the batch, and then
 * hands out `emit(item, results)` in input order before reading further.
 *
 * Upstream iterators may reuse their items (Spark's rows are): arguments are copied into the
 * runners' buffers when read, and `keep` copies the item itself if it is emitted later. DO NOT
 * use `iter.grouped`, which would keep references to reused rows. Memory is bounded by one batch
 * of items and results; the partition is never materialized (DO NOT `iter.toArray`).
 *
 * Per call, a null argument (or, with [[NullPolicy.ReturnNull]], a null input field or element)
 * gives a null result under the `null` policy and NULL_INPUT otherwise. A row the call cannot
 * score (NULL_INPUT, INPUT_SHAPE_MISMATCH, TF failing on it: MODEL_EXECUTION_FAILED, found by
 * the runner's bisection, or a string output that is not UTF-8: OUTPUT_NOT_UTF8) fails the task under [[OnError.Fail]]; under [[OnError.ReturnNull]]
 * the call's result for that row is `struct(null, struct(errorClass, message))` and for the others
 * `struct(result, null)` ([[BatchingIterator.withError]]). Errors name rows by `label`, which
 * describes an item by its content. Not thread-safe: one per task.
 *
 * @param keep the copy of an item to hold until its batch is emitted (`_.copy()` for reused rows)
 * @param label names an item in error messages from its content and its index in the partition
 * @param labelKept names a kept item (what `keep` returned) when TF fails on its row after the
 *   batch was read; by default `label`, for callers whose kept items are the items
 * @param namedByInputs a row that TF fails on after the batch was read is named by its model
 *   inputs, read back from the batch ([[BatchRunner.failedInput]]): for callers that keep no
 *   columns that name it (only the ones they output)
 * @param onBatch called once per `Session.run` batch of a call (a metric)
 * @param onRowError called once per row and call whose error was isolated (a metric)
 */
final class BatchingIterator[T, R](
    input: Iterator[T],
    calls: IndexedSeq[BatchingIterator.Call[T]],
    capacity: Int,
    keep: T => T,
    emit: (T, Array[Any]) => R,
    label: (T, Long) => String,
    labelKept: Option[(T, Long) => String] = None,
    namedByInputs: Boolean = false,
    onBatch: () => Unit = () => (),
    onRowError: () => Unit = () => ()
) extends Iterator[R] {
  require(capacity > 0, s"batch capacity must be positive, got $capacity")

  private val pending = new Array[Any](capacity)
  private val indexes = new Array[Long](capacity)
  private val slots = Array.fill(calls.size)(new Array[Int](capacity)) // -1: a null result
  private val errors = calls.map(c => if (c.onError.isolates) new Array[TFSparkException](capacity) else null).toArray
  private val results = new Array[Array[Any]](calls.size)
  private val row = new Array[Any](calls.size)
  private var count = 0
  private var produced = 0
  private var read = 0L

  override def hasNext: Boolean = produced < count || (input.hasNext && { fill(); count > 0 })

  override def next(): R = {
    if (!hasNext) throw new NoSuchElementException("no more rows in this batch")
    var c = 0
    while (c < calls.size) {
      val slot = slots(c)(produced)
      val value = if (slot < 0) null else results(c)(slot)
      row(c) = if (errors(c) == null) value else BatchingIterator.withError(value, errors(c)(produced))
      c += 1
    }
    val item = pending(produced).asInstanceOf[T]
    pending(produced) = null
    produced += 1
    emit(item, row)
  }

  private def fill(): Unit = {
    count = 0
    produced = 0
    while (count < capacity && input.hasNext) {
      val item = input.next()
      val index = read
      read += 1
      var c = 0
      while (c < calls.size) {
        val call = calls(c)
        if (errors(c) != null) errors(c)(count) = null
        slots(c)(count) = -1
        try {
          val value = call.argument(item)
          val nullGivesNull = call.nullPolicy.nullGivesNull
          if (value == null || (nullGivesNull && call.runner.hasNullInput(value))) {
            if (!nullGivesNull) {
              throw TFSparkErrors.nullInput(
                call.runner.binding.model,
                call.runner.binding.inputKeys.mkString(", "),
                call.expected,
                label(item, index)
              )
            }
          } else {
            val position = call.runner.size
            call.runner.add(value, label(item, index))
            slots(c)(count) = position
          }
        } catch {
          case e: TFSparkException if errors(c) != null => errors(c)(count) = e; onRowError()
        }
        c += 1
      }
      pending(count) = keep(item)
      indexes(count) = index
      count += 1
    }
    var c = 0
    while (c < calls.size) {
      val runner = calls(c).runner
      results(c) = if (runner.isEmpty) Array.empty[Any] else { onBatch(); runner.run() }
      if (runner.failures.nonEmpty) failed(c, runner.failures)
      c += 1
    }
  }

  /** Names the batch rows that call `c`'s model failed on: the first one fails the task, unless the call isolates errors. */
  private def failed(c: Int, failures: Seq[(Int, Throwable)]): Unit = {
    val positions = failures.toMap
    var r = 0
    while (r < count) {
      val slot = slots(c)(r)
      if (slot >= 0) positions.get(slot).foreach { cause =>
        val runner = calls(c).runner
        val row =
          if (namedByInputs) runner.failedInput(slot) else labelKept.getOrElse(label)(pending(r).asInstanceOf[T], indexes(r))
        val e = OutputDecoder.rowError(runner.binding.model, row, cause)
        if (errors(c) == null) throw e
        errors(c)(r) = e
        onRowError()
      }
      r += 1
    }
  }
}

object BatchingIterator {

  /**
   * One model call of a batch.
   *
   * @param argument the call's argument for an item: a Catalyst value (a struct `InternalRow`, an
   *   `ArrayData`, ...) or a primitive array for single-input signatures; `null` for a null row
   * @param expected what a null row should have been, for NULL_INPUT ("a non-null array<float>")
   * @param onError whether a row's error fails the task or is returned beside a null result
   */
  final case class Call[T](
      runner: BatchRunner,
      argument: T => Any,
      nullPolicy: NullPolicy,
      expected: String,
      onError: OnError = OnError.Fail
  )

  /** A call's value under [[OnError.ReturnNull]]: `struct(result, struct(errorClass, message))`, error null when none. */
  def withError(result: Any, error: TFSparkException): InternalRow =
    new GenericInternalRow(
      Array[Any](
        result,
        if (error == null) null
        else
          new GenericInternalRow(
            Array[Any](UTF8String.fromString(error.errorClass), UTF8String.fromString(TFSparkErrors.rowErrorMessage(error)))
          )
      )
    )
}
