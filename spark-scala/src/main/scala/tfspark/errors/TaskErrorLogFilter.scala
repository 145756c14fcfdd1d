package tfspark.errors

import java.util.concurrent.atomic.AtomicBoolean

import org.apache.logging.log4j.LogManager
import org.apache.logging.log4j.core.{Filter, LogEvent, LoggerContext}
import org.apache.logging.log4j.core.filter.AbstractFilter

/**
 * Keeps a tfspark error from being logged once per task on the driver's console.
 *
 * When a task fails with a [[TFSparkException]] (a null input, a row the model cannot score), the
 * job fails and the caller gets that exception, with its error class, from `collect`, `show`,
 * `spark-sql` or pyspark. Spark would also log it, with its stack trace, from `Executor` for
 * every failed task of a local session ("Exception in task ...") and from `TaskSetManager` for each
 * loss ("Lost task ..."), the stage's other running tasks as they are killed ("Lost task ...
 * TaskKilled (Stage cancelled: <the message>)"), and its ERROR line "Task N in stage S failed K times; aborting job":
 * three or more lines for an error the caller already holds. With
 * `spark.tfpredict.taskErrorLogs=once` (the default) this filter drops those copies on the driver,
 * and the "aborting job" line of a stage that failed with a tfspark error goes to INFO (logger
 * `tfspark.errors.TaskErrors`): at Spark's default level a caught error prints nothing. `all`
 * keeps Spark's logging as it is. Executors of a cluster log their task errors in their own logs
 * as always. Any other exception, and the "aborting job" line of any other failure, is untouched.
 */
final class TaskErrorLogFilter extends AbstractFilter(Filter.Result.DENY, Filter.Result.NEUTRAL) {
  import TaskErrorLogFilter._

  override def filter(event: LogEvent): Filter.Result =
    if (!Loggers.contains(event.getLoggerName)) onMismatch
    else if (isTFSparkError(event)) { stageOf(event).foreach(remember); onMatch }
    // The stage's other running tasks, killed when it failed: "Lost task ... TaskKilled (Stage cancelled: [NULL_INPUT] ...)".
    else if (formatted(event).contains("TaskKilled (Stage cancelled: [") && stageOf(event).exists(failedWithTFSparkError)) onMatch
    else
      abortedStage(event).filter(failedWithTFSparkError) match {
        case Some(_) => TaskErrors.info(event.getMessage.getFormattedMessage); onMatch
        case None => onMismatch
      }
}

object TaskErrorLogFilter {
  private val Loggers = Set("org.apache.spark.executor.Executor", "org.apache.spark.scheduler.TaskSetManager")
  private val ClassName = classOf[TFSparkException].getName
  private val installed = new AtomicBoolean(false)

  /** Where the "aborting job" line of a stage that failed with a tfspark error goes, at INFO. */
  private val TaskErrors = LogManager.getLogger("tfspark.errors.TaskErrors")

  private val LostTask = """\bin stage (\d+\.\d+)\b""".r.unanchored
  private val AbortingJob = """^Task \d+ in stage (\d+\.\d+) failed \d+ times?; aborting job""".r.unanchored

  /** Stages (`3.0`) whose tasks failed with a tfspark error, the most recent few. */
  private val tfsparkStages = java.util.Collections.synchronizedMap(new java.util.LinkedHashMap[String, java.lang.Boolean] {
    override def removeEldestEntry(e: java.util.Map.Entry[String, java.lang.Boolean]): Boolean = size() > 256
  })

  private def remember(stage: String): Unit = tfsparkStages.put(stage, true)
  private def failedWithTFSparkError(stage: String): Boolean = tfsparkStages.containsKey(stage)

  private def formatted(event: LogEvent): String = Option(event.getMessage).flatMap(m => Option(m.getFormattedMessage)).getOrElse("")

  private def stageOf(event: LogEvent): Option[String] = formatted(event) match {
    case LostTask(stage) => Some(stage)
    case _ => None
  }

  private def abortedStage(event: LogEvent): Option[String] = formatted(event) match {
    case AbortingJob(stage) => Some(stage)
    case _ => None
  }

  private def isTFSparkError(event: LogEvent): Boolean =
    Option(event.getThrown).flatMap(TFSparkException.find).isDefined ||
      Option(event.getMessage).exists(m => Option(m.getFormattedMessage).exists(_.contains(ClassName)))

  /**
   * Adds the filter to the root logger of this JVM's log4j configuration, once, when `once` (the
   * caller reads `spark.tfpredict.taskErrorLogs`: `conf.TFSparkConf.taskErrorLogsOnce()`, since
   * errors/ is the lowest layer and imports no configuration). Called on the driver when a session
   * gets tfspark (the extension, `TFSparkSQL.register`/`install`).
   */
  def install(once: Boolean): Unit =
    if (once && installed.compareAndSet(false, true)) {
      LogManager.getContext(false) match {
        case context: LoggerContext =>
          context.getConfiguration.getRootLogger.addFilter(new TaskErrorLogFilter)
          context.updateLoggers()
        case _ => // another logging backend: Spark's logging stays as it is
      }
    }
}
