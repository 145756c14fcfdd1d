package tfspark.tensor

import scala.collection.mutable.ArrayBuffer

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{SpecializedGetters, UnsafeArrayData, UnsafeRow}
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String
import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.{TBool, TFloat32, TFloat64}

import tfspark.errors.TFSparkErrors
import tfspark.model.{NumericValues, TFDType, TensorSpec, TensorTypes}

/**
 * Collects one signature input for a batch of rows, from one Spark value per row in Catalyst's
 * internal form (`ArrayData` for arrays, `UTF8String` for strings, boxed primitives), into a
 * primitive buffer, and builds the input tensor from it.
 *
 * Shapes: a row's value is nested arrays as deep as the input's per-row rank (`[-1,T,3]` takes
 * `array<array<float>>`); a scalar also feeds a `[-1,1]` input. Fixed dimensions must match.
 * A variable dimension (`-1`) takes its size from the batch's first row, and the other rows of
 * the batch must agree: rows are never padded (pad upstream). Numbers convert to the input's
 * dtype as TF users expect (double → float32, int → int64); integers are range-checked for the
 * input's dtype and half-precision values rounded as TF does ([[NumericValues]], docs/dtypes.md):
 * a value the dtype cannot hold is INPUT_VALUE_OUT_OF_RANGE naming the row. A `uint8` input with a
 * fixed per-row shape also takes a binary column: each value is the row's tensor as raw bytes,
 * copied straight into the batch buffer. Not thread-safe: one per task.
 *
 * An input of shape `()` is *unbatched*: it takes one scalar per `Session.run`, so it holds one
 * row at most and builds a scalar tensor ([[BatchRunner]] cuts batches around it).
 *
 * A failed [[add]] may leave part of its row in the buffers: [[truncate]] drops it, and
 * [[toTensor]] can build any range of rows (to find the row that a model fails on).
 *
 * @param fillNulls a null scalar, or a null element of an array, becomes NaN (float inputs) or ""
 *   (string inputs) instead of failing
 */
abstract class InputFeeder(val model: String, val spec: TensorSpec, val sparkType: DataType, fillNulls: Boolean) extends BatchFeeder {
  import InputFeeder._

  private val sparkDepth = depthOf(sparkType)
  protected val leafType: DataType = leafOf(sparkType)

  /** Per array level, whether its elements may be null (Spark's `containsNull`): if not, no per-element check. */
  private val nullableAt: Array[Boolean] =
    Iterator
      .iterate(sparkType) { case ArrayType(e, _) => e; case t => t }
      .take(sparkDepth)
      .map {
        case ArrayType(_, containsNull) => containsNull
        case _ => false
      }
      .toArray

  /** Whether the input has a batch dimension (every shape but `()`). */
  val batched: Boolean = InputFeeder.isBatched(spec)

  /** Per-row dims from the signature (-1 = variable); a scalar fed to [-1,1] is treated as depth 1. */
  private val rowDims: Array[Long] =
    if (!batched) Array.emptyLongArray else spec.shape.map(_.tail.toArray).getOrElse(Array.fill(sparkDepth)(-1L))
  private val unitDimScalar = sparkDepth == 0 && rowDims.sameElements(Array(1L))

  /** A uint8 input fed from a binary column: each value is the row's whole tensor, as raw bytes. */
  private val rawBytes = sparkDepth == 0 && leafType == BinaryType && spec.dtype == TFDType.Uint8 && rowDims.nonEmpty
  private val batchDims: Array[Long] = rowDims.clone()
  protected var rows = 0

  def size: Int = rows
  def clear(): Unit = { rows = 0; System.arraycopy(rowDims, 0, batchDims, 0, rowDims.length); clearValues() }

  /** Keeps the first `n` rows (at most [[size]]) and drops any part of a row added after them. */
  def truncate(n: Int): Unit = {
    require(n >= 0 && n <= rows, s"cannot keep $n of $rows rows")
    if (n == 0) clear() else { rows = n; truncateValues(n * valuesPerRow) }
  }

  /** Buffered values per row: the product of the batch's per-row dimensions (known once a row is in). */
  private def valuesPerRow: Int =
    if (!batched || (sparkDepth == 0 && !rawBytes)) 1 else batchDims.foldLeft(1L)((a, d) => a * math.max(d, 0L)).toInt

