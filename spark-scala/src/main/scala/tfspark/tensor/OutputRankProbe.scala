package tfspark.tensor

import scala.util.Using

import org.apache.spark.sql.catalyst.expressions.Literal
import org.apache.spark.sql.catalyst.util.GenericArrayData
import org.apache.spark.sql.types.{ArrayType, DataType}
import org.tensorflow.Tensor

import tfspark.errors.TFSparkErrors
import tfspark.model.{Composite, ModelCache, ShippedModel, TensorSpec}

/**
 * Decides, at analysis time, the rank of the outputs whose SignatureDef gives none (a TF1
 * placeholder without a shape): runs the model once, on the driver, on a synthetic batch of
 * [[Rows]] rows built from the bound Spark types (zeros, `false`, empty strings; every variable
 * dimension 1), through the same feeders as real batches. Each such output then has shape
 * `[-1, -1, ...]` of the rank it returned (sizes stay variable), and [[OutputDecoder]] checks every
 * later batch against that rank.
 */
private[tensor] object OutputRankProbe {

  val Rows = 2

  /**
   * `binding`'s outputs with every unknown rank decided.
   *
   * @throws tfspark.errors.TFSparkException UNSUPPORTED_SIGNATURE naming the output when the model
   *   fails on the synthetic batch or returns no batch dimension, saying what to re-export
   */
  def resolve(binding: SignatureBinding, shipped: ShippedModel): Seq[TensorSpec] = {
    val unknown = binding.outputs.filter(_.shape.isEmpty).map(_.key)
    def refuse(reason: String) =
      TFSparkErrors.unsupportedSignature(
        binding.model,
        binding.signature,
        s"output ${unknown.mkString(", ")} has unknown rank, and $reason",
        "outputs of known rank: re-export the model with shapes on its placeholders " +
          "(e.g. tf.compat.v1.placeholder(tf.float32, [None, 4]) rather than shape=None) so every output's rank is known"
      )
    val tensors = scala.collection.mutable.LinkedHashMap.empty[String, Tensor]
    try {
      binding.inputs.foreach { case (spec, sparkType, _) =>
        val feeder = BatchFeeder.create(binding.model, binding.signature, spec, sparkType, fillNulls = false)
        (0 until (if (feeder.batched) Rows else 1)).foreach(_ => feeder.add(synthetic(spec, sparkType), "a synthetic row"))
        feeder.tensors(0, feeder.size).foreach(tensors += _)
      }
      ModelCache.withHandle(shipped.sha256, shipped.location) { handle =>
        Using.resource(handle.run(binding.signature, tensors.toMap)) { result =>
          binding.outputs.map { o =>
            if (o.shape.isDefined) o
            else {
              val dims = result.get(o.key).orElseThrow().shape().asArray()
              if (dims.isEmpty || dims(0) != Rows) {
                throw refuse(s"on a synthetic batch of $Rows rows it returned shape [${dims.mkString(",")}], without a batch dimension")
              }
              o.copy(shape = Some(Seq.fill(dims.length)(-1L)))
            }
          }
        }
      }
    } catch {
      case e: RuntimeException if e.getClass.getName.startsWith("org.tensorflow.exceptions.") =>
        val first = Option(e.getMessage).flatMap(_.linesIterator.nextOption()).getOrElse(e.getClass.getName)
        throw refuse(s"the model failed on the synthetic batch (zeros, empty strings) that would decide it: $first")
    } finally tensors.values.foreach(_.close())
  }

  /** One row of `sparkType` for `spec`: each array as long as the spec's fixed dimension there, else 1. */
  private def synthetic(spec: TensorSpec, sparkType: DataType): Any = {
    val ragged = spec.composite.collect { case r: Composite.Ragged => r.raggedRank }.getOrElse(0)
    val dims = spec.shape.map(_.drop(1)).getOrElse(Nil)
    def build(t: DataType, level: Int): Any = t match {
      case ArrayType(e, _) =>
        val n = if (level >= ragged && level < dims.size && dims(level) >= 0) dims(level).toInt else 1
        new GenericArrayData(Array.fill[Any](n)(build(e, level + 1)))
      case leaf => Literal.default(leaf).value
    }
    build(sparkType, 0)
  }
}
