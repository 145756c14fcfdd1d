package tfspark.tensor

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{SpecializedGetters, UnsafeArrayData}
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.Platform
import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.{TFloat32, TFloat64}

import tfspark.model.{NumericValues, TFDType, TensorSpec, TensorTypes}

/** float32 inputs buffer floats, float64 inputs doubles; float and double arrays are copied in bulk. */
private[tensor] final class FloatingFeeder(model: String, spec: TensorSpec, sparkType: DataType, fill: Boolean, double: Boolean)
    extends InputFeeder(model, spec, sparkType, fill) {
  private val read = NumericFeeders.readDouble(leafType)
  private var floats = if (double) Array.emptyFloatArray else new Array[Float](1024)
  private var doubles = if (double) new Array[Double](1024) else Array.emptyDoubleArray
  private var count = 0
  private def ensure(extra: Int): Unit = {
    val capacity = if (double) doubles.length else floats.length
    if (count + extra > capacity) {
      val grown = math.max(capacity * 2, count + extra)
      if (double) doubles = java.util.Arrays.copyOf(doubles, grown) else floats = java.util.Arrays.copyOf(floats, grown)
    }
  }
  private def put(v: Double): Unit = {
    ensure(1)
    if (double) doubles(count) = v else floats(count) = v.toFloat
    count += 1
  }
  override protected def putLeaves(array: ArrayData, n: Int): Unit = (leafType, double) match {
    case (FloatType, false) =>
      ensure(n)
      array match {
        case u: UnsafeArrayData => // straight from the row's bytes into the batch buffer (what toFloatArray copies)
          val from = u.getBaseOffset + UnsafeArrayData.calculateHeaderPortionInBytes(n)
          Platform.copyMemory(u.getBaseObject, from, floats, Platform.FLOAT_ARRAY_OFFSET + 4L * count, 4L * n)
        case _ => System.arraycopy(array.toFloatArray(), 0, floats, count, n)
      }
      count += n
    case (DoubleType, true) =>
      ensure(n)
      System.arraycopy(array.toDoubleArray(), 0, doubles, count, n)
      count += n
    case _ => super.putLeaves(array, n)
  }
  override protected def putFloats(values: Array[Float]): Unit =
    if (double) { ensure(values.length); values.foreach(v => { doubles(count) = v.toDouble; count += 1 }) }
    else { ensure(values.length); System.arraycopy(values, 0, floats, count, values.length); count += values.length }
  override protected def canFill = true
  override protected def putFill(): Unit = put(Double.NaN)
  override protected def putBoxed(value: Any): Unit = value match {
    case d: Decimal => put(d.toDouble)
    case n => put(n.asInstanceOf[Number].doubleValue())
  }
  override protected def putLeaf(array: SpecializedGetters, ordinal: Int): Unit = put(read(array, ordinal))
  override protected def putField(struct: InternalRow, ordinal: Int): Unit = put(read(struct, ordinal))
  override protected def clearValues(): Unit = count = 0
  override protected def truncateValues(n: Int): Unit = count = n
  override protected def build(shape: Shape, offset: Int, length: Int): Tensor =
    if (double) TFloat64.tensorOf(shape, DataBuffers.of(doubles, true, false).slice(offset.toLong, length.toLong))
    else TFloat32.tensorOf(shape, DataBuffers.of(floats, true, false).slice(offset.toLong, length.toLong))
}

/**
 * Buffers fixed-width elements as TF lays them out (host byte order) in one byte array, and
 * builds tensors from its bytes ([[TensorTypes.fromBytes]]): integer and half-precision inputs.
 */
private[tensor] abstract class FixedWidthFeeder(model: String, spec: TensorSpec, sparkType: DataType, fill: Boolean)
    extends InputFeeder(model, spec, sparkType, fill) {
  protected val width: Int = TensorTypes.byteWidth(spec.dtype)
  protected var bytes = new Array[Byte](1024 * width)
  protected var count = 0
  protected final def ensure(extra: Int): Unit = {
    val needed = (count.toLong + extra) * width
    if (needed > bytes.length) bytes = java.util.Arrays.copyOf(bytes, math.max(bytes.length.toLong * 2, needed).min(Int.MaxValue).toInt)
  }

  /** Writes `bits`' low `width` bytes as the next element (room ensured). */
  protected final def write(bits: Long): Unit = {
    val at = Platform.BYTE_ARRAY_OFFSET + count.toLong * width
    width match {
      case 1 => Platform.putByte(bytes, at, bits.toByte)
      case 2 => Platform.putShort(bytes, at, bits.toShort)
      case 4 => Platform.putInt(bytes, at, bits.toInt)
      case _ => Platform.putLong(bytes, at, bits)
    }
    count += 1
  }
  override protected def clearValues(): Unit = count = 0
  override protected def truncateValues(n: Int): Unit = count = n
  override protected def build(shape: Shape, offset: Int, length: Int): Tensor =
    TensorTypes.fromBytes(spec.dtype, shape, bytes, offset * width, length * width)
}

/**
 * Integer inputs (int8/16/32/64, uint8/16/32/64) from tinyint, smallint, int, bigint and
 * decimal(p,0) values, each checked against the dtype's range unless the Spark type always fits
 * (uint64 takes bigint values from 0, and decimals up to 2^64 - 1); uint8 also from raw bytes.
 */