  /**
   * Adds one row's value (not null: the caller applies the null policy to whole rows).
   *
   * @throws tfspark.errors.TFSparkException INPUT_SHAPE_MISMATCH, NULL_INPUT (a null element),
   *   INPUT_VALUE_OUT_OF_RANGE (a value the input's dtype cannot hold)
   */
  def add(value: Any, row: => String): Unit = {
    try {
      if (rawBytes && value != null) {
        val bytes = value.asInstanceOf[Array[Byte]]
        checkRawLength(bytes.length, row)
        putRawBytes(bytes, Platform.BYTE_ARRAY_OFFSET.toLong, bytes.length)
      } else if (sparkDepth == 0) putScalar(value, row)
      else
        value match {
          // The RDD and driver paths feed primitive arrays straight in, without Catalyst values.
          case floats: Array[Float] if sparkDepth == 1 => checkWidth(floats.length, row); putFloats(floats)
          case array => walk(array.asInstanceOf[ArrayData], 0, row)
        }
    } catch { case e: OutOfRange => throw outOfRange(e, row) }
    rows += 1
  }

  /**
   * Adds one row's value read from field `ordinal` of `struct` (not null there): numbers are
   * read with the struct's typed getters, without boxing.
   *
   * @throws tfspark.errors.TFSparkException as [[add]]
   */
  def addField(struct: InternalRow, ordinal: Int, row: => String): Unit =
    if (rawBytes) struct match {
      case unsafe: UnsafeRow => // straight from the row's bytes into the batch buffer
        val offsetAndSize = unsafe.getLong(ordinal)
        val size = offsetAndSize.toInt
        checkRawLength(size, row)
        putRawBytes(unsafe.getBaseObject, unsafe.getBaseOffset + (offsetAndSize >> 32), size)
        rows += 1
      case other => add(other.getBinary(ordinal), row)
    }
    else if (sparkDepth == 0) {
      try putField(struct, ordinal)
      catch { case e: OutOfRange => throw outOfRange(e, row) }
      rows += 1
    } else add(struct.getArray(ordinal), row)

  /** INPUT_VALUE_OUT_OF_RANGE for the value at buffer position `e.position` of the row being added. */
  private def outOfRange(e: OutOfRange, row: => String) = {
    val element = e.position - rows * valuesPerRow
    val where = if (sparkDepth == 0) row else s"$row, element $element (row-major)"
    TFSparkErrors.inputValueOutOfRange(model, spec.key, spec.dtype.name, NumericValues.rangeText(spec.dtype), e.value, where)
  }

  /** Checks a binary value's length against a raw-bytes uint8 input's per-row size. */
  private def checkRawLength(n: Int, row: => String): Unit =
    if (rowDims.length == 1) checkWidth(n, row) // [-1,k] or [-1,-1]: the bytes are the row's vector
    else {
      val expected = rowDims.product
      if (n != expected) {
        val where = s"$row (a binary value of $n bytes; ${spec.dtype}${spec.shapeString} takes ${rowDims.mkString("x")} bytes per row)"
        throw TFSparkErrors.inputShapeMismatch(model, spec.key, expected, n.toLong, where, 1)
      }
    }

  /** Copies `n` raw bytes from `base` at `offset` (Platform addressing): raw-bytes uint8 inputs only. */
  protected def putRawBytes(base: AnyRef, offset: Long, n: Int): Unit =
    throw new IllegalStateException(s"input ${spec.key} is not fed from raw bytes")

  /** A top-level scalar from a struct field; feeders override it to avoid boxing. */
  protected def putField(struct: InternalRow, ordinal: Int): Unit = putBoxed(struct.get(ordinal, sparkType))

  /** Checks an innermost row of `n` values against the first per-row dimension. */
  private def checkWidth(n: Int, row: => String): Unit = {
    val expected = batchDims(0)
    if (expected >= 0 && expected != n) throw TFSparkErrors.inputShapeMismatch(model, spec.key, expected, n.toLong, row, 1)
    if (expected < 0) {
      if (rows == 0) batchDims(0) = n
      else throw TFSparkErrors.inputShapeMismatch(model, spec.key, batchDims(0), n.toLong, row, 1)
    }
  }

  /** Copies one row's floats (a float leaf type only; the binding guarantees it). */
  protected def putFloats(values: Array[Float]): Unit =
    throw new IllegalStateException(s"input ${spec.key} is not fed from float arrays")

  def tensors(from: Int, until: Int): Seq[(String, Tensor)] = Seq(spec.key -> toTensor(from, until))

