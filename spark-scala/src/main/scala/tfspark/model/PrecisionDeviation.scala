package tfspark.model

import scala.jdk.CollectionConverters._
import scala.jdk.OptionConverters._
import scala.util.Using

import org.tensorflow.{Result, Tensor}
import org.tensorflow.types.TString

import tfspark.conf.Precision
import tfspark.model.warmup.ModelWarmup

/**
 * How far one output of a model loaded in bfloat16 moved from float32 on the model's warm-up
 * inputs, over `values` elements: `maxDeviation`, the largest `|bfloat16 - float32| / max(1,
 * |float32|)` (the absolute difference for values within ±1, such as probabilities; the relative one
 * beyond, where bfloat16's 8-bit significand makes absolute differences grow with the value), and
 * `maxAbsolute`, the largest plain difference. A string output that differs at all, or a value that
 * is NaN or infinite in one precision only, is an infinite deviation.
 */
final case class OutputDeviation(signature: String, output: String, maxDeviation: Double, maxAbsolute: Double, values: Long) {
  override def toString: String =
    s"$output ${OutputDeviation.number(maxDeviation)}" + (if (maxAbsolute > 1) s" (|Δ| up to ${OutputDeviation.number(maxAbsolute)})"
                                                          else "")
}

object OutputDeviation {

  /** `1.7e-03`, `0`, `inf`: how reports print a deviation. */
  def number(d: Double): String = if (d == 0) "0" else if (d.isInfinite) "inf" else f"$d%.1e"
}

/**
 * What loading a model in bfloat16 changed, measured once per load ([[ModelCache]]) on the real
 * inputs its warm-up uses ([[ModelWarmup.sources]]: TF Serving's warm-up requests or the golden
 * vectors), run through the model in bfloat16 and in float32. A synthetic warm-up row (zeros, empty
 * strings) measures nothing: zeros pass through a network's matmuls unchanged in any precision.
 *
 * @param source where the inputs came from, per measured signature
 * @param unmeasured each signature that nothing measured, with why (`serving_default (only a
 *   synthetic warm-up row)`)
 */
final case class PrecisionDeviation(outputs: Seq[OutputDeviation], source: Map[String, String], unmeasured: Seq[String]) {

  /** The largest deviation of any output (0 when nothing was measured). */
  def maxDeviation: Double = outputs.map(_.maxDeviation).maxOption.getOrElse(0.0)

  /** The outputs whose deviation is beyond `limit`. */
  def beyond(limit: Double): Seq[OutputDeviation] = outputs.filter(o => !(o.maxDeviation <= limit))

  /** `deviation from float32: probability 2.1e-3, label 0`, signature-qualified when there are several. */
  def summary: String = {
    val several = outputs.map(_.signature).distinct.size > 1
    val measured = outputs.map(o => if (several) s"${o.signature}.$o" else o.toString).mkString(", ")
    val notMeasured = if (unmeasured.isEmpty) "" else s"; not measured: ${unmeasured.mkString(", ")}"
    s"deviation from float32: $measured$notMeasured"
  }
}

object PrecisionDeviation {

  /**
   * Measures `loaded` (a model loaded in bfloat16) against the same version loaded in float32,
   * which this call loads, uses and closes. `loaded` stays open and belongs to the caller.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED when the float32 load fails
   */
  def measure(loaded: SavedModelHandle): PrecisionDeviation = {
    val (plan, synthetic) = ModelWarmup.sources(loaded.location.directory, loaded.signatures).partition(_._2 != ModelWarmup.Synthetic)
    Using.resource(SavedModelHandle.load(loaded.location, Precision.Float32)) { reference =>
      val bySignature = plan.map { case (signature, _, inputs) =>
        val runs = inputs.flatMap { input =>
          Using.resource(new Inputs(input.tensors())) { in =>
            // An input the model rejects (a synthetic row) measures nothing; the warm-up already said so.
            scala.util.Try(loaded.run(signature, in.tensors)).toOption.flatMap { low =>
              Using.resource(low) { l =>
                scala.util.Try(reference.run(signature, in.tensors)).toOption.map { full =>
                  Using.resource(full)(f => compare(signature, loaded.signatures(signature), l, f))
                }
              }
            }
          }
        }
        signature -> runs
      }
      val outputs = bySignature.flatMap { case (signature, runs) =>
        runs.flatten.groupBy(_.output).toSeq.sortBy(_._1).map { case (output, each) =>
          OutputDeviation(signature, output, each.map(_.maxDeviation).max, each.map(_.maxAbsolute).max, each.map(_.values).sum)
        }
      }
      val unmeasured = bySignature.collect { case (signature, runs) if runs.isEmpty => s"$signature (its warm-up inputs did not run)" } ++
        synthetic.map { case (signature, _, _) => s"$signature (only a synthetic warm-up row)" } ++
        loaded.signatures.keys.filterNot(k => plan.exists(_._1 == k) || synthetic.exists(_._1 == k)).map(k => s"$k (no warm-up inputs)")
      val measured = bySignature.collect { case (signature, runs) if runs.nonEmpty => signature }.toSet
      PrecisionDeviation(outputs, plan.collect { case (s, src, _) if measured(s) => s -> src }.toMap, unmeasured.sorted)
    }
  }

