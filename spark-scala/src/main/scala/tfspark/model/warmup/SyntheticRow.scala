package tfspark.model.warmup

import org.tensorflow.Tensor

import tfspark.model.{Composite, SignatureSpec, TFDType, TensorSpec, TensorTypes}

/**
 * One synthetic row for a signature's warm-up: zeros, `false` and empty strings, one row in the
 * batch dimension and 1 in every other variable dimension (never an empty batch: oneDNN's Conv2D
 * returns the input's shape for 0 rows, and the next layer fails). `None` when an input's shape does not allow it (unknown
 * rank, a dtype tfspark cannot feed, a sparse input). A ragged input gets one row whose ragged
 * dimensions have length 1.
 */
private[warmup] object SyntheticRow {

  def of(signature: SignatureSpec): Option[ModelWarmup.WarmupInput] = {
    val feedable = (d: TFDType) => TFDType.Served.contains(d) && TensorTypes.unavailable(d).isEmpty
    val dense = (i: TensorSpec) => i.composite.isEmpty
    val ragged = (i: TensorSpec) => i.composite.exists(_.isInstanceOf[Composite.Ragged])
    if (
      signature.inputs.isEmpty || signature.inputs.exists(i => i.shape.isEmpty || !feedable(i.dtype) || !(dense(i) || ragged(i))) ||
      signature.outputs.exists(_.composite.isDefined) // a ragged output: its components have no keys to fetch
    ) None
    else
      Some(
        ModelWarmup.WarmupInput(
          signature.key,
          () => {
            val built = scala.collection.mutable.LinkedHashMap.empty[String, Tensor]
            try {
              signature.inputs.foreach { i =>
                val zero: Any = if (i.dtype == TFDType.String) "" else if (i.dtype == TFDType.Bool) false else 0
                i.composite match {
                  case Some(r: Composite.Ragged) => // one row, every ragged dimension of length 1
                    r.componentKeys.tail.foreach(k => built(k) = WarmupTensors.of(r.rowSplits, Array(2L), IndexedSeq(0, 1)))
                    val dims = 1L +: i.shape.get.drop(1 + r.raggedRank).map(d => if (d < 0) 1L else d).toArray
                    built(r.componentKeys.head) = WarmupTensors.of(i.dtype, dims, IndexedSeq.fill(dims.product.toInt)(zero))
                  case _ =>
                    val dims = i.shape.get.map(d => if (d < 0) 1L else d).toArray
                    built(i.key) = WarmupTensors.of(i.dtype, dims, IndexedSeq.fill(dims.product.toInt)(zero))
                }
              }
              built.toMap
            } catch { case e: Throwable => built.values.foreach(_.close()); throw e }
          }
        )
      )
  }
}
