package tfspark.model.warmup

import java.util.Base64

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.core.json.JsonReadFeature
import com.fasterxml.jackson.databind.{JsonNode, ObjectMapper}
import com.fasterxml.jackson.databind.json.JsonMapper
import org.tensorflow.Tensor

import tfspark.model.TFDType

/**
 * Reads tfspark's golden vectors (`assets.extra/golden.json`, written by the Python exporter) as
 * warm-up inputs: each case's inputs, by signature. Format: `cases[{signature, inputs{key:
 * {dtype, shape, data, encoding?}}}]`; strings are UTF-8 text or base64 (`encoding`), floats may be
 * `NaN`/`Infinity`.
 */
private[warmup] object GoldenCases {

  private val mapper: ObjectMapper = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build()

  /** @throws IllegalArgumentException when the document is not golden vectors */
  def read(json: String): Seq[ModelWarmup.WarmupInput] = {
    val doc =
      try mapper.readTree(json)
      catch { case e: Exception => throw new IllegalArgumentException(s"golden.json is not JSON: ${e.getMessage}", e) }
    val cases = Option(doc.get("cases")).filter(_.isArray).getOrElse(throw new IllegalArgumentException("golden.json has no cases"))
    cases.elements().asScala.toSeq.map { c =>
      val signature = Option(c.get("signature")).map(_.asText()).getOrElse("serving_default")
      val inputs = c.get("inputs").properties().asScala.toSeq.map(e => e.getKey -> e.getValue)
      ModelWarmup.WarmupInput(
        signature,
        () => {
          val built = scala.collection.mutable.LinkedHashMap.empty[String, Tensor]
          try {
            inputs.foreach { case (key, entry) => built(key) = tensor(entry) }
            built.toMap
          } catch { case e: Throwable => built.values.foreach(_.close()); throw e }
        }
      )
    }
  }

  private def tensor(entry: JsonNode): Tensor = {
    val dtype = TFDType(entry.get("dtype").asText())
    val shape = entry.get("shape").elements().asScala.map(_.asLong()).toArray
    val base64 = Option(entry.get("encoding")).exists(_.asText() == "base64")
    val values = entry
      .get("data")
      .elements()
      .asScala
      .map { v =>
        val value: Any =
          if (v.isTextual) (if (base64) Base64.getDecoder.decode(v.asText()) else v.asText())
          else if (v.isBoolean) v.asBoolean()
          else if (v.isIntegralNumber) (if (v.canConvertToLong) v.asLong() else BigInt(v.bigIntegerValue())) // uint64 above 2^63 - 1
          else v.asDouble()
        value
      }
      .toIndexedSeq
    WarmupTensors.of(dtype, shape, values)
  }
}
