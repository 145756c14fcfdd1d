package tfspark.sql

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.execution.vectorized.WritableColumnVector
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String

/**
 * Appends `tfpredict` results (Catalyst internal values, as [[tfspark.tensor.BatchingIterator]]
 * hands them out) to a column vector, one value per row in row order, for
 * [[BatchEvalTFColumnarExec]]'s result columns.
 *
 * [[supports]] is the set of result types the columnar exec can emit: booleans, integers, floats,
 * strings, binary, and arrays and structs of them (the `onError=null` struct included). Any other
 * type (a uint64 output's `decimal(20,0)`) keeps the plan on the row exec, decided at planning.
 */
object ResultColumns {

  /** Whether [[append]] writes values of type `t`. */
  def supports(t: DataType): Boolean = t match {
    case BooleanType | ByteType | ShortType | IntegerType | LongType | FloatType | DoubleType => true
    case _: StringType | BinaryType => true
    case ArrayType(e, _) => supports(e)
    case s: StructType => s.fields.forall(f => supports(f.dataType))
    case _ => false
  }

  /** Appends `value` (of type `t`, [[supports]]; null for a null) as the next row of `vector`. */
  def append(vector: WritableColumnVector, t: DataType, value: Any): Unit =
    if (value == null) {
      if (t.isInstanceOf[StructType]) vector.appendStruct(true) else vector.appendNull()
    } else
      t match {
        case BooleanType => vector.appendBoolean(value.asInstanceOf[Boolean])
        case ByteType => vector.appendByte(value.asInstanceOf[Byte])
        case ShortType => vector.appendShort(value.asInstanceOf[Short])
        case IntegerType => vector.appendInt(value.asInstanceOf[Int])
        case LongType => vector.appendLong(value.asInstanceOf[Long])
        case FloatType => vector.appendFloat(value.asInstanceOf[Float])
        case DoubleType => vector.appendDouble(value.asInstanceOf[Double])
        case _: StringType =>
          val bytes = value.asInstanceOf[UTF8String].getBytes
          vector.appendByteArray(bytes, 0, bytes.length)
        case BinaryType =>
          val bytes = value.asInstanceOf[Array[Byte]]
          vector.appendByteArray(bytes, 0, bytes.length)
        case ArrayType(element, containsNull) =>
          val array = value.asInstanceOf[ArrayData]
          val n = array.numElements()
          vector.appendArray(n)
          val elements = vector.arrayData()
          element match { // the decoder's arrays hold no nulls (containsNull = false): bulk copies
            case FloatType if !containsNull => elements.appendFloats(n, array.toFloatArray(), 0)
            case DoubleType if !containsNull => elements.appendDoubles(n, array.toDoubleArray(), 0)
            case IntegerType if !containsNull => elements.appendInts(n, array.toIntArray(), 0)
            case LongType if !containsNull => elements.appendLongs(n, array.toLongArray(), 0)
            case _ =>
              var i = 0
              while (i < n) { append(elements, element, if (array.isNullAt(i)) null else array.get(i, element)); i += 1 }
          }
        case s: StructType =>
          val row = value.asInstanceOf[InternalRow]
          vector.appendStruct(false)
          var i = 0
          while (i < s.fields.length) {
            val ft = s.fields(i).dataType
            append(vector.getChild(i), ft, if (row.isNullAt(i)) null else row.get(i, ft))
            i += 1
          }
        case other => throw new IllegalStateException(s"no column writer for $other (ResultColumns.supports is false)")
      }
}