  /** The batch as a `[rows, dims...]` tensor. The caller owns and closes it. */
  def toTensor(): Tensor = toTensor(0, rows)

  /**
   * Rows `from` until `until` of the batch as a tensor (an unbatched input: its one value). The
   * caller owns and closes it.
   */
  def toTensor(from: Int, until: Int): Tensor =
    if (!batched) {
      require(rows == 1, s"an unbatched input takes one row per run, got $rows")
      build(Shape.scalar(), 0, 1)
    } else {
      require(0 <= from && from <= until && until <= rows, s"rows $from until $until of $rows") // empty: a ragged batch's flat values
      val dims = if (unitDimScalar) Array(1L) else batchDims.map(d => if (d < 0) 0L else d)
      val perRow = valuesPerRow
      build(Shape.of(((until - from).toLong +: dims.toSeq): _*), from * perRow, (until - from) * perRow)
    }

  private def walk(array: ArrayData, level: Int, row: => String): Unit = {
    val n = array.numElements()
    val expected = batchDims(level)
    if (expected >= 0 && expected != n) {
      throw TFSparkErrors.inputShapeMismatch(model, spec.key, expected, n.toLong, row, level + 1)
    }
    if (expected < 0) {
      if (rows == 0) batchDims(level) = n
      else throw TFSparkErrors.inputShapeMismatch(model, spec.key, batchDims(level), n.toLong, row, level + 1)
    }
    val leaves = level == sparkDepth - 1
    val nullable = nullableAt(level)
    var nullLeaves = false
    var i = 0
    if (nullable || !leaves) while (i < n) {
      if (nullable && array.isNullAt(i)) {
        if (leaves && fillNulls && canFill) nullLeaves = true
        else throw TFSparkErrors.nullInput(model, spec.key, s"no null elements (${leafType.simpleString})", s"$row, element $i")
      }
      if (!leaves) walk(array.getArray(i), level + 1, row)
      i += 1
    }
    if (leaves) {
      if (nullLeaves) { // fill: element by element, NaN or "" where a null is
        i = 0
        while (i < n) { if (array.isNullAt(i)) putFill() else putLeaf(array, i); i += 1 }
      } else putLeaves(array, n)
    }
  }

  /** Copies the `n` (non-null) leaves of an innermost array; feeders override it with bulk copies. */
  protected def putLeaves(array: ArrayData, n: Int): Unit = {
    var i = 0
    while (i < n) { putLeaf(array, i); i += 1 }
  }

  /** A top-level scalar; `null` only reaches here with `fillNulls`. */
  private def putScalar(value: Any, row: => String): Unit =
    if (value == null) {
      if (fillNulls && canFill) putFill()
      else throw TFSparkErrors.nullInput(model, spec.key, s"a value of type ${leafType.simpleString}", row)
    } else putBoxed(value)

  protected def canFill: Boolean
  protected def putFill(): Unit
  protected def putBoxed(value: Any): Unit
  protected def putLeaf(array: SpecializedGetters, ordinal: Int): Unit
  protected def clearValues(): Unit

  /** Keeps the first `n` buffered values. */
  protected def truncateValues(n: Int): Unit

  /** A tensor of `shape` from `length` buffered values starting at `offset`. */
  protected def build(shape: Shape, offset: Int, length: Int): Tensor
}

object InputFeeder {

  /** A value the input's dtype cannot hold, at buffer position `position`; [[InputFeeder.add]] names the row. */
  private final class OutOfRange(val value: String, val position: Int) extends RuntimeException(value, null, false, false)

  /** Whether `spec` has a batch dimension: every input but a scalar-shaped (`()`) one. */
  def isBatched(spec: TensorSpec): Boolean = !spec.shape.contains(Seq.empty[Long])

  def depthOf(t: DataType): Int = t match {
    case ArrayType(e, _) => 1 + depthOf(e)
    case _ => 0
  }

  def leafOf(t: DataType): DataType = t match {
    case ArrayType(e, _) => leafOf(e)
    case other => other
  }

  private def isIntegral(t: DataType) = t match {
    case ByteType | ShortType | IntegerType | LongType => true
    case _ => false
  }
  private def isFloating(t: DataType) = t == FloatType || t == DoubleType || t.isInstanceOf[DecimalType]
  private def isWholeDecimal(t: DataType) = t match {
    case d: DecimalType => d.scale == 0
    case _ => false
  }

