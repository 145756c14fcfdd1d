package tfspark.model

import org.tensorflow.Tensor

/**
 * One synthetic row for a signature's warm-up: zeros, `false` and empty strings, one row in the
 * batch dimension and 1 in every other variable dimension (never an empty batch: oneDNN's Conv2D
 * mishandles 0 rows, DESIGN.md §11). `None` when an input's shape does not allow it (unknown
 * rank, a dtype tfspark cannot feed).
 */
private[model] object SyntheticRow {

  def of(signature: SignatureSpec): Option[ModelWarmup.WarmupInput] = {
    val feedable = (d: TFDType) => TFDType.Served.contains(d) && TensorTypes.unavailable(d).isEmpty
    if (signature.inputs.isEmpty || signature.inputs.exists(i => i.shape.isEmpty || !feedable(i.dtype))) None
    else
      Some(
        ModelWarmup.WarmupInput(
          signature.key,
          () => {
            val built = scala.collection.mutable.LinkedHashMap.empty[String, Tensor]
            try {
              signature.inputs.foreach { i =>
                val dims = i.shape.get.map(d => if (d < 0) 1L else d).toArray
                val zero: Any = if (i.dtype == TFDType.String) "" else if (i.dtype == TFDType.Bool) false else 0
                built(i.key) = WarmupTensors.of(i.dtype, dims, IndexedSeq.fill(dims.product.toInt)(zero))
              }
              built.toMap
            } catch { case e: Throwable => built.values.foreach(_.close()); throw e }
          }
        )
      )
  }
}
