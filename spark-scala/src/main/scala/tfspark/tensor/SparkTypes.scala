package tfspark.tensor

import org.apache.spark.sql.types._

import tfspark.model.{TFDType, TensorSpec}

/**
 * The one table from TF dtypes to Spark types, and the Spark types of whole inputs and outputs
 * built from it (docs/dtypes.md). Outputs decode to [[of]] ([[OutputDecoder]]); inputs take it
 * naturally, and the other Spark types that feed a dtype are [[InputTypes]]'s rules.
 */
object SparkTypes {

  /**
   * The Spark type one element of `dtype` is, widened exactly where Spark has no such type (int8 →
   * tinyint, uint8 and int16 → smallint, uint16 → int, uint32 → bigint, uint64 → decimal(20,0),
   * float16 and bfloat16 → float; string → string, or binary when `binary`); `None` for a dtype
   * tfspark does not serve.
   */
  def of(dtype: TFDType, binary: Boolean): Option[DataType] = Some(dtype match {
    case TFDType.Float32 | TFDType.Float16 | TFDType.Bfloat16 => FloatType
    case TFDType.Float64 => DoubleType
    case TFDType.Int8 => ByteType
    case TFDType.Int16 | TFDType.Uint8 => ShortType
    case TFDType.Int32 | TFDType.Uint16 => IntegerType
    case TFDType.Int64 | TFDType.Uint32 => LongType
    case TFDType.Uint64 => DecimalType(20, 0)
    case TFDType.Bool => BooleanType
    case TFDType.String => if (binary) BinaryType else StringType
    case _ => return None
  })

  /**
   * The Spark type that naturally feeds `spec` (used for error messages): its dtype's [[of]],
   * nested as deep as its per-row rank (a `[-1,1]` input takes a scalar).
   */
  def natural(spec: TensorSpec): DataType = nested(spec, of(spec.dtype, binary = false).getOrElse(StringType))

  /**
   * The Spark type that plain Scala values for `spec` become before they are fed (the RDD `Map`
   * API): integers as bigint (uint64 as decimal(20,0)), so that the feeder's range check, which
   * names the row, sees the value as given; half types as double, for the same reason; else
   * [[natural]].
   */
  def external(spec: TensorSpec): DataType = spec.dtype match {
    case TFDType.Uint64 => nested(spec, DecimalType(20, 0))
    case d if TFDType.Integers.contains(d) => nested(spec, LongType)
    case TFDType.Float16 | TFDType.Bfloat16 => nested(spec, DoubleType) // a double beyond float32 is out of range, not inf
    case _ => natural(spec)
  }

  private def nested(spec: TensorSpec, leaf: DataType): DataType = {
    val rank = spec.shape.map(s => math.max(0, s.size - 1)).getOrElse(1)
    val collapsed = if (spec.shape.exists(s => s.nonEmpty && s.tail == Seq(1L))) 0 else rank
    (0 until collapsed).foldLeft(leaf)((t, _) => ArrayType(t, containsNull = false))
  }

  /** How many array levels `t` has. */
  def depthOf(t: DataType): Int = t match {
    case ArrayType(e, _) => 1 + depthOf(e)
    case _ => 0
  }

  /** The element type inside all of `t`'s array levels. */
  def leafOf(t: DataType): DataType = t match {
    case ArrayType(e, _) => leafOf(e)
    case other => other
  }
}
