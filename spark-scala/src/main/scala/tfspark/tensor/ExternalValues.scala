package tfspark.tensor

import org.apache.spark.sql.catalyst.CatalystTypeConverters
import org.apache.spark.sql.types._

import tfspark.errors.TFSparkErrors

/**
 * Converts plain Scala values (`Map[String, Any]` rows of the RDD API) to Catalyst's internal
 * form for a target Spark type: any `Number` for numeric types, `Seq`/`Array` for arrays,
 * `String` or `Array[Byte]` for strings (a `UTF8String` of those bytes as they are, as a string
 * column holds them). Integer inputs take integer values as bigint (uint64:
 * decimal(20,0)); the feeder checks their range for the input's dtype.
 */
object ExternalValues {

  /** @throws tfspark.errors.TFSparkException INPUT_TYPE_MISMATCH naming `input` */
  def toCatalyst(model: String, input: String, value: Any, target: DataType): Any = (value, target) match {
    case (null, _) => null
    case (n: Number, FloatType) => n.floatValue()
    case (n: Number, DoubleType) => n.doubleValue()
    case (n: Number, IntegerType) => n.intValue()
    case (n: Number, LongType) if isWhole(n) => n.longValue()
    case (n: Number, _: DecimalType) if wholeDecimal(n).isDefined =>
      Decimal(wholeDecimal(n).get) // out of the dtype's range: the feeder says so, naming the row
    case (b: Boolean, BooleanType) => b
    case (s: String, StringType) => org.apache.spark.unsafe.types.UTF8String.fromString(s)
    case (b: Array[Byte], StringType) => org.apache.spark.unsafe.types.UTF8String.fromBytes(b) // its bytes as they are
    case (b: Array[Byte], BinaryType) => b
    case (seq: scala.collection.Seq[_], ArrayType(elem, _)) => array(model, input, seq, elem)
    case (arr: Array[_], ArrayType(elem, _)) => array(model, input, arr.toSeq, elem)
    case (other, _) => throw TFSparkErrors.inputTypeMismatch(model, input, target.simpleString, other.getClass.getSimpleName)
  }

  /** Whether `n` holds an integer that a long keeps exactly (a fractional or huge value is a type mismatch). */
  private def isWhole(n: Number): Boolean = n match {
    case _: java.lang.Long | _: java.lang.Integer | _: java.lang.Short | _: java.lang.Byte => true
    case b: java.math.BigInteger => b.bitLength() < 64
    case b: BigInt => b.isValidLong
    case other => val d = other.doubleValue(); d == math.rint(d) && math.abs(d) < 9.2e18
  }

  /** `n` as a decimal when it holds an integer (any size), else `None`. */
  private def wholeDecimal(n: Number): Option[java.math.BigDecimal] =
    (n match {
      case b: java.math.BigDecimal => Some(b)
      case b: scala.math.BigDecimal => Some(b.bigDecimal)
      case other => scala.util.Try(new java.math.BigDecimal(other.toString)).toOption
    }).filter(_.stripTrailingZeros().scale() <= 0)

  private def array(model: String, input: String, values: scala.collection.Seq[_], elem: DataType) =
    new org.apache.spark.sql.catalyst.util.GenericArrayData(values.map(toCatalyst(model, input, _, elem)).toArray[Any])

  /** A converter from a Catalyst value of `t` to plain Scala values (`Seq` for arrays, `Row` for structs). */
  def toScala(t: DataType): Any => Any = CatalystTypeConverters.createToScalaConverter(t)
}
