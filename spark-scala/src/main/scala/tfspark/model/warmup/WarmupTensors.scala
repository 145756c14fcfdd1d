package tfspark.model.warmup

import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.{TBool, TFloat32, TFloat64}

import tfspark.model.{NumericValues, StringTensors, TFDType, TensorTypes}

/**
 * Builds the warm-up's input tensors from plain arrays (row-major, `shape` without wildcards).
 * Only the warm-up uses it; Spark rows go through `tensor.InputFeeder`. Values convert as
 * [[NumericValues]] defines (integers range-checked, half types rounded as TF does); strings are
 * built by [[StringTensors]], as the feeders' are. The caller
 * owns and closes the returned tensor.
 */
private[warmup] object WarmupTensors {

  /**
   * @throws IllegalArgumentException for a dtype tfspark cannot feed, a value the dtype cannot hold,
   *   or a size that does not match the shape
   */
  def of(dtype: TFDType, shape: Array[Long], values: IndexedSeq[Any]): Tensor = {
    val s = Shape.of(shape: _*)
    require(s.size() == values.size.toLong, s"${values.size} values do not fill shape ${shape.mkString("[", ",", "]")}")
    def num(v: Any): Double = v match {
      case n: Number => n.doubleValue()
      case b: Boolean => if (b) 1.0 else 0.0
      case other => throw new IllegalArgumentException(s"not a number: $other")
    }
    dtype match {
      case TFDType.Float32 => TFloat32.tensorOf(s, DataBuffers.of(values.map(v => num(v).toFloat).toArray, true, false))
      case TFDType.Float64 => TFloat64.tensorOf(s, DataBuffers.of(values.map(num).toArray, true, false))
      case TFDType.Bool =>
        TBool.tensorOf(s, DataBuffers.of(values.map { case b: Boolean => b; case v => num(v) != 0 }.toArray, true, false))
      case TFDType.Float16 | TFDType.Bfloat16 =>
        val bytes = java.nio.ByteBuffer.allocate(2 * values.size).order(java.nio.ByteOrder.nativeOrder())
        values.foreach { v =>
          val source = num(v)
          val bits = NumericValues.toHalf(dtype, source.toFloat)
          require(!NumericValues.overflows(dtype, source, bits), s"$source is out of range for $dtype (${NumericValues.rangeText(dtype)})")
          bytes.putShort(bits)
        }
        TensorTypes.fromBytes(dtype, s, bytes.array(), 0, bytes.capacity())
      case d if TFDType.Integers.contains(d) =>
        val (lo, hi) = NumericValues.integerRange(d)
        val width = TensorTypes.byteWidth(d)
        val bytes = java.nio.ByteBuffer.allocate(width * values.size).order(java.nio.ByteOrder.nativeOrder())
        values.foreach { v =>
          val value: BigInt = v match {
            case b: BigInt => b
            case b: java.math.BigInteger => BigInt(b)
            case b: java.math.BigDecimal if b.stripTrailingZeros().scale() <= 0 => BigInt(b.toBigIntegerExact)
            case l @ (_: java.lang.Long | _: java.lang.Integer | _: java.lang.Short | _: java.lang.Byte) =>
              BigInt(l.asInstanceOf[Number].longValue())
            case b: Boolean => if (b) 1 else 0
            case n: Number if n.doubleValue() == math.rint(n.doubleValue()) && !n.doubleValue().isInfinite => BigInt(n.doubleValue().toLong)
            case other => throw new IllegalArgumentException(s"$other is not an integer ($d)")
          }
          require(value >= lo && value <= hi, s"$value is out of range for $d (${NumericValues.rangeText(d)})")
          width match {
            case 1 => bytes.put(value.toByte)
            case 2 => bytes.putShort(value.toShort)
            case 4 => bytes.putInt(value.toInt)
            case _ => bytes.putLong(value.toLong) // uint64 above 2^63 - 1: its low 64 bits
          }
        }
        TensorTypes.fromBytes(d, s, bytes.array(), 0, bytes.capacity())
      case TFDType.String =>
        val bytes = values.map {
          case b: Array[Byte] => b
          case other => String.valueOf(other).getBytes("UTF-8")
        }
        StringTensors.of(s, bytes.toArray, bytes.size)
      case other => throw new IllegalArgumentException(s"dtype $other cannot be fed")
    }
  }
}
