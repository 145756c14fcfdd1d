package tfspark.tensor

import tfspark.conf.TFSparkConf
import tfspark.errors.TFSparkErrors
import tfspark.model.{TFDType, TensorTypes}

/**
 * How many rows one batch may hold, so that no setting can ask the JVM for an array it cannot
 * allocate (Java arrays hold at most 2^31 - 1 elements) or a batch buffer that swamps the
 * executor: at most [[TFSparkConf.MaxBatchSize]] rows, and at most [[MaxBatchBytes]] of input
 * buffers per batch of one call, from the signature's per-row sizes (a variable dimension counts
 * as 1; a string as its 24-byte `TF_TString` plus a reference, its bytes not counted).
 */
object BatchLimits {

  /** The input-buffer bytes one batch of one call may need: 1 GiB. */
  val MaxBatchBytes: Long = 1L << 30

  /** Approximate bytes of input buffer per row of `binding`'s batched inputs. */
  def bytesPerRow(binding: SignatureBinding): Long =
    binding.inputs.collect {
      case (spec, _, _) if InputFeeder.isBatched(spec) =>
        val values = spec.shape.map(_.drop(1).map(d => math.max(d, 1L)).product).getOrElse(1L)
        values * bytesPerValue(spec.dtype)
    }.sum

  /** The most rows per batch for `binding`. */
  def maxRows(binding: SignatureBinding): Int =
    math.min(TFSparkConf.MaxBatchSize.toLong, MaxBatchBytes / math.max(1L, bytesPerRow(binding))).toInt.max(1)

  /**
   * Checks `batchSize` against the global maximum and, given a binding, against its model's.
   *
   * @param source the configuration key (INVALID_CONFIG) or, when `isConfig` is false, the
   *   argument (INVALID_ARGUMENT) the value came from
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG or INVALID_ARGUMENT
   */
  def check(batchSize: Int, binding: Option[SignatureBinding], source: String, isConfig: Boolean): Unit = {
    def fail(got: String, expected: String) =
      if (isConfig) TFSparkErrors.invalidConfig(source, got, expected) else TFSparkErrors.invalidArgument(source, got, expected)
    if (batchSize < 1 || batchSize > TFSparkConf.MaxBatchSize) {
      throw fail(batchSize.toString, s"a number of rows from 1 to ${TFSparkConf.MaxBatchSize}")
    }
    binding.foreach { b =>
      val limit = maxRows(b)
      if (batchSize > limit) {
        val mb = batchSize.toLong * bytesPerRow(b) / (1L << 20)
        throw fail(
          s"$batchSize (a batch of ${b.model}:${b.signature} would need about $mb MB of input buffers)",
          s"at most $limit rows for this model (${MaxBatchBytes >> 20} MB per batch)"
        )
      }
    }
  }

  private def bytesPerValue(dtype: TFDType): Long = dtype match {
    case TFDType.String => 32 // a string: its TF_TString and a reference to its bytes
    case d if TFDType.Served.contains(d) => TensorTypes.byteWidth(d).toLong // numbers are buffered in their dtype's width
    case _ => 32
  }
}
