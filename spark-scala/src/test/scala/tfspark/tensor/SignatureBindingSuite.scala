package tfspark.tensor

import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import tfspark.ErrorChecks
import tfspark.model.{SignatureSpec, TFDType, TensorSpec}

/** Which signature shapes tfspark serves, how, and how it refuses the others. */
class SignatureBindingSuite extends AnyFunSuite with ErrorChecks {

  private def spec(inputs: Seq[TensorSpec], outputs: Seq[TensorSpec]) = SignatureSpec("serving_default", inputs, outputs)
  private val f32 = TFDType.Float32

  test("scalar inputs only: one run per row, outputs without a batch dimension") {
    val b = SignatureBinding.bind("m", spec(Seq(TensorSpec("x", f32, Some(Nil))), Seq(TensorSpec("y", f32, Some(Nil)))), FloatType)
    assert(b.perRow && b.resultType === FloatType)
    val vector = SignatureBinding.bind("m", spec(Seq(TensorSpec("x", f32, Some(Nil))), Seq(TensorSpec("y", f32, Some(Seq(3L))))), FloatType)
    assert(vector.resultType === ArrayType(FloatType, containsNull = false))
  }

  test("a scalar input beside a batched one is served; the binding is batched") {
    val s = spec(
      Seq(TensorSpec("t", f32, Some(Nil)), TensorSpec("text", TFDType.String, Some(Seq(-1L)))),
      Seq(TensorSpec("y", f32, Some(Seq(-1L))))
    )
    val b = SignatureBinding.bind("m", s, StructType(Seq(StructField("t", FloatType), StructField("text", StringType))))
    assert(!b.perRow && b.resultType === FloatType)
  }

  test("shapes tfspark cannot feed are UNSUPPORTED_SIGNATURE naming the input or output") {
    val arg = ArrayType(FloatType, containsNull = false)
    checkError("UNSUPPORTED_SIGNATURE", Map("reason" -> "input x has the fixed first dimension 8 (shape [8,2])")) {
      SignatureBinding.bind("m", spec(Seq(TensorSpec("x", f32, Some(Seq(8L, 2L)))), Seq(TensorSpec("y", f32, Some(Seq(-1L))))), arg)
    }
    checkError("UNSUPPORTED_SIGNATURE", Map("reason" -> "output total has shape [], without a batch dimension, while inputs are batched")) {
      SignatureBinding.bind("m", spec(Seq(TensorSpec("x", f32, Some(Seq(-1L, 2L)))), Seq(TensorSpec("total", f32, Some(Nil)))), arg)
    }
    checkError("UNSUPPORTED_SIGNATURE", Map("reason" -> "output flat has unknown rank")) {
      SignatureBinding.bind("m", spec(Seq(TensorSpec("x", f32, Some(Seq(-1L, 2L)))), Seq(TensorSpec("flat", f32, None))), arg)
    }
    checkError("UNSUPPORTED_SIGNATURE", Map("reason" -> "it has no inputs")) {
      SignatureBinding.bind("m", spec(Nil, Seq(TensorSpec("c", f32, Some(Seq(-1L))))), StructType(Nil))
    }
    checkError("UNSUPPORTED_SIGNATURE", Map("reason" -> "output h is complex64")) {
      SignatureBinding.bind(
        "m",
        spec(Seq(TensorSpec("x", f32, Some(Seq(-1L, 2L)))), Seq(TensorSpec("h", TFDType("complex64"), Some(Seq(-1L))))),
        arg
      )
    }
  }

  test("an unknown-rank input is batched and takes its rank from the Spark type") {
    val b =
      SignatureBinding.bind("m", spec(Seq(TensorSpec("x", f32, None)), Seq(TensorSpec("y", f32, Some(Seq(-1L))))), ArrayType(FloatType))
    assert(!b.perRow)
  }
}
