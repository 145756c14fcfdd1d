package tfspark.tensor

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData
import org.apache.spark.sql.catalyst.util.{ArrayData, GenericArrayData}
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String
import org.tensorflow.Tensor
import org.tensorflow.types.TString

import tfspark.errors.TFSparkErrors
import tfspark.model.{NumericValues, TFDType, TensorSpec, TensorTypes}

/**
 * Turns one output tensor of a batch into one Spark value per row (Catalyst's internal form).
 *
 * The Spark type follows the output's dtype, from the one dtype table ([[SparkTypes.of]],
 * docs/dtypes.md: widened exactly where Spark has no such type; a string output is string, or
 * binary when `binary`), and per-row rank: `[-1]` gives a scalar, `[-1,k]` an array, `[-1,a,b]` an array of arrays. A
 * `[-1,1]` output gives a scalar unless `unitDimAsArray`. The rank must be known at analysis time.
 *
 * With `batched = false` (a signature whose inputs are all scalars, run once per row) the output
 * has no batch dimension: its whole shape is the row's, so `()` gives a scalar and `[k]` an array.
 *
 * TF has one `DT_STRING` for text and bytes. A string output is `BinaryType` when `binary` (its
 * bytes as they are), else `StringType`, and then every value is checked to be valid UTF-8 (a byte
 * scan, [[OutputDecoder.invalidUtf8At]]): a value that is not is never handed to Spark as text (it
 * would read back with U+FFFD in place of its bytes); its row is reported to [[decode]]'s
 * `onInvalid` instead, as [[OutputDecoder.NotUtf8]].
 */
