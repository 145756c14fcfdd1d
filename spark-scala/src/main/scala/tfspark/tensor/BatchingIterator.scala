package tfspark.tensor

import tfspark.conf.NullPolicy
import tfspark.errors.TFSparkErrors

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
 * Per call, a null argument (or, with [[NullPolicy.ReturnNull]], a null input field) gives a null
 * result under the `null` policy and NULL_INPUT otherwise. Not thread-safe: one per task.
 *
 * @param keep the copy of an item to hold until its batch is emitted (`_.copy()` for reused rows)
 * @param label names an item in error messages, from its index in the partition
 * @param onBatch called once per `Session.run` batch of a call (a metric)
 */
final class BatchingIterator[T, R](
    input: Iterator[T],
    calls: IndexedSeq[BatchingIterator.Call[T]],
    capacity: Int,
    keep: T => T,
    emit: (T, Array[Any]) => R,
    label: Long => String,
    onBatch: () => Unit = () => ()
) extends Iterator[R] {
  require(capacity > 0, s"batch capacity must be positive, got $capacity")

  private val pending = new Array[Any](capacity)
  private val slots = Array.fill(calls.size)(new Array[Int](capacity)) // -1: a null result
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
      row(c) = if (slot < 0) null else results(c)(slot)
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
        val value = call.argument(item)
        val nullGivesNull = call.nullPolicy.nullGivesNull
        if (value == null || (nullGivesNull && call.runner.hasNullInput(value))) {
          if (!nullGivesNull) {
            throw TFSparkErrors.nullInput(
              call.runner.binding.model,
              call.runner.binding.inputKeys.mkString(", "),
              call.expected,
              label(index)
            )
          }
          slots(c)(count) = -1
        } else {
          slots(c)(count) = call.runner.size
          call.runner.add(value, label(index))
        }
        c += 1
      }
      pending(count) = keep(item)
      count += 1
    }
    var c = 0
    while (c < calls.size) {
      val runner = calls(c).runner
      results(c) = if (runner.isEmpty) Array.empty[Any] else { onBatch(); runner.run() }
      c += 1
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
   */
  final case class Call[T](runner: BatchRunner, argument: T => Any, nullPolicy: NullPolicy, expected: String)
}
