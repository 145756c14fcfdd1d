package tfspark.tensor

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData
import org.apache.spark.sql.catalyst.util.{ArrayData, GenericArrayData}
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String
import org.tensorflow.Tensor
import org.tensorflow.types.TString

import tfspark.errors.TFSparkErrors
import tfspark.model.{TFDType, TensorSpec}

/**
 * Turns one output tensor of a batch into one Spark value per row (Catalyst's internal form).
 *
 * The Spark type follows the output's dtype (float32 → float, int64 → bigint, string → string)
 * and per-row rank: `[-1]` gives a scalar, `[-1,k]` an array, `[-1,a,b]` an array of arrays. A
 * `[-1,1]` output gives a scalar unless `unitDimAsArray`. The rank must be known at analysis time.
 *
 * With `batched = false` (a signature whose inputs are all scalars, run once per row) the output
 * has no batch dimension: its whole shape is the row's, so `()` gives a scalar and `[k]` an array.
 */
final class OutputDecoder(model: String, signature: String, val spec: TensorSpec, unitDimAsArray: Boolean, batched: Boolean = true) {

  private val rowDims: Seq[Long] = spec.shape.map(s => if (batched) s.drop(1) else s).getOrElse {
    throw TFSparkErrors.unsupportedSignature(model, signature, s"output ${spec.key} has unknown rank", "outputs of known rank")
  }
  private val collapse = rowDims == Seq(1L) && !unitDimAsArray
  private val rank = if (collapse) 0 else rowDims.size

  private val leafType: DataType = spec.dtype match {
    case TFDType.Float32 => FloatType
    case TFDType.Float64 => DoubleType
    case TFDType.Int32 => IntegerType
    case TFDType.Int64 => LongType
    case TFDType.Bool => BooleanType
    case TFDType.String => StringType
    case other =>
      throw TFSparkErrors.unsupportedSignature(
        model,
        signature,
        s"output ${spec.key} is $other",
        "float32/64, int32/64, bool or string outputs"
      )
  }

  /** The Spark type of one row's value. */
  val sparkType: DataType = (0 until rank).foldLeft(leafType)((t, _) => ArrayType(t, containsNull = false))

  /** Decodes `tensor`, whose first dimension must be `rows`. The caller still owns the tensor. */
  def decode(tensor: Tensor, rows: Int): Array[Any] = {
    val dims = if (batched) tensor.shape().asArray() else 1L +: tensor.shape().asArray()
    if (dims.isEmpty || dims(0) != rows) {
      throw TFSparkErrors.modelExecutionFailed(
        model,
        s"a batch of $rows rows (output ${spec.key})",
        new IllegalStateException(s"the model returned shape ${tensor.shape()} for output ${spec.key} on a batch of $rows rows")
      )
    }
    val perRow = dims.tail.product.toInt
    val n = rows * perRow
    val data = tensor.asRawTensor().data()
    // Innermost rows become UnsafeArrayData straight from primitive slices: no boxing per element.
    val (scalar, innermost): (Int => Any, (Int, Int) => ArrayData) = spec.dtype match {
      case TFDType.Float32 =>
        val a = new Array[Float](n); data.asFloats().read(a)
        (a(_), (o, l) => UnsafeArrayData.fromPrimitiveArray(java.util.Arrays.copyOfRange(a, o, o + l)))
      case TFDType.Float64 =>
        val a = new Array[Double](n); data.asDoubles().read(a)
        (a(_), (o, l) => UnsafeArrayData.fromPrimitiveArray(java.util.Arrays.copyOfRange(a, o, o + l)))
      case TFDType.Int32 =>
        val a = new Array[Int](n); data.asInts().read(a)
        (a(_), (o, l) => UnsafeArrayData.fromPrimitiveArray(java.util.Arrays.copyOfRange(a, o, o + l)))
      case TFDType.Int64 =>
        val a = new Array[Long](n); data.asLongs().read(a)
        (a(_), (o, l) => UnsafeArrayData.fromPrimitiveArray(java.util.Arrays.copyOfRange(a, o, o + l)))
      case TFDType.Bool =>
        val a = new Array[Boolean](n); data.asBooleans().read(a)
        (a(_), (o, l) => UnsafeArrayData.fromPrimitiveArray(java.util.Arrays.copyOfRange(a, o, o + l)))
      case _ =>
        val a = tensor.asInstanceOf[TString].asBytes().scalars().asScala.map(s => UTF8String.fromBytes(s.getObject())).toArray[Any]
        (a(_), (o, l) => new GenericArrayData(java.util.Arrays.copyOfRange(a.asInstanceOf[Array[AnyRef]], o, o + l)))
    }
    val innerDims = if (collapse) Array.emptyLongArray else dims.tail
    Array.tabulate(rows)(r => nest(scalar, innermost, r * perRow, innerDims, 0))
  }

  private def nest(scalar: Int => Any, innermost: (Int, Int) => ArrayData, offset: Int, dims: Array[Long], level: Int): Any =
    if (level == dims.length) scalar(offset)
    else if (level == dims.length - 1) innermost(offset, dims(level).toInt)
    else {
      val stride = dims.drop(level + 1).product.toInt
      new GenericArrayData(Array.tabulate[Any](dims(level).toInt)(i => nest(scalar, innermost, offset + i * stride, dims, level + 1)))
    }
}

object OutputDecoder {

  /** Reads a decoded array value back into a float array (for the `RDD[Array[Float]]` API). */
  def toFloatArray(value: Any): Array[Float] = value match {
    case a: ArrayData => a.toFloatArray()
    case f: Float => Array(f)
    case other => throw new IllegalArgumentException(s"not a float output: $other")
  }
}
