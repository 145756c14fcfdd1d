package tfspark.model

import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.{TBool, TFloat32, TFloat64, TInt32, TInt64, TString}

/**
 * Builds the warm-up's input tensors from plain arrays (row-major, `shape` without wildcards).
 * Only the warm-up uses it; Spark rows go through `tensor.InputFeeder`. The caller owns and
 * closes the returned tensor.
 */
private[model] object WarmupTensors {

  /** @throws IllegalArgumentException for a dtype tfspark cannot feed, or a size that does not match the shape */
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
      case TFDType.Int32 => TInt32.tensorOf(s, DataBuffers.of(values.map(v => num(v).toInt).toArray, true, false))
      case TFDType.Int64 =>
        TInt64.tensorOf(s, DataBuffers.of(values.map { case l: Long => l; case v => num(v).toLong }.toArray, true, false))
      case TFDType.Bool =>
        TBool.tensorOf(s, DataBuffers.of(values.map { case b: Boolean => b; case v => num(v) != 0 }.toArray, true, false))
      case TFDType.String =>
        val bytes = values.map {
          case b: Array[Byte] => b
          case other => String.valueOf(other).getBytes("UTF-8")
        }
        TString.tensorOfBytes(s, DataBuffers.ofObjects(bytes: _*))
      case other => throw new IllegalArgumentException(s"dtype $other cannot be fed")
    }
  }
}
