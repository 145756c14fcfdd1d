package tfspark.errors

import scala.jdk.CollectionConverters._

import org.apache.spark.SparkThrowable

/**
 * The one exception type that tfspark throws for user-facing errors.
 *
 * `errorClass` is stable (tests and callers match on it); `messageParameters` hold what was
 * expected, what came, and where (model, signature, input, row). The message is rendered from the
 * catalog's template, so it always reads `[ERROR_CLASS] text`. It implements [[SparkThrowable]],
 * so Spark reports the condition as it does for its own errors.
 */
final class TFSparkException private[errors] (
    val errorClass: String,
    val messageParameters: Map[String, String],
    message: String,
    cause: Throwable
) extends RuntimeException(message, cause)
    with SparkThrowable {

  override def getCondition: String = errorClass

  override def getMessageParameters: java.util.Map[String, String] = messageParameters.asJava

  override def getSqlState: String = TFSparkErrors.sqlState(errorClass)
}

object TFSparkException {

  /** Finds a [[TFSparkException]] in `t`'s cause chain, as Spark wraps task failures. */
  def find(t: Throwable): Option[TFSparkException] =
    Iterator.iterate(t)(_.getCause).takeWhile(_ != null).take(32).collectFirst { case e: TFSparkException => e }
}
