package tfspark.tensor

import org.apache.spark.sql.catalyst.expressions.SpecializedGetters
import org.apache.spark.sql.types.{BinaryType, DataType}
import org.apache.spark.unsafe.types.UTF8String
import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape

import tfspark.model.{StringTensors, TensorSpec}

/**
 * string inputs from string values (their UTF-8 bytes) and binary values (their bytes as they are),
 * built by [[StringTensors]] (also for a ragged input's string values, which `RaggedInputFeeder`
 * feeds through this feeder).
 */
private[tensor] final class StringFeeder(model: String, spec: TensorSpec, sparkType: DataType, fill: Boolean)
    extends InputFeeder(model, spec, sparkType, fill) {
  private val binary = leafType == BinaryType
  private var values = new Array[Array[Byte]](1024)
  private var count = 0
  private def put(v: Array[Byte]): Unit = {
    if (count == values.length) values = java.util.Arrays.copyOf(values, count * 2)
    values(count) = v
    count += 1
  }
  override protected def canFill = true
  override protected def putFill(): Unit = put(Array.emptyByteArray)
  override protected def putBoxed(value: Any): Unit = put(bytes(value))
  override protected def putLeaf(array: SpecializedGetters, ordinal: Int): Unit =
    put(if (binary) array.getBinary(ordinal) else array.getUTF8String(ordinal).getBytes)
  override protected def clearValues(): Unit = truncateValues(0)
  override protected def truncateValues(n: Int): Unit = {
    java.util.Arrays.fill(values.asInstanceOf[Array[AnyRef]], n, math.max(n, count), null)
    count = n
  }
  override protected def build(shape: Shape, offset: Int, length: Int): Tensor = StringTensors.of(shape, values, offset, length)
  private def bytes(value: Any): Array[Byte] = value match {
    case s: UTF8String => s.getBytes
    case b: Array[Byte] => b
    case other => other.toString.getBytes("UTF-8")
  }
}