  /**
   * The Spark type that naturally feeds `spec` (used for error messages): the type its dtype
   * decodes to as an output ([[OutputDecoder.leafTypeOf]]: uint8 → smallint, float16 → float, ...).
   */
  def naturalType(spec: TensorSpec): DataType = nested(spec, OutputDecoder.leafTypeOf(spec.dtype, binary = false).getOrElse(StringType))

  /**
   * The Spark type that plain Scala values for `spec` become before they are fed (the RDD `Map`
   * API): integers as bigint (uint64 as decimal(20,0)), so that the feeder's range check, which
   * names the row, sees the value as given; half types as double, for the same reason; else
   * [[naturalType]].
   */
  def externalType(spec: TensorSpec): DataType = spec.dtype match {
    case TFDType.Uint64 => nested(spec, DecimalType(20, 0))
    case d if TFDType.Integers.contains(d) => nested(spec, LongType)
    case TFDType.Float16 | TFDType.Bfloat16 => nested(spec, DoubleType) // a double beyond float32 is out of range, not inf
    case _ => naturalType(spec)
  }

  private def nested(spec: TensorSpec, leaf: DataType): DataType = {
    val rank = spec.shape.map(s => math.max(0, s.size - 1)).getOrElse(1)
    val collapsed = if (spec.shape.exists(s => s.nonEmpty && s.tail == Seq(1L))) 0 else rank
    (0 until collapsed).foldLeft(leaf)((t, _) => ArrayType(t, containsNull = false))
  }

  /**
   * Checks at analysis time that `sparkType` can feed `spec`, then creates the feeder.
   *
   * @throws tfspark.errors.TFSparkException INPUT_TYPE_MISMATCH (dtype or rank),
   *   UNSUPPORTED_SIGNATURE (a dtype tfspark cannot feed)
   */
  def create(model: String, signature: String, spec: TensorSpec, sparkType: DataType, fillNulls: Boolean): InputFeeder = {
    val leaf = leafOf(sparkType)
    val depth = depthOf(sparkType)
    val rawBytes = spec.dtype == TFDType.Uint8 && leaf == BinaryType && depth == 0
    def mismatch() = TFSparkErrors.inputTypeMismatch(model, spec.key, expected(spec), sparkType.simpleString)
    spec.shape match {
      case Some(shape) if rawBytes =>
        if (shape.size < 2 || !(shape.size == 2 || shape.tail.forall(_ > 0))) throw mismatch()
      case Some(shape) =>
        if (shape.isEmpty) { if (depth != 0) throw mismatch() }
        else if (depth != shape.size - 1 && !(depth == 0 && shape.tail == Seq(1L))) throw mismatch()
      case None => if (rawBytes) throw mismatch()
    }
    def available(): Unit = TensorTypes.unavailable(spec.dtype).foreach { reason =>
      throw TFSparkErrors
        .unsupportedSignature(model, signature, s"input ${spec.key} is ${spec.dtype}: $reason", s"${TFDType.ServedText} inputs")
    }
    spec.dtype match {
      case TFDType.Float32 | TFDType.Float64 if isFloating(leaf) || isIntegral(leaf) =>
        new FloatingFeeder(model, spec, sparkType, fillNulls, double = spec.dtype == TFDType.Float64)
      case TFDType.Float16 | TFDType.Bfloat16 if isFloating(leaf) || isIntegral(leaf) =>
        available()
        new HalfFeeder(model, spec, sparkType, fillNulls)
      case d if TFDType.Integers.contains(d) && (isIntegral(leaf) || isWholeDecimal(leaf) || rawBytes) =>
        available()
        new IntegralFeeder(model, spec, sparkType, fillNulls)
      case TFDType.Bool if leaf == BooleanType => new BoolFeeder(model, spec, sparkType, fillNulls)
      case TFDType.String if leaf == StringType || leaf == BinaryType => new StringFeeder(model, spec, sparkType, fillNulls)
      case d if TFDType.Served.contains(d) => throw mismatch()
      case other =>
        throw TFSparkErrors.unsupportedSignature(model, signature, s"input ${spec.key} is $other", s"${TFDType.ServedText} inputs")
    }
  }

