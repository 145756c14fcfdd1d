package tfspark.sql

import org.apache.spark.sql.internal.SQLConf

import tfspark.errors.TFSparkErrors
import tfspark.tensor.NullPolicy

/**
 * The `spark.tfpredict.*` configuration keys (documented in README.md), read from the session's
 * SQL configuration, which includes every `--conf spark.tfpredict.*` given at start.
 */
object TFSparkConf {
  val Repository = "spark.tfpredict.repository"
  val DefaultModel = "spark.tfpredict.defaultModel"
  val BatchSize = "spark.tfpredict.batchSize"
  val NullPolicy = "spark.tfpredict.nullPolicy"
  val StrictInputs = "spark.tfpredict.strictInputs"
  val UnitOutputsAsArrays = "spark.tfpredict.unitOutputsAsArrays"

  val DefaultRepository = "models"

  def repository(conf: SQLConf = SQLConf.get): String = conf.getConfString(Repository, DefaultRepository)

  def defaultModel(conf: SQLConf = SQLConf.get): Option[String] =
    Option(conf.getConfString(DefaultModel, null)).map(_.trim).filter(_.nonEmpty)

  /** @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def batchSize(conf: SQLConf = SQLConf.get): Int = {
    val raw = conf.getConfString(BatchSize, "1024")
    raw.trim.toIntOption.filter(_ > 0).getOrElse(throw TFSparkErrors.invalidConfig(BatchSize, raw, "a positive integer"))
  }

  /** @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def nullPolicy(conf: SQLConf = SQLConf.get): NullPolicy = {
    val raw = conf.getConfString(NullPolicy, "error")
    tfspark.tensor.NullPolicy.parse(raw).getOrElse(throw TFSparkErrors.invalidConfig(NullPolicy, raw, "'error', 'null' or 'fill'"))
  }

  /** Whether a `[-1,1]` output is an `array` of one element rather than a scalar. */
  def unitOutputsAsArrays(conf: SQLConf = SQLConf.get): Boolean =
    conf.getConfString(UnitOutputsAsArrays, "false").trim.equalsIgnoreCase("true")

  /** Whether struct fields that feed no input are an error (UNEXPECTED_INPUT). */
  def strictInputs(conf: SQLConf = SQLConf.get): Boolean =
    conf.getConfString(StrictInputs, "false").trim.equalsIgnoreCase("true")
}
