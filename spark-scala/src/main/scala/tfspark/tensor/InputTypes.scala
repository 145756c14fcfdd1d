package tfspark.tensor

import org.apache.spark.sql.types._

import tfspark.errors.TFSparkErrors
import tfspark.model.{NumericValues, TFDType, TensorSpec, TensorTypes}

/**
 * The rules for which Spark types feed which signature input, checked at analysis time:
 *  - rank: a row's value is nested arrays as deep as the input's per-row rank (`[-1,T,3]` takes
 *    `array<array<float>>`); a scalar also feeds a `[-1,1]` input; a `()` input takes a scalar;
 *  - dtype: float32/64 and float16/bfloat16 take float, double, decimal and integer values;
 *    integer dtypes take tinyint, smallint, int, bigint and decimal(p,0) values (range-checked
 *    when fed); bool takes boolean; string takes string and binary;
 *  - a `uint8` input with a fixed per-row shape (`[-1,k]`, or every dimension known) also takes a
 *    binary column, each value the row's tensor as raw bytes.
 */
object InputTypes {

  /**
   * Checks that `sparkType` can feed `spec`.
   *
   * @throws tfspark.errors.TFSparkException INPUT_TYPE_MISMATCH (dtype or rank),
   *   UNSUPPORTED_SIGNATURE (a dtype tfspark cannot feed)
   */
  def check(model: String, signature: String, spec: TensorSpec, sparkType: DataType): Unit = {
    val leaf = SparkTypes.leafOf(sparkType)
    val depth = SparkTypes.depthOf(sparkType)
    val raw = rawBytes(spec, sparkType)
    def mismatch() = TFSparkErrors.inputTypeMismatch(model, spec.key, expected(spec), sparkType.simpleString)
    spec.shape match {
      case Some(shape) if raw =>
        if (shape.size < 2 || !(shape.size == 2 || shape.tail.forall(_ > 0))) throw mismatch()
      case Some(shape) =>
        if (shape.isEmpty) { if (depth != 0) throw mismatch() }
        else if (depth != shape.size - 1 && !(depth == 0 && shape.tail == Seq(1L))) throw mismatch()
      case None => if (raw) throw mismatch()
    }
    def available(): Unit = TensorTypes.unavailable(spec.dtype).foreach { reason =>
      throw TFSparkErrors
        .unsupportedSignature(model, signature, s"input ${spec.key} is ${spec.dtype}: $reason", s"${TFDType.ServedText} inputs")
    }
    spec.dtype match {
      case TFDType.Float32 | TFDType.Float64 if isFloating(leaf) || isIntegral(leaf) =>
      case TFDType.Float16 | TFDType.Bfloat16 if isFloating(leaf) || isIntegral(leaf) => available()
      case d if TFDType.Integers.contains(d) && (isIntegral(leaf) || isWholeDecimal(leaf) || raw) => available()
      case TFDType.Bool if leaf == BooleanType =>
      case TFDType.String if leaf == StringType || leaf == BinaryType =>
      case d if TFDType.Served.contains(d) => throw mismatch()
      case other =>
        throw TFSparkErrors.unsupportedSignature(model, signature, s"input ${spec.key} is $other", s"${TFDType.ServedText} inputs")
    }
  }

  /** Whether `sparkType` feeds `spec` as raw bytes: a binary scalar for a `uint8` input. */
  def rawBytes(spec: TensorSpec, sparkType: DataType): Boolean =
    spec.dtype == TFDType.Uint8 && sparkType == BinaryType

  /** What feeds `spec`, for INPUT_TYPE_MISMATCH: the natural type, the dtype and shape, and the other types it takes. */
  private def expected(spec: TensorSpec): String = {
    val natural = s"${SparkTypes.natural(spec).simpleString} (${spec.dtype}${spec.shapeString}"
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

  private[tensor] def isIntegral(t: DataType): Boolean = t match {
    case ByteType | ShortType | IntegerType | LongType => true
    case _ => false
  }

  private[tensor] def isFloating(t: DataType): Boolean = t == FloatType || t == DoubleType || t.isInstanceOf[DecimalType]

  private def isWholeDecimal(t: DataType) = t match {
    case d: DecimalType => d.scale == 0
    case _ => false
  }
}
