package tfspark.rdd

import tfspark.tensor.{FloatBatchRunner, FloatMatrixBatcher}

/**
 * Lazily turns a partition's rows into their predictions, `batchSize` rows per `Session.run`.
 *
 * At most one batch of inputs and one of outputs is held at a time: the partition is never
 * materialized (DO NOT `iter.toArray`). Each input row is copied into the batch buffer as soon as
 * it is read, so upstream iterators may reuse their arrays (which is also why this does not use
 * `iter.grouped`, which keeps references to the rows).
 *
 * @param label names the partition in error messages, e.g. "partition 3"
 */
final class BatchedPredictionIterator(input: Iterator[Array[Float]], runner: FloatBatchRunner, batchSize: Int, label: String)
    extends Iterator[Array[Float]] {

  private val batcher = new FloatMatrixBatcher(runner.binding, batchSize)
  private val outWidth = runner.binding.outputWidth
  private var outputs: Array[Float] = Array.emptyFloatArray
  private var produced = 0
  private var available = 0
  private var rowsRead = 0L

  override def hasNext: Boolean = produced < available || (input.hasNext && { fill(); available > 0 })

  override def next(): Array[Float] = {
    if (!hasNext) throw new NoSuchElementException("no more predictions")
    val row = java.util.Arrays.copyOfRange(outputs, produced * outWidth, (produced + 1) * outWidth)
    produced += 1
    row
  }

  private def fill(): Unit = {
    batcher.clear()
    while (!batcher.isFull && input.hasNext) {
      val index = rowsRead
      batcher.add(input.next(), s"row $index of $label")
      rowsRead += 1
    }
    outputs = runner.run(batcher)
    available = batcher.size
    produced = 0
  }
}
