package tfspark.tensor

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types.{ArrayType, DataType}
import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.{TInt32, TInt64}

import tfspark.errors.TFSparkErrors
import tfspark.model.{Composite, TFDType, TensorSpec}

/**
 * Feeds a `tf.RaggedTensorSpec` input (one input to the user) from a Spark array column whose
 * rows may have different lengths: `array<float>` for shape `[-1,-1]`, `array<array<float>>` for
 * ragged_rank 2 (`[-1,-1,-1]`), `array<array<float>>` with fixed inner rows for `[-1,-1,3]`.
 *
 * Per batch it builds the argument's components as TF orders them: `flat_values` (every element
 * below the last ragged dimension, fed through a dense [[InputFeeder]] of shape `[-1, inner...]`,
 * so the value conversion is InputFeeder's) and one `row_splits` vector per ragged dimension,
 * outermost first, int64 or int32 as the spec says. A row or sub-row of length 0 is an empty
 * segment. A null element of a ragged dimension is NULL_INPUT naming the row and the element; a
 * null flat value follows the dense rules (`fillNulls`: NaN or ""). Not thread-safe: one per task.
 */
final class RaggedInputFeeder private (
    model: String,
    val spec: TensorSpec,
    ragged: Composite.Ragged,
    elementType: DataType,
    values: InputFeeder
) extends BatchFeeder {

  private val levels = ragged.raggedRank
  private val elementIsScalar = SparkTypes.depthOf(elementType) == 0

  /** `splits(k)`: the row_splits of ragged dimension k+1 over the whole batch, from 0. */
  private val splits = Array.fill(levels)(new LongBuffer)
  private var rows = 0

  val batched = true
  def size: Int = rows

  def clear(): Unit = { rows = 0; splits.foreach(_.keep(1)); values.clear() }

  def truncate(n: Int): Unit = {
    require(n >= 0 && n <= rows, s"cannot keep $n of $rows rows")
    rows = n
    var count = n // the number of arrays kept at this level
    var k = 0
    while (k < levels) {
      splits(k).keep(count + 1)
      count = splits(k)(count).toInt
      k += 1
    }
    values.truncate(count)
  }

  def add(value: Any, row: => String): Unit = {
    val array = value match {
      case floats: Array[Float] => UnsafeArrayData.fromPrimitiveArray(floats) // the RDD path's primitive rows
      case a => a.asInstanceOf[ArrayData]
    }
    try walk(array, 0, row, "")
    catch { case e: Throwable => truncate(rows); throw e }
    rows += 1
  }

  def addField(struct: InternalRow, ordinal: Int, row: => String): Unit = add(struct.getArray(ordinal), row)

  /** Walks one array of ragged dimension `level + 1`; its splits entry is appended after its children's. */
  private def walk(array: ArrayData, level: Int, row: => String, path: String): Unit = {
    val n = array.numElements()
    val last = level == levels - 1
    var i = 0
    while (i < n) {
      def at = s"$row, element $path$i"
      if (array.isNullAt(i) && !(last && elementIsScalar)) {
        throw TFSparkErrors.nullInput(model, spec.key, s"no null elements in a ragged row (${spec.dtype}${spec.shapeString})", at)
      }
      if (!last) walk(array.getArray(i), level + 1, row, s"$path$i.")
      else values.add(if (array.isNullAt(i)) null else array.get(i, elementType), at)
      i += 1
    }
    val s = splits(level)
    s += s(s.length - 1) + n
  }

  def tensors(from: Int, until: Int): Seq[(String, Tensor)] = {
    require(0 <= from && from <= until && until <= rows, s"rows $from until $until of $rows")
    val built = scala.collection.mutable.ArrayBuffer.empty[(String, Tensor)]
    try {
      var (a, b) = (from, until) // the arrays of this level in the range
      var k = 0
      while (k < levels) {
        val s = splits(k)
        val base = s(a)
        val slice = Array.tabulate(b - a + 1)(i => s(a + i) - base)
        built += ragged.componentKeys(k + 1) -> splitsTensor(slice)
        a = s(a).toInt
        b = s(b).toInt
        k += 1
      }
      (ragged.componentKeys.head -> values.toTensor(a, b)) +=: built
      built.toSeq
    } catch { case e: Throwable => built.foreach(_._2.close()); throw e }
  }

  private def splitsTensor(s: Array[Long]): Tensor =
    if (ragged.rowSplits == TFDType.Int32) TInt32.tensorOf(Shape.of(s.length.toLong), DataBuffers.of(s.map(_.toInt), true, false))
    else TInt64.tensorOf(Shape.of(s.length.toLong), DataBuffers.of(s, true, false))

  /** A growable long vector starting as `[0]`. */
  private final class LongBuffer {
    private var values = new Array[Long](256)
    var length = 1
    def apply(i: Int): Long = values(i)
    def +=(v: Long): Unit = {
      if (length == values.length) values = java.util.Arrays.copyOf(values, length * 2)
      values(length) = v
      length += 1
    }
    def keep(n: Int): Unit = length = n
  }
}

object RaggedInputFeeder {

  /**
   * Checks at analysis time that `sparkType` can feed the ragged `spec` (arrays for each ragged
   * dimension, then what the flat values take), then creates the feeder.
   *
   * @throws tfspark.errors.TFSparkException INPUT_TYPE_MISMATCH, UNSUPPORTED_SIGNATURE
   */
  def create(
      model: String,
      signature: String,
      spec: TensorSpec,
      ragged: Composite.Ragged,
      sparkType: DataType,
      fillNulls: Boolean
  ): RaggedInputFeeder = {
    val shape = spec.shape.getOrElse {
      throw TFSparkErrors.unsupportedSignature(
        model,
        signature,
        s"ragged input ${spec.key} has unknown rank",
        "a tf.RaggedTensorSpec of known rank, such as tf.RaggedTensorSpec([None, None], tf.float32)"
      )
    }
    if (ragged.raggedRank < 1 || shape.size < ragged.raggedRank + 1 || shape.head != -1L) {
      throw TFSparkErrors.unsupportedSignature(
        model,
        signature,
        s"ragged input ${spec.key} has shape ${spec.shapeString}",
        "a ragged input whose first dimension is the batch (None) and with at least one ragged dimension"
      )
    }
    val depth = SparkTypes.depthOf(sparkType)
    def mismatch() =
      TFSparkErrors.inputTypeMismatch(
        model,
        spec.key,
        s"${SparkTypes.natural(spec).simpleString} (${spec.dtype}${spec.shapeString}: rows of different lengths are fine)",
        sparkType.simpleString
      )
    if (depth != shape.size - 1) throw mismatch()
    val elementType = (0 until ragged.raggedRank).foldLeft(sparkType) {
      case (ArrayType(e, _), _) => e
      case _ => throw mismatch()
    }
    val inner = shape.drop(1 + ragged.raggedRank)
    val valuesSpec = TensorSpec(spec.key, spec.dtype, Some(-1L +: inner))
    val values =
      try InputFeeder.create(model, signature, valuesSpec, elementType, fillNulls)
      catch { case e: tfspark.errors.TFSparkException if e.errorClass == "INPUT_TYPE_MISMATCH" => throw mismatch() }
    new RaggedInputFeeder(model, spec, ragged, elementType, values)
  }
}
