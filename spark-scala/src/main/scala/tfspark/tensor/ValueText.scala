package tfspark.tensor

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.Literal
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types.{ArrayType, BinaryType, DataType, StringType, StructType}
import org.apache.spark.unsafe.types.UTF8String

/**
 * One value, shortened for an error message that names a row by its content: text cut to
 * [[MaxChars]] characters (start and end), arrays to their first elements, structs to their first
 * [[MaxFields]] fields, binary to its size. Every entry point's row labels use it (`sql.RowLabel`,
 * the RDD and driver paths). Built only for errors.
 */
object ValueText {
  val MaxFields = 3
  val MaxChars = 64
  private val MaxElements = 4

  /** A Catalyst value of type `t` (or a primitive float array, the RDD path's rows), shortened. */
  def of(v: Any, t: DataType): String = (v, t) match {
    case (null, _) => "null"
    case (s: UTF8String, _) => "\"" + cut(s.toString) + "\""
    case (b: Array[Byte], BinaryType) => s"<${b.length} bytes>"
    case (a: ArrayData, ArrayType(e, _)) =>
      val n = a.numElements()
      val shown = (0 until math.min(n, MaxElements)).map(i => if (a.isNullAt(i)) "null" else of(a.get(i, e), e))
      shown.mkString("[", ", ", if (n > MaxElements) s", … ($n elements)]" else "]")
    case (r: InternalRow, s: StructType) =>
      s.fields.indices
        .take(MaxFields)
        .map(i => s"${s.fields(i).name}: ${if (r.isNullAt(i)) "null" else of(r.get(i, s.fields(i).dataType), s.fields(i).dataType)}")
        .mkString("{", ", ", if (s.fields.length > MaxFields) ", …}" else "}")
    case (floats: Array[Float], _) => // the RDD path's rows
      floats.take(MaxElements).mkString("[", ", ", if (floats.length > MaxElements) s", … (${floats.length} elements)]" else "]")
    case (_, StringType) => "\"" + cut(v.toString) + "\""
    case _ => cut(Literal(v, t).toString)
  }

  /** Long text keeps its start and its end (a path's file name). */
  private def cut(s: String): String =
    if (s.length <= MaxChars) s else s.take(MaxChars / 3) + "…" + s.takeRight(MaxChars - MaxChars / 3 - 1)
}
