package tfspark.tensor

import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types.{DataType, DoubleType, FloatType, IntegerType, LongType}
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.TFloat32

import tfspark.errors.TFSparkErrors

/**
 * Collects up to `capacity` rows of `binding.width` floats into one reusable primitive buffer,
 * from which [[toTensor]] builds a `[rows, width]` float32 tensor. Values are copied on [[add]],
 * so callers may reuse their arrays and Spark may reuse its rows. Not thread-safe: one per task.
 */
final class FloatMatrixBatcher(binding: DenseFloatBinding, val capacity: Int) {
  require(capacity > 0, s"batch capacity must be positive, got $capacity")

  private val width = binding.width
  private val buffer = new Array[Float](capacity * width)
  private var rows = 0

  def size: Int = rows
  def isEmpty: Boolean = rows == 0
  def isFull: Boolean = rows == capacity
  def clear(): Unit = rows = 0

  /**
   * Copies one row.
   *
   * @param row describes the row's position for error messages ("row 7 of partition 2")
   * @throws tfspark.errors.TFSparkException NULL_INPUT, INPUT_SHAPE_MISMATCH
   */
  def add(values: Array[Float], row: => String): Unit = {
    if (values == null) throw nullRow(row)
    checkLength(values.length, row)
    System.arraycopy(values, 0, buffer, rows * width, width)
    rows += 1
  }

  /**
   * Copies one row from Spark array data whose elements are `elementType` (float, double, int or
   * long; wider types are narrowed to float32 as TF users expect).
   *
   * @throws tfspark.errors.TFSparkException NULL_INPUT (also for a null element), INPUT_SHAPE_MISMATCH
   */
  def add(values: ArrayData, elementType: DataType, row: => String): Unit = {
    if (values == null) throw nullRow(row)
    checkLength(values.numElements(), row)
    val base = rows * width
    var i = 0
    while (i < width) {
      if (values.isNullAt(i)) {
        throw TFSparkErrors.nullInput(binding.model, binding.inputKey, "no null elements", s"$row, element $i")
      }
      buffer(base + i) = elementType match {
        case FloatType => values.getFloat(i)
        case DoubleType => values.getDouble(i).toFloat
        case IntegerType => values.getInt(i).toFloat
        case LongType => values.getLong(i).toFloat
        case other => throw new IllegalArgumentException(s"unsupported element type $other")
      }
      i += 1
    }
    rows += 1
  }

  /**
   * Copies one row from the numeric fields `fields` of an external Spark `Row` (one field per
   * feature, in the model's order).
   *
   * @throws tfspark.errors.TFSparkException NULL_INPUT naming the field, INPUT_SHAPE_MISMATCH
   */
  def add(values: org.apache.spark.sql.Row, fields: Array[Int], row: => String): Unit = {
    checkLength(fields.length, row)
    val base = rows * width
    var i = 0
    while (i < width) {
      val v = values.get(fields(i))
      if (v == null) {
        throw TFSparkErrors.nullInput(
          binding.model,
          binding.inputKey,
          "no null feature",
          s"$row, column ${values.schema.fieldNames(fields(i))}"
        )
      }
      buffer(base + i) = v.asInstanceOf[Number].floatValue()
      i += 1
    }
    rows += 1
  }

  /** A `[size, width]` float32 tensor of the buffered rows. The caller owns and closes it. */
  def toTensor(): TFloat32 =
    TFloat32.tensorOf(Shape.of(rows.toLong, width.toLong), DataBuffers.of(buffer, true, false).narrow(rows.toLong * width))

  private def nullRow(row: String) =
    TFSparkErrors.nullInput(binding.model, binding.inputKey, s"an array of ${binding.width} numbers", row)

  private def checkLength(got: Int, row: => String): Unit =
    if (got != width) throw TFSparkErrors.inputShapeMismatch(binding.model, binding.inputKey, width.toLong, got.toLong, row)
}
