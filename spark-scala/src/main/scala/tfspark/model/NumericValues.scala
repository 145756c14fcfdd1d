package tfspark.model

/**
 * How a number becomes an element of a TF dtype and back, the one definition every path uses
 * (Spark rows through `tensor.InputFeeder` and `tensor.OutputDecoder`, warm-up requests and golden
 * vectors through [[warmup.WarmupTensors]]):
 *  - integer dtypes hold exactly the range [[integerRange]] says; tfspark never wraps a value;
 *  - float16 and bfloat16 take a float32 rounded to nearest, ties to even, exactly as TF's
 *    `tf.cast(float32 → float16/bfloat16)` does (Eigen's `float_to_half_rtne` and
 *    `float_to_bfloat16_rtne`): subnormals are kept, NaN stays NaN (TF's quiet NaN, sign kept),
 *    ±inf stays ±inf; a finite value that rounds to infinity is reported by the caller as out of
 *    range ([[overflowsHalf]]), never stored as inf. Both widen back to float32 exactly.
 */
object NumericValues {

  /** The smallest and largest value of an integer dtype (uint64: 0 to 2^64 - 1). */
  def integerRange(dtype: TFDType): (BigInt, BigInt) = dtype match {
    case TFDType.Int8 => (BigInt(Byte.MinValue), BigInt(Byte.MaxValue))
    case TFDType.Int16 => (BigInt(Short.MinValue), BigInt(Short.MaxValue))
    case TFDType.Int32 => (BigInt(Int.MinValue), BigInt(Int.MaxValue))
    case TFDType.Int64 => (BigInt(Long.MinValue), BigInt(Long.MaxValue))
    case TFDType.Uint8 => (BigInt(0), BigInt(255))
    case TFDType.Uint16 => (BigInt(0), BigInt(65535))
    case TFDType.Uint32 => (BigInt(0), BigInt(4294967295L))
    case TFDType.Uint64 => (BigInt(0), (BigInt(1) << 64) - 1)
    case other => throw new IllegalArgumentException(s"$other is not an integer dtype")
  }

  /** The range of `dtype` as error messages say it ("0 to 255"; "±65504" for half types). */
  def rangeText(dtype: TFDType): String = dtype match {
    case TFDType.Float16 => "finite values up to ±65504 (values of magnitude 65520 or more round to infinity)"
    case TFDType.Bfloat16 => "finite values up to ±3.3895314e38 (values of magnitude 3.3961776e38 or more round to infinity)"
    case integer => val (lo, hi) = integerRange(integer); s"integers from $lo to $hi"
  }

  /** The range of an integer dtype as longs (uint64: 0 to Long.MaxValue, the values a bigint can give). */
  def longRange(dtype: TFDType): (Long, Long) = {
    val (lo, hi) = integerRange(dtype)
    (lo.toLong, hi.min(BigInt(Long.MaxValue)).toLong)
  }

  /** float32 → float16 bits, round to nearest even (Eigen's `float_to_half_rtne`, as TF's Cast). */
  def floatToHalf(value: Float): Short = {
    var f = java.lang.Float.floatToRawIntBits(value)
    val sign = f & 0x80000000
    f ^= sign
    val half =
      if (f >= 0x47800000) { // 65536.0f and beyond: inf, NaN
        if (f > 0x7f800000) 0x7e00 else 0x7c00
      } else if (f < 0x38800000) { // below 2^-14: a subnormal half or zero; the float adder rounds to even
        val denormMagic = ((127 - 15) + (23 - 10) + 1) << 23
        java.lang.Float.floatToRawIntBits(java.lang.Float.intBitsToFloat(f) + java.lang.Float.intBitsToFloat(denormMagic)) - denormMagic
      } else {
        val mantOdd = (f >>> 13) & 1
        (f + 0xc8000fff + mantOdd) >>> 13 // rebias the exponent ((15 - 127) << 23), round half to even
      }
    (half | (sign >>> 16)).toShort
  }

  /** float16 bits → float32, exactly. */
  def halfToFloat(bits: Short): Float = {
    val h = bits & 0xffff
    val sign = (h & 0x8000) << 16
    val exponent = (h >>> 10) & 0x1f
    val mantissa = h & 0x3ff
    val magnitude =
      if (exponent == 0x1f) 0x7f800000 | (mantissa << 13) // inf, NaN (payload kept)
      else if (exponent != 0) ((exponent + 112) << 23) | (mantissa << 13)
      else if (mantissa == 0) 0
      else java.lang.Float.floatToRawIntBits(mantissa * 5.9604645e-8f) // 2^-24 per unit: exact
    java.lang.Float.intBitsToFloat(sign | magnitude)
  }

  /** float32 → bfloat16 bits, round to nearest even (Eigen's `float_to_bfloat16_rtne`, as TF's Cast). */
  def floatToBfloat16(value: Float): Short =
    if (value.isNaN) (if ((java.lang.Float.floatToRawIntBits(value) & 0x80000000) != 0) 0xffc0 else 0x7fc0).toShort
    else {
      val bits = java.lang.Float.floatToRawIntBits(value)
      val lsb = (bits >>> 16) & 1
      ((bits + 0x7fff + lsb) >>> 16).toShort
    }

  /** bfloat16 bits → float32, exactly. */
  def bfloat16ToFloat(bits: Short): Float = java.lang.Float.intBitsToFloat((bits & 0xffff) << 16)

  /** float32 → the bits of a half dtype (float16 or bfloat16). */
  def toHalf(dtype: TFDType, value: Float): Short =
    if (dtype == TFDType.Bfloat16) floatToBfloat16(value) else floatToHalf(value)

  /** The bits of a half dtype (float16 or bfloat16) → float32, exactly. */
  def fromHalf(dtype: TFDType, bits: Short): Float =
    if (dtype == TFDType.Bfloat16) bfloat16ToFloat(bits) else halfToFloat(bits)

  /** Whether finite `source` became ±infinity as the half-dtype `bits` (a range error for the caller). */
  def overflows(dtype: TFDType, source: Double, bits: Short): Boolean =
    !source.isInfinite && !source.isNaN && isInfinite(dtype, bits)

  /** Whether the half-dtype `bits` are ±infinity. */
  def isInfinite(dtype: TFDType, bits: Short): Boolean =
    (bits & 0x7fff) == (if (dtype == TFDType.Bfloat16) 0x7f80 else 0x7c00)
}