final class OutputDecoder(
    model: String,
    signature: String,
    val spec: TensorSpec,
    unitDimAsArray: Boolean,
    batched: Boolean = true,
    binary: Boolean = false
) {

  private val rowDims: Seq[Long] = spec.shape.map(s => if (batched) s.drop(1) else s).getOrElse {
    throw TFSparkErrors.unsupportedSignature(
      model,
      signature,
      s"output ${spec.key} has unknown rank",
      "outputs of known rank: re-export with a shape on the placeholder (e.g. tf.compat.v1.placeholder(tf.float32, [None, 4])) " +
        "so the output's rank is known, or score through tfpredict, the DataFrame API or the Transformer, which take the rank the model returns"
    )
  }
  private val collapse = rowDims == Seq(1L) && !unitDimAsArray
  private val rank = if (collapse) 0 else rowDims.size

  private val leafType: DataType = SparkTypes.of(spec.dtype, binary).getOrElse {
    throw TFSparkErrors.unsupportedSignature(model, signature, s"output ${spec.key} is ${spec.dtype}", s"${TFDType.ServedText} outputs")
  }
  TensorTypes.unavailable(spec.dtype).foreach { reason =>
    throw TFSparkErrors
      .unsupportedSignature(model, signature, s"output ${spec.key} is ${spec.dtype}: $reason", s"${TFDType.ServedText} outputs")
  }

  /** The Spark type of one row's value. */
  val sparkType: DataType = (0 until rank).foldLeft(leafType)((t, _) => ArrayType(t, containsNull = false))

  /**
   * Decodes `tensor`, whose first dimension must be `rows`. The caller still owns the tensor.
   *
   * @param onInvalid called once per row (in order) whose string value is not valid UTF-8, with
   *   the row's position and a [[OutputDecoder.NotUtf8]]; that row's value is then undefined (the
   *   caller nulls it). By default it throws OUTPUT_NOT_UTF8 naming the row of the batch.
   */
  def decode(tensor: Tensor, rows: Int, onInvalid: (Int, OutputDecoder.NotUtf8) => Unit = null): Array[Any] = {
    val dims = if (batched) tensor.shape().asArray() else 1L +: tensor.shape().asArray()
    if (dims.isEmpty || dims(0) != rows) {
      throw TFSparkErrors.modelExecutionFailed(
        model,
        s"a batch of $rows rows (output ${spec.key})",
        new IllegalStateException(s"the model returned shape ${tensor.shape()} for output ${spec.key} on a batch of $rows rows")
      )
    }
    if (dims.length != rowDims.size + 1) {
      throw TFSparkErrors.modelExecutionFailed(
        model,
        s"a batch of $rows rows (output ${spec.key})",
        new IllegalStateException(
          s"output ${spec.key} returned rank ${dims.length - (if (batched) 0 else 1)} (shape ${tensor.shape()}) where the analysis fixed rank " +
            s"${rowDims.size + (if (batched) 1 else 0)} (its signature's shape, or for an output of unknown rank the rank it returned on a synthetic batch): " +
            "an output must keep one rank; re-export it with a fixed shape"
        )
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
      case TFDType.Int8 =>
        val a = new Array[Byte](n); data.read(a)
        (a(_), (o, l) => UnsafeArrayData.fromPrimitiveArray(java.util.Arrays.copyOfRange(a, o, o + l)))
      case TFDType.Uint8 =>
        val raw = new Array[Byte](n); data.read(raw)
        val a = new Array[Short](n)
        var i = 0
        while (i < n) { a(i) = (raw(i) & 0xff).toShort; i += 1 }
        (a(_), (o, l) => UnsafeArrayData.fromPrimitiveArray(java.util.Arrays.copyOfRange(a, o, o + l)))
      case TFDType.Int16 =>
        val a = new Array[Short](n); data.asShorts().read(a)
        (a(_), (o, l) => UnsafeArrayData.fromPrimitiveArray(java.util.Arrays.copyOfRange(a, o, o + l)))
      case TFDType.Uint16 =>
        val raw = new Array[Short](n); data.asShorts().read(raw)
        val a = new Array[Int](n)
        var i = 0
        while (i < n) { a(i) = raw(i) & 0xffff; i += 1 }
        (a(_), (o, l) => UnsafeArrayData.fromPrimitiveArray(java.util.Arrays.copyOfRange(a, o, o + l)))
      case TFDType.Uint32 =>
        val raw = new Array[Int](n); data.asInts().read(raw)
        val a = new Array[Long](n)
        var i = 0
        while (i < n) { a(i) = raw(i) & 0xffffffffL; i += 1 }
        (a(_), (o, l) => UnsafeArrayData.fromPrimitiveArray(java.util.Arrays.copyOfRange(a, o, o + l)))
      case TFDType.Uint64 =>
        val raw = new Array[Long](n); data.asLongs().read(raw)
        val a = raw.map(OutputDecoder.unsignedDecimal)
        (a(_), (o, l) => new GenericArrayData(java.util.Arrays.copyOfRange(a.asInstanceOf[Array[AnyRef]], o, o + l)))
      case TFDType.Float16 | TFDType.Bfloat16 =>
        val raw = new Array[Short](n); data.asShorts().read(raw)
        val a = new Array[Float](n)
        var i = 0
        while (i < n) { a(i) = NumericValues.fromHalf(spec.dtype, raw(i)); i += 1 }
        (a(_), (o, l) => UnsafeArrayData.fromPrimitiveArray(java.util.Arrays.copyOfRange(a, o, o + l)))
      case _ =>
        val raw = new Array[Any](n)
        var i = 0
        var lastBad = -1
        tensor.asInstanceOf[TString].asBytes().scalars().asScala.foreach { s =>
          val bytes = s.getObject()
          raw(i) = if (binary) bytes else UTF8String.fromBytes(bytes)
          if (!binary) {
            val at = OutputDecoder.invalidUtf8At(bytes)
            val row = if (perRow == 0) 0 else i / perRow
            if (at >= 0 && row != lastBad) {
              lastBad = row
              val e = new OutputDecoder.NotUtf8(spec.key, OutputDecoder.describeInvalid(bytes, at))
              if (onInvalid == null) throw TFSparkErrors.outputNotUtf8(model, spec.key, s"row $row of a batch of $rows", e.detail)
              onInvalid(row, e)
            }
          }
          i += 1
        }
        val a = raw
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

  /** A uint64 element (its bits in a long) as a decimal(20,0). */
  private[tensor] def unsignedDecimal(bits: Long): Decimal =
    if (bits >= 0) Decimal(bits, 20, 0)
    else Decimal(new java.math.BigDecimal(new java.math.BigInteger(java.lang.Long.toUnsignedString(bits))), 20, 0)

  /**
   * A string output value that is not valid UTF-8, for one row: the row's error is OUTPUT_NOT_UTF8
   * ([[rowError]]), isolated per row like TF's own row failures. `output`: the key, or the keys
   * comma-separated when several outputs of the row are not UTF-8 (`detail` is the first's).
   */
  final class NotUtf8(val output: String, val detail: String) extends RuntimeException(s"output $output is not UTF-8: $detail")

  /** The error of one row: OUTPUT_NOT_UTF8 for [[NotUtf8]], else MODEL_EXECUTION_FAILED (TF failed on the row). */
  def rowError(model: String, row: String, cause: Throwable): tfspark.errors.TFSparkException = cause match {
    case n: NotUtf8 => TFSparkErrors.outputNotUtf8(model, n.output, row, n.detail)
    case other => TFSparkErrors.modelExecutionFailed(model, row, other)
  }

  /**
   * Where `bytes` stop being valid UTF-8 (the offset of the first byte of the bad sequence), or -1
   * if they are valid: a scan without allocation, strict as Java's decoder (no overlong forms, no
   * surrogates U+D800..U+DFFF, nothing above U+10FFFF).
   */
  def invalidUtf8At(bytes: Array[Byte]): Int = {
    val n = bytes.length
    var i = 0
    while (i < n) {
      val b0 = bytes(i) & 0xff
      if (b0 < 0x80) i += 1
      else {
        // the sequence length and the allowed range of its second byte (Unicode table 3-7)
        val (len, lo, hi) =
          if (b0 >= 0xc2 && b0 <= 0xdf) (2, 0x80, 0xbf)
          else if (b0 == 0xe0) (3, 0xa0, 0xbf)
          else if (b0 == 0xed) (3, 0x80, 0x9f)
          else if (b0 >= 0xe1 && b0 <= 0xef) (3, 0x80, 0xbf)
          else if (b0 == 0xf0) (4, 0x90, 0xbf)
          else if (b0 >= 0xf1 && b0 <= 0xf3) (4, 0x80, 0xbf)
          else if (b0 == 0xf4) (4, 0x80, 0x8f)
          else return i
        if (i + len > n) return i
        val b1 = bytes(i + 1) & 0xff
        if (b1 < lo || b1 > hi) return i
        var k = 2
        while (k < len) {
          val b = bytes(i + k) & 0xff
          if (b < 0x80 || b > 0xbf) return i
          k += 1
        }
        i += len
      }
    }
    -1
  }

  /** "byte 0x89 at offset 0 of 75" and the first bytes in hex, for the error message. */
  private[tensor] def describeInvalid(bytes: Array[Byte], at: Int): String = {
    val head = bytes.take(8).map(b => f"${b & 0xff}%02x").mkString(" ")
    f"byte 0x${bytes(at) & 0xff}%02x at offset $at of ${bytes.length} bytes, starting $head${if (bytes.length > 8) " ..." else ""}"
  }

  /** Reads a decoded array value back into a float array (for the `RDD[Array[Float]]` API). */
  def toFloatArray(value: Any): Array[Float] = value match {
    case a: ArrayData => a.toFloatArray()
    case f: Float => Array(f)
    case other => throw new IllegalArgumentException(s"not a float output: $other")
  }
}