  private def compare(signature: String, spec: SignatureSpec, low: Result, full: Result): Seq[OutputDeviation] =
    spec.outputs.flatMap { out =>
      (low.get(out.key).toScala, full.get(out.key).toScala) match {
        case (Some(l), Some(f)) => Some(deviation(signature, out.key, l, f))
        case _ => None
      }
    }

  private def deviation(signature: String, output: String, low: Tensor, full: Tensor): OutputDeviation =
    (low, full) match {
      case (l: TString, f: TString) =>
        val (a, b) =
          (l.asBytes().scalars().asScala.map(_.getObject().toSeq).toSeq, f.asBytes().scalars().asScala.map(_.getObject().toSeq).toSeq)
        val same = a == b
        OutputDeviation(
          signature,
          output,
          if (same) 0 else Double.PositiveInfinity,
          if (same) 0 else Double.PositiveInfinity,
          a.size.toLong
        )
      case _ =>
        val (a, b) = (values(low), values(full))
        var (maxAbs, maxScaled) = (0.0, 0.0)
        if (a.length != b.length) { maxAbs = Double.PositiveInfinity; maxScaled = Double.PositiveInfinity }
        else
          a.indices.foreach { i =>
            val d =
              if (a(i).isNaN && b(i).isNaN) 0.0
              else if (a(i) == b(i)) 0.0 // equal infinities too
              else math.abs(a(i) - b(i))
            val diff = if (d.isNaN) Double.PositiveInfinity else d
            maxAbs = math.max(maxAbs, diff)
            val scale = if (b(i).isNaN || b(i).isInfinite) 1.0 else math.max(1.0, math.abs(b(i)))
            maxScaled = math.max(maxScaled, diff / scale)
          }
        OutputDeviation(signature, output, maxScaled, maxAbs, a.length.toLong)
    }

  /** Every element of a numeric or bool tensor, as doubles. */
  private def values(t: Tensor): Array[Double] = {
    val data = t.asRawTensor().data()
    val n = t.shape().size().toInt
    val dtype = TFDType.fromProto(t.dataType())
    def each(f: Int => Double): Array[Double] = Array.tabulate(n)(f)
    dtype match {
      case TFDType.Float32 => val b = data.asFloats(); each(i => b.getFloat(i.toLong).toDouble)
      case TFDType.Float64 => val b = data.asDoubles(); each(i => b.getDouble(i.toLong))
      case TFDType.Int32 | TFDType.Uint32 => val b = data.asInts(); each(i => b.getInt(i.toLong).toDouble)
      case TFDType.Int64 | TFDType.Uint64 => val b = data.asLongs(); each(i => b.getLong(i.toLong).toDouble)
      case TFDType.Int16 | TFDType.Uint16 => val b = data.asShorts(); each(i => b.getShort(i.toLong).toDouble)
      case TFDType.Float16 | TFDType.Bfloat16 =>
        val b = data.asShorts(); each(i => NumericValues.fromHalf(dtype, b.getShort(i.toLong)).toDouble)
      case TFDType.Bool => val b = data.asBooleans(); each(i => if (b.getBoolean(i.toLong)) 1.0 else 0.0)
      case TFDType.Uint8 => each(i => (data.getByte(i.toLong) & 0xff).toDouble)
      case TFDType.Int8 => each(i => data.getByte(i.toLong).toDouble)
      case other => throw new IllegalStateException(s"output dtype $other has no numeric values")
    }
  }

  /** Closes every tensor of a map. */
  private final class Inputs(val tensors: Map[String, Tensor]) extends AutoCloseable {
    override def close(): Unit = tensors.values.foreach(_.close())
  }
}