private[tensor] final class IntegralFeeder(model: String, spec: TensorSpec, sparkType: DataType, fill: Boolean)
    extends FixedWidthFeeder(model, spec, sparkType, fill) {
  private val decimal: DecimalType = leafType match { case d: DecimalType => d; case _ => null }
  private val read = if (InputTypes.isIntegral(leafType)) NumericFeeders.readLong(leafType) else null
  private val (min, max) = NumericValues.longRange(spec.dtype)
  private val (minDecimal, maxDecimal) = {
    val (lo, hi) = NumericValues.integerRange(spec.dtype)
    (new java.math.BigDecimal(lo.bigInteger), new java.math.BigDecimal(hi.bigInteger))
  }

  /** Whether every value of the Spark type fits the dtype (no check needed). */
  private val fits = (leafType, spec.dtype) match {
    case (ByteType, TFDType.Int8 | TFDType.Int16 | TFDType.Int32 | TFDType.Int64) => true
    case (ShortType, TFDType.Int16 | TFDType.Int32 | TFDType.Int64) => true
    case (IntegerType, TFDType.Int32 | TFDType.Int64) => true
    case (LongType, TFDType.Int64) => true
    case _ => false
  }
  private def put(v: Long): Unit = {
    if (!fits && (v < min || v > max)) throw new InputFeeder.OutOfRange(v.toString, count)
    ensure(1)
    write(v)
  }
  private def putDecimal(d: Decimal): Unit = {
    val v = d.toJavaBigDecimal
    if (v.signum() != 0 && (v.compareTo(minDecimal) < 0 || v.compareTo(maxDecimal) > 0))
      throw new InputFeeder.OutOfRange(v.toPlainString, count)
    ensure(1)
    write(v.longValue()) // the low 64 bits: uint64 values above 2^63 - 1 keep their bits
  }
  override protected def canFill = false
  override protected def putFill(): Unit = ()
  override protected def putBoxed(value: Any): Unit = value match {
    case d: Decimal => putDecimal(d)
    case n => put(n.asInstanceOf[Number].longValue())
  }
  override protected def putLeaf(array: SpecializedGetters, ordinal: Int): Unit =
    if (decimal != null) putDecimal(array.getDecimal(ordinal, decimal.precision, decimal.scale)) else put(read(array, ordinal))
  override protected def putField(struct: InternalRow, ordinal: Int): Unit = putLeaf(struct, ordinal)
  override protected def putRawBytes(base: AnyRef, offset: Long, n: Int): Unit = {
    ensure(n)
    Platform.copyMemory(base, offset, bytes, Platform.BYTE_ARRAY_OFFSET + count.toLong, n.toLong)
    count += n
  }
}

/**
 * float16 and bfloat16 inputs from float, double, decimal and integer values: each value
 * becomes a float32 as for a float32 input, then rounds to nearest even as TF's Cast does
 * ([[NumericValues.toHalf]]); a finite value that rounds to infinity is out of range.
 */
private[tensor] final class HalfFeeder(model: String, spec: TensorSpec, sparkType: DataType, fill: Boolean)
    extends FixedWidthFeeder(model, spec, sparkType, fill) {
  private val read = NumericFeeders.readDouble(leafType)
  private val dtype = spec.dtype
  private def put(v: Double): Unit = {
    val bits = NumericValues.toHalf(dtype, v.toFloat)
    if (NumericValues.overflows(dtype, v, bits))
      throw new InputFeeder.OutOfRange(if (leafType == FloatType) v.toFloat.toString else v.toString, count)
    ensure(1)
    write(bits.toLong)
  }
  override protected def putFloats(values: Array[Float]): Unit = values.foreach(v => put(v.toDouble))
  override protected def canFill = true
  override protected def putFill(): Unit = put(Double.NaN)
  override protected def putBoxed(value: Any): Unit = value match {
    case d: Decimal => put(d.toDouble)
    case n => put(n.asInstanceOf[Number].doubleValue())
  }
  override protected def putLeaf(array: SpecializedGetters, ordinal: Int): Unit = put(read(array, ordinal))
  override protected def putField(struct: InternalRow, ordinal: Int): Unit = put(read(struct, ordinal))
}

/** How the numeric feeders read one element of a Spark numeric type from rows and arrays, without boxing. */
private[tensor] object NumericFeeders {

  private[tensor] def readDouble(leaf: DataType): (SpecializedGetters, Int) => Double = leaf match {
    case FloatType => (g, i) => g.getFloat(i).toDouble
    case DoubleType => (g, i) => g.getDouble(i)
    case IntegerType => (g, i) => g.getInt(i).toDouble
    case LongType => (g, i) => g.getLong(i).toDouble
    case ShortType => (g, i) => g.getShort(i).toDouble
    case ByteType => (g, i) => g.getByte(i).toDouble
    case d: DecimalType => (g, i) => g.getDecimal(i, d.precision, d.scale).toDouble
    case other => throw new IllegalArgumentException(s"not numeric: $other")
  }

  private[tensor] def readLong(leaf: DataType): (SpecializedGetters, Int) => Long = leaf match {
    case IntegerType => (g, i) => g.getInt(i).toLong
    case LongType => (g, i) => g.getLong(i)
    case ShortType => (g, i) => g.getShort(i).toLong
    case ByteType => (g, i) => g.getByte(i).toLong
    case other => throw new IllegalArgumentException(s"not integral: $other")
  }
}
