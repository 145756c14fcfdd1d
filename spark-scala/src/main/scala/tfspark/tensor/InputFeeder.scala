package tfspark.tensor

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{SpecializedGetters, UnsafeRow}
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.Platform
import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape

import tfspark.errors.TFSparkErrors
import tfspark.model.{NumericValues, TFDType, TensorSpec}

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
 * This base holds the shape and null logic; one subclass per dtype family buffers the values
 * ([[FloatingFeeder]], [[IntegralFeeder]], [[HalfFeeder]], [[BoolFeeder]], [[StringFeeder]]), and
 * [[InputTypes]] decides which Spark types feed which input.
 *
 * @param fillNulls a null scalar, or a null element of an array, becomes NaN (float inputs) or ""
 *   (string inputs) instead of failing
 */
abstract class InputFeeder(val model: String, val spec: TensorSpec, val sparkType: DataType, fillNulls: Boolean) extends BatchFeeder {
  import InputFeeder.OutOfRange

  private val sparkDepth = SparkTypes.depthOf(sparkType)
  protected val leafType: DataType = SparkTypes.leafOf(sparkType)

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
          case floats: Array[Float] if sparkDepth == 1 => checkDim(0, floats.length, row); putFloats(floats)
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
    if (rowDims.length == 1) checkDim(0, n, row) // [-1,k] or [-1,-1]: the bytes are the row's vector
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

  /**
   * A top-level scalar from a struct field, read with the struct's typed getter ([[putLeaf]]).
   * Never `InternalRow.get(ordinal, type)`: on an `UnsafeRow` in a task, Spark 4.2 resolves the
   * type's physical reader through `SQLConf.get`, which builds a `ReadOnlySQLConf` per call (half
   * of Titanic's SQL samples before this, bench/RESULTS.md).
   */
  protected def putField(struct: InternalRow, ordinal: Int): Unit = putLeaf(struct, ordinal)

  /**
   * The one width check: `n` values at per-row dimension `level` must match the signature's fixed
   * size there, or, for a variable dimension, the batch's first row (which sets it).
   *
   * @throws tfspark.errors.TFSparkException INPUT_SHAPE_MISMATCH naming the row and the dimension
   */
  private def checkDim(level: Int, n: Int, row: => String): Unit = {
    val expected = batchDims(level)
    if (expected >= 0 && expected != n) throw TFSparkErrors.inputShapeMismatch(model, spec.key, expected, n.toLong, row, level + 1)
    if (expected < 0) {
      if (rows == 0) batchDims(level) = n
      else throw TFSparkErrors.inputShapeMismatch(model, spec.key, batchDims(level), n.toLong, row, level + 1)
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
    checkDim(level, n, row)
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
  private[tensor] final class OutOfRange(val value: String, val position: Int) extends RuntimeException(value, null, false, false)

  /** Whether `spec` has a batch dimension: every input but a scalar-shaped (`()`) one. */
  def isBatched(spec: TensorSpec): Boolean = !spec.shape.contains(Seq.empty[Long])

  /**
   * Checks at analysis time that `sparkType` can feed `spec` ([[InputTypes]]), then creates the
   * feeder for its dtype.
   *
   * @throws tfspark.errors.TFSparkException INPUT_TYPE_MISMATCH (dtype or rank),
   *   UNSUPPORTED_SIGNATURE (a dtype tfspark cannot feed)
   */
  def create(model: String, signature: String, spec: TensorSpec, sparkType: DataType, fillNulls: Boolean): InputFeeder = {
    InputTypes.check(model, signature, spec, sparkType)
    spec.dtype match {
      case TFDType.Float32 | TFDType.Float64 =>
        new FloatingFeeder(model, spec, sparkType, fillNulls, double = spec.dtype == TFDType.Float64)
      case TFDType.Float16 | TFDType.Bfloat16 => new HalfFeeder(model, spec, sparkType, fillNulls)
      case TFDType.Bool => new BoolFeeder(model, spec, sparkType, fillNulls)
      case TFDType.String => new StringFeeder(model, spec, sparkType, fillNulls)
      case _ => new IntegralFeeder(model, spec, sparkType, fillNulls) // InputTypes.check let only integer dtypes through
    }
  }
}
