package tfspark.conf

/**
 * The arithmetic a model runs in (`spark.tfpredict.precision`, the Transformer's `precision`,
 * BatchScore's `--precision`). Part of a loaded model's identity: the same version loaded in both
 * precisions is two sessions ([[tfspark.model.ModelCache]]).
 *  - [[Precision.Float32]], the default: the model's own graph, as TF's Python runs it.
 *  - [[Precision.BFloat16]]: TF's grappler rewrite `auto_mixed_precision_onednn_bfloat16` runs
 *    the matmuls and convolutions in bfloat16 with oneDNN (everything else stays float32). Only on
 *    a CPU with bfloat16 instructions ([[tfspark.model.Bfloat16Support]]), and only while the
 *    model's outputs on its warm-up inputs stay within `maxDeviation` of float32's
 *    ([[tfspark.model.PrecisionDeviation]]).
 */
sealed trait Precision extends Serializable {

  /** The setting's word for it: `float32` or `bfloat16`. */
  def name: String

  override def toString: String = name
}

object Precision {

  /** The default: the graph as exported. */
  case object Float32 extends Precision { override val name = "float32" }

  /**
   * bfloat16 matmuls and convolutions, refused when an output moves more than `maxDeviation` from
   * float32 on the model's warm-up inputs (`|Δ| / max(1, |float32|)`:
   * [[tfspark.model.OutputDeviation]]).
   */
  final case class BFloat16(maxDeviation: Double) extends Precision { override val name = "bfloat16" }

  val Names: Seq[String] = Seq(Float32.name, "bfloat16")

  /**
   * `spark.tfpredict.precision.maxDeviation`'s default: five steps of bfloat16's 8-bit significand
   * (2^-8 each). The committed models stay within 1.4e-2 (docs/precision.md).
   */
  val DefaultMaxDeviation: Double = 0.02

  /** The precision named `word` (any case) with `maxDeviation`; `None` for another word. */
  def of(word: String, maxDeviation: Double): Option[Precision] = word.trim.toLowerCase match {
    case "float32" => Some(Float32)
    case "bfloat16" => Some(BFloat16(maxDeviation))
    case _ => None
  }
}