  /** What feeds `spec`, for INPUT_TYPE_MISMATCH: the natural type, the dtype and shape, and the other types it takes. */
  private def expected(spec: TensorSpec): String = {
    val natural = s"${naturalType(spec).simpleString} (${spec.dtype}${spec.shapeString}"
    val others = spec.dtype match {
      case d if TFDType.Integers.contains(d) =>
        val binary =
          if (d == TFDType.Uint8) "; or, for a fixed per-row shape such as [-1,32,32,3], binary values holding each row's bytes" else ""
        s"; tinyint, smallint, int, bigint or decimal(p,0) values, ${NumericValues.rangeText(d)}$binary"
      case TFDType.Float16 | TFDType.Bfloat16 => s"; float, double, decimal or integer values, ${NumericValues.rangeText(spec.dtype)}"
      case _ => ""
    }
    s"$natural$others)"
  }

  private def readDouble(leaf: DataType): (SpecializedGetters, Int) => Double = leaf match {
    case FloatType => (g, i) => g.getFloat(i).toDouble
    case DoubleType => (g, i) => g.getDouble(i)
    case IntegerType => (g, i) => g.getInt(i).toDouble
    case LongType => (g, i) => g.getLong(i).toDouble
    case ShortType => (g, i) => g.getShort(i).toDouble
    case ByteType => (g, i) => g.getByte(i).toDouble
    case d: DecimalType => (g, i) => g.getDecimal(i, d.precision, d.scale).toDouble
    case other => throw new IllegalArgumentException(s"not numeric: $other")
  }

  private def readLong(leaf: DataType): (SpecializedGetters, Int) => Long = leaf match {
    case IntegerType => (g, i) => g.getInt(i).toLong
    case LongType => (g, i) => g.getLong(i)
    case ShortType => (g, i) => g.getShort(i).toLong
    case ByteType => (g, i) => g.getByte(i).toLong
    case other => throw new IllegalArgumentException(s"not integral: $other")
  }

  /** float32 inputs buffer floats, float64 inputs doubles; float and double arrays are copied in bulk. */
  private final class FloatingFeeder(model: String, spec: TensorSpec, sparkType: DataType, fill: Boolean, double: Boolean)
      extends InputFeeder(model, spec, sparkType, fill) {
    private val read = readDouble(leafType)
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
  private abstract class FixedWidthFeeder(model: String, spec: TensorSpec, sparkType: DataType, fill: Boolean)
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
  private final class IntegralFeeder(model: String, spec: TensorSpec, sparkType: DataType, fill: Boolean)
      extends FixedWidthFeeder(model, spec, sparkType, fill) {
    private val decimal: DecimalType = leafType match { case d: DecimalType => d; case _ => null }
    private val read = if (isIntegral(leafType)) readLong(leafType) else null
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
      if (!fits && (v < min || v > max)) throw new OutOfRange(v.toString, count)
      ensure(1)
      write(v)
    }
    private def putDecimal(d: Decimal): Unit = {
      val v = d.toJavaBigDecimal
      if (v.signum() != 0 && (v.compareTo(minDecimal) < 0 || v.compareTo(maxDecimal) > 0)) throw new OutOfRange(v.toPlainString, count)
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
  private final class HalfFeeder(model: String, spec: TensorSpec, sparkType: DataType, fill: Boolean)
      extends FixedWidthFeeder(model, spec, sparkType, fill) {
    private val read = readDouble(leafType)
    private val dtype = spec.dtype
    private def put(v: Double): Unit = {
      val bits = NumericValues.toHalf(dtype, v.toFloat)
      if (NumericValues.overflows(dtype, v, bits))
        throw new OutOfRange(if (leafType == FloatType) v.toFloat.toString else v.toString, count)
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

  private final class BoolFeeder(model: String, spec: TensorSpec, sparkType: DataType, fill: Boolean)
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

  private final class StringFeeder(model: String, spec: TensorSpec, sparkType: DataType, fill: Boolean)
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
    // A struct built from Scala values (predictMaps) may hold bytes where it declares a string.
    override protected def putField(struct: InternalRow, ordinal: Int): Unit = putBoxed(struct.get(ordinal, sparkType))
    override protected def clearValues(): Unit = truncateValues(0)
    override protected def truncateValues(n: Int): Unit = {
      java.util.Arrays.fill(values.asInstanceOf[Array[AnyRef]], n, math.max(n, count), null)
      count = n
    }
    override protected def build(shape: Shape, offset: Int, length: Int): Tensor =
      if (offset == 0) StringTensors.of(shape, values, length)
      else StringTensors.of(shape, java.util.Arrays.copyOfRange(values, offset, offset + length), length)
    private def bytes(value: Any): Array[Byte] = value match {
      case s: UTF8String => s.getBytes
      case b: Array[Byte] => b
      case other => other.toString.getBytes("UTF-8")
    }
  }
}
