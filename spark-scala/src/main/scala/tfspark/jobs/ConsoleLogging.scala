package tfspark.jobs

import org.apache.logging.log4j.Level
import org.apache.logging.log4j.core.config.Configurator
import org.apache.spark.internal.Logging

/**
 * The console log level of tfspark's command-line jobs: WARN unless the driver's
 * `-Dtfspark.logLevel=LEVEL` says otherwise (`--driver-java-options -Dtfspark.logLevel=INFO` brings
 * Spark's INFO lines back). Spark's own default profile logs at INFO, and `SparkContext.setLogLevel`
 * comes too late for the start-up lines, so [[quiet]] runs before the session is built.
 */
object ConsoleLogging extends Logging {

  /** The driver's Java system property that sets the level. */
  val Property = "tfspark.logLevel"

  /** The level asked for: `-Dtfspark.logLevel`, else WARN (an unknown name is WARN too). */
  def level: Level = Level.toLevel(sys.props.getOrElse(Property, "WARN"), Level.WARN)

  /**
   * Initializes Spark's logging (its default profile, unless the user configured log4j) and sets
   * the root level to [[level]], so that the SparkContext's start-up is as quiet as what follows.
   */
  def quiet(): Unit = {
    log.isDebugEnabled // the first use of a Spark logger loads Spark's profile; the level set next then sticks
    Configurator.setRootLevel(level)
  }
}
