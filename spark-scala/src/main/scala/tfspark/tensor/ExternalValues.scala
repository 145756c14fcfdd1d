package tfspark.tensor

import org.apache.spark.sql.catalyst.CatalystTypeConverters
import org.apache.spark.sql.types._

import tfspark.errors.TFSparkErrors

/**
 * Converts plain Scala values (`Map[String, Any]` rows of the RDD API) to Catalyst's internal
 * form for a target Spark type: any `Number` for numeric types, `Seq`/`Array` for arrays,
 * `String` or `Array[Byte]` for strings.
 */
object ExternalValues {

  /** @throws tfspark.errors.TFSparkException INPUT_TYPE_MISMATCH naming `input` */
  def toCatalyst(model: String, input: String, value: Any, target: DataType): Any = (value, target) match {
    case (null, _) => null
    case (n: Number, FloatType) => n.floatValue()
    case (n: Number, DoubleType) => n.doubleValue()
    case (n: Number, IntegerType) => n.intValue()
    case (n: Number, LongType) => n.longValue()
    case (b: Boolean, BooleanType) => b
    case (s: String, StringType) => org.apache.spark.unsafe.types.UTF8String.fromString(s)
    case (b: Array[Byte], StringType | BinaryType) => b
    case (seq: scala.collection.Seq[_], ArrayType(elem, _)) => array(model, input, seq, elem)
    case (arr: Array[_], ArrayType(elem, _)) => array(model, input, arr.toSeq, elem)
    case (other, _) => throw TFSparkErrors.inputTypeMismatch(model, input, target.simpleString, other.getClass.getSimpleName)
  }

  private def array(model: String, input: String, values: scala.collection.Seq[_], elem: DataType) =
    new org.apache.spark.sql.catalyst.util.GenericArrayData(values.map(toCatalyst(model, input, _, elem)).toArray[Any])

  /** A converter from a Catalyst value of `t` to plain Scala values (`Seq` for arrays, `Row` for structs). */
  def toScala(t: DataType): Any => Any = CatalystTypeConverters.createToScalaConverter(t)
}
