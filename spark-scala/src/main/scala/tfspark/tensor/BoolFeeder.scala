package tfspark.tensor

import scala.collection.mutable.ArrayBuffer

import org.apache.spark.sql.catalyst.expressions.SpecializedGetters
import org.apache.spark.sql.types.DataType
import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.TBool

import tfspark.model.TensorSpec

/** bool inputs from boolean values. */
private[tensor] final class BoolFeeder(model: String, spec: TensorSpec, sparkType: DataType, fill: Boolean)
    extends InputFeeder(model, spec, sparkType, fill) {
  private val values = ArrayBuffer.empty[Boolean]
  override protected def canFill = false
  override protected def putFill(): Unit = ()
  override protected def putBoxed(value: Any): Unit = values += value.asInstanceOf[Boolean]
  override protected def putLeaf(array: SpecializedGetters, ordinal: Int): Unit = values += array.getBoolean(ordinal)
  override protected def clearValues(): Unit = values.clear()
  override protected def truncateValues(n: Int): Unit = values.dropRightInPlace(values.size - n)
  override protected def build(shape: Shape, offset: Int, length: Int): Tensor =
    TBool.tensorOf(shape, DataBuffers.of(values.slice(offset, offset + length).toArray, true, false))
}
