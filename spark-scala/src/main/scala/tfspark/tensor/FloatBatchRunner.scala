package tfspark.tensor

import scala.util.Using

import org.tensorflow.types.TFloat32

import tfspark.model.SavedModelHandle

/**
 * Runs one batch through a [[DenseFloatBinding]]'s signature: one `Session.run` per batch.
 * The input tensor and the `Result` (which owns the output tensors) are closed before returning;
 * the returned array is plain JVM memory owned by the caller.
 */
final class FloatBatchRunner(handle: SavedModelHandle, val binding: DenseFloatBinding) {

  /** Returns the outputs of the batcher's rows, row-major: `size * outputWidth` floats. */
  def run(batch: FloatMatrixBatcher): Array[Float] = {
    val out = new Array[Float](batch.size * binding.outputWidth)
    if (batch.isEmpty) return out
    Using.resource(batch.toTensor()) { input =>
      Using.resource(handle.run(binding.signature, Map(binding.inputKey -> input))) { result =>
        val tensor = result.get(binding.outputKey).orElseThrow().asInstanceOf[TFloat32]
        val expected = batch.size.toLong * binding.outputWidth
        require(tensor.size() == expected, s"model ${binding.model} returned ${tensor.shape()} for ${batch.size} rows")
        tensor.asRawTensor().data().asFloats().read(out)
      }
    }
    out
  }
}
