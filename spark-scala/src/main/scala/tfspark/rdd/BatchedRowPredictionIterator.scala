package tfspark.rdd

import org.apache.spark.sql.Row

import tfspark.tensor.{FloatBatchRunner, FloatMatrixBatcher}

/**
 * Appends the model's prediction to each `Row` of a partition, `batchSize` rows per
 * `Session.run`. Holds one batch of rows at a time (never the partition). External `Row`s are
 * immutable, so keeping the batch's rows until their predictions are back is safe.
 *
 * @param features the indices of the feature columns, in the order the model expects them
 * @param label names the partition in error messages, e.g. "partition 3"
 */
final class BatchedRowPredictionIterator(
    input: Iterator[Row],
    features: Array[Int],
    runner: FloatBatchRunner,
    batchSize: Int,
    label: String
) extends Iterator[Row] {

  private val batcher = new FloatMatrixBatcher(runner.binding, batchSize)
  private val outWidth = runner.binding.outputWidth
  private val pending = new Array[Row](batchSize)
  private var outputs: Array[Float] = Array.emptyFloatArray
  private var produced = 0
  private var available = 0
  private var rowsRead = 0L

  override def hasNext: Boolean = produced < available || (input.hasNext && { fill(); available > 0 })

  override def next(): Row = {
    if (!hasNext) throw new NoSuchElementException("no more predictions")
    val prediction: Any =
      if (runner.binding.scalarOutput) outputs(produced)
      else java.util.Arrays.copyOfRange(outputs, produced * outWidth, (produced + 1) * outWidth).toSeq
    val row = Row.fromSeq(pending(produced).toSeq :+ prediction)
    pending(produced) = null
    produced += 1
    row
  }

  private def fill(): Unit = {
    batcher.clear()
    while (!batcher.isFull && input.hasNext) {
      val row = input.next()
      val index = rowsRead
      batcher.add(row, features, s"row $index of $label")
      pending(batcher.size - 1) = row
      rowsRead += 1
    }
    outputs = runner.run(batcher)
    available = batcher.size
    produced = 0
  }
}
