package tfspark.tensor

import tfspark.errors.TFSparkErrors
import tfspark.model.{SignatureSpec, TFDType}

/**
 * How a signature with one float32 `[-1, width]` input and one float32 `[-1, outputWidth]`
 * output is fed and read. This is the shape of the book's chapter 6-7 model; other signatures are
 * rejected with UNSUPPORTED_SIGNATURE, naming what they have and what is expected.
 */
final case class DenseFloatBinding(model: String, signature: String, inputKey: String, width: Int, outputKey: String, outputWidth: Int) {

  /** The per-row output is a scalar when the output shape is `[-1, 1]`. */
  def scalarOutput: Boolean = outputWidth == 1
}

object DenseFloatBinding {
  private val Expected = "one float32 input of shape [-1,k] and one float32 output of shape [-1,m]"

  /** @throws tfspark.errors.TFSparkException UNSUPPORTED_SIGNATURE */
  def bind(model: String, spec: SignatureSpec): DenseFloatBinding = {
    def unsupported(reason: String) = TFSparkErrors.unsupportedSignature(model, spec.key, reason, Expected)
    def width(t: tfspark.model.TensorSpec): Int = t.shape match {
      case Some(Seq(-1L, k)) if k > 0 && t.dtype == TFDType.Float32 => k.toInt
      case _ => throw unsupported(s"tensor ${t.key} is ${t.dtype}${t.shapeString}")
    }
    (spec.inputs, spec.outputs) match {
      case (Seq(in), Seq(out)) => DenseFloatBinding(model, spec.key, in.key, width(in), out.key, width(out))
      case _ => throw unsupported(s"it has ${spec.inputs.size} inputs and ${spec.outputs.size} outputs")
    }
  }
}
