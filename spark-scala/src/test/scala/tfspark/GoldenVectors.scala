package tfspark

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.core.json.JsonReadFeature
import com.fasterxml.jackson.databind.JsonNode
import com.fasterxml.jackson.databind.json.JsonMapper

/**
 * Reads `assets.extra/golden.json` (written by `tfspark.toolkit.golden`): generated inputs and
 * the outputs Python TF computed for them, with the tolerance both halves must meet.
 */
object GoldenVectors {

  /**
   * @param shape -1 for a ragged dimension
   * @param rowSplits a ragged tensor's `row_splits`, one per ragged dimension, outermost first (`data`
   *   is then its flat values); empty for a dense tensor
   */
  final case class Tensor(
      dtype: String,
      shape: Seq[Int],
      data: Seq[JsonNode],
      encoding: String = "utf-8",
      rowSplits: Seq[Seq[Int]] = Nil
  ) {
    def longs: Array[Long] = data.map(_.asLong()).toArray
    def bigInts: Array[BigInt] = data.map(n => BigInt(n.bigIntegerValue())).toArray // uint64 up to 2^64 - 1
    def doubles: Array[Double] = data.map(_.asDouble()).toArray
    def booleans: Array[Boolean] = data.map(_.asBoolean()).toArray
    def bytes: Array[Array[Byte]] = data.map { n =>
      if (encoding == "base64") java.util.Base64.getDecoder.decode(n.asText()) else n.asText().getBytes("UTF-8")
    }.toArray

    def floats: Array[Float] = data.map(_.asDouble().toFloat).toArray
    def rows: Seq[Array[Float]] = {
      val width = if (shape.size > 1) shape.tail.product else 1
      floats.grouped(width).toSeq.take(shape.head)
    }
  }

  final case class Case(name: String, signature: String, inputs: Map[String, Tensor], outputs: Map[String, Tensor])

  final case class File(model: String, version: Long, atol: Double, rtol: Double, cases: Seq[Case]) {
    def withinTolerance(expected: Float, got: Float): Boolean =
      expected == got || (expected.isNaN && got.isNaN) || math.abs(expected.toDouble - got) <= atol + rtol * math.abs(expected.toDouble)
  }

  private val mapper = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build()

  def read(exportDir: java.io.File): File = readFile(new java.io.File(exportDir, "assets.extra/golden.json"))

  /** Reads a golden-vector file wherever it is (the foreign-model corpus keeps them outside the models). */
  def readFile(json: java.io.File): File = {
    val root = mapper.readTree(json)
    def tensor(n: JsonNode) =
      Tensor(
        n.get("dtype").asText(),
        n.get("shape").elements().asScala.map(d => if (d.isNull) -1 else d.asInt()).toSeq,
        n.get("data").elements().asScala.toSeq,
        Option(n.get("encoding")).map(_.asText()).getOrElse("utf-8"),
        Option(n.get("row_splits")).toSeq.flatMap(_.elements().asScala.map(_.elements().asScala.map(_.asInt()).toSeq).toSeq)
      )
    def tensors(n: JsonNode) = n.properties().asScala.map(e => e.getKey -> tensor(e.getValue)).toMap
    val cases = root
      .get("cases")
      .elements()
      .asScala
      .map { c =>
        Case(c.get("name").asText(), c.get("signature").asText(), tensors(c.get("inputs")), tensors(c.get("outputs")))
      }
      .toSeq
    val tol = root.get("tolerance")
    File(root.get("model").asText(), root.get("version").asLong(), tol.get("atol").asDouble(), tol.get("rtol").asDouble(), cases)
  }
}
