package tfspark.sql

import org.apache.spark.sql.internal.SQLConf

import tfspark.errors.TFSparkErrors

/**
 * The `spark.tfpredict.*` configuration keys (documented in README.md), read from the session's
 * SQL configuration, which includes every `--conf spark.tfpredict.*` given at start.
 */
object TFSparkConf {
  val Repository = "spark.tfpredict.repository"
  val DefaultModel = "spark.tfpredict.defaultModel"
  val BatchSize = "spark.tfpredict.batchSize"
  val NullPolicy = "spark.tfpredict.nullPolicy"

  val DefaultRepository = "models"

  sealed trait NullPolicyValue

  /** A null input row fails the query with NULL_INPUT (the default: nothing is dropped silently). */
  case object NullIsError extends NullPolicyValue

  /** A null input row gives a null prediction, as most SQL functions do. */
  case object NullGivesNull extends NullPolicyValue

  def repository(conf: SQLConf = SQLConf.get): String = conf.getConfString(Repository, DefaultRepository)

  def defaultModel(conf: SQLConf = SQLConf.get): Option[String] =
    Option(conf.getConfString(DefaultModel, null)).map(_.trim).filter(_.nonEmpty)

  /** @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def batchSize(conf: SQLConf = SQLConf.get): Int = {
    val raw = conf.getConfString(BatchSize, "1024")
    raw.trim.toIntOption.filter(_ > 0).getOrElse(throw TFSparkErrors.invalidConfig(BatchSize, raw, "a positive integer"))
  }

  /** @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def nullPolicy(conf: SQLConf = SQLConf.get): NullPolicyValue =
    conf.getConfString(NullPolicy, "error").trim.toLowerCase match {
      case "error" => NullIsError
      case "null" => NullGivesNull
      case other => throw TFSparkErrors.invalidConfig(NullPolicy, other, "'error' or 'null'")
    }
}
