package tfspark.rdd

import tfspark.errors.TFSparkErrors
import tfspark.tensor.BatchRunner

/**
 * Lazily turns a partition's items into results, `runner.capacity` items per `Session.run`.
 *
 * At most one batch is held at a time: the partition is never materialized (DO NOT
 * `iter.toArray`). Each item's argument is copied into the runner's buffers as soon as it is read,
 * so upstream iterators may reuse their objects (which is also why this does not use
 * `iter.grouped`). Items themselves are kept until their batch is emitted, for `emit`.
 *
 * @param argument the Catalyst value that feeds the signature (a struct row or a single value);
 *   `null` for a null row
 * @param emit builds the output item from the input item and its result (`null` for null rows
 *   under [[nullGivesNull]])
 * @param nullGivesNull a null row, or a row with a null input field, gives a null result instead
 *   of failing with NULL_INPUT
 * @param label names the partition in error messages, e.g. "partition 3"
 */
final class BatchedPredictionIterator[T, R](
    input: Iterator[T],
    runner: BatchRunner,
    argument: T => Any,
    emit: (T, Any) => R,
    nullGivesNull: Boolean,
    label: String
) extends Iterator[R] {

  private val pending = new Array[Any](runner.capacity)
  private val resultIndex = new Array[Int](runner.capacity)
  private var results: Array[Any] = Array.empty
  private var count = 0
  private var produced = 0
  private var itemsRead = 0L

  override def hasNext: Boolean = produced < count || (input.hasNext && { fill(); count > 0 })

  override def next(): R = {
    if (!hasNext) throw new NoSuchElementException("no more predictions")
    val item = pending(produced).asInstanceOf[T]
    val result = if (resultIndex(produced) < 0) null else results(resultIndex(produced))
    pending(produced) = null
    produced += 1
    emit(item, result)
  }

  private def fill(): Unit = {
    count = 0
    produced = 0
    while (count < runner.capacity && input.hasNext) {
      val item = input.next()
      val index = itemsRead
      itemsRead += 1
      val arg = argument(item)
      pending(count) = item
      if (arg == null || (nullGivesNull && runner.hasNullInput(arg))) {
        if (!nullGivesNull) {
          throw TFSparkErrors.nullInput(
            runner.binding.model,
            runner.binding.inputKeys.mkString(", "),
            "a non-null row",
            s"row $index of $label"
          )
        }
        resultIndex(count) = -1
      } else {
        resultIndex(count) = runner.size
        runner.add(arg, s"row $index of $label")
      }
      count += 1
    }
    results = if (runner.isEmpty) Array.empty else runner.run()
  }
}
