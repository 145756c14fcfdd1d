package tfspark.errors

import java.util.concurrent.atomic.AtomicBoolean

import org.apache.logging.log4j.LogManager
import org.apache.logging.log4j.core.{Filter, LogEvent, LoggerContext}
import org.apache.logging.log4j.core.filter.AbstractFilter
import org.apache.spark.SparkEnv

import tfspark.conf.TFSparkConf

/**
 * Keeps a tfspark error from being logged once per task on the driver's console.
 *
 * When a task fails with a [[TFSparkException]] (a null input, a row the model cannot score), the
 * job fails and the caller gets that exception, with its error class, from `collect`, `show`,
 * `spark-sql` or pyspark. Spark would also log it, with its stack trace, from `Executor` for
 * every failed task of a local session ("Exception in task ...") and from `TaskSetManager` for each
 * loss ("Lost task ..."): three or more copies of one message. With
 * `spark.tfpredict.taskErrorLogs=once` (the default) this filter drops those copies on the driver,
 * and only Spark's one-line "Task N in stage S failed K times; aborting job" stays; `all` keeps
 * Spark's logging as it is. Executors of a cluster log their task errors in their own logs as
 * always. Any other exception is untouched.
 */
final class TaskErrorLogFilter extends AbstractFilter(Filter.Result.DENY, Filter.Result.NEUTRAL) {

  override def filter(event: LogEvent): Filter.Result =
    if (TaskErrorLogFilter.Loggers.contains(event.getLoggerName) && TaskErrorLogFilter.isTFSparkError(event)) onMatch
    else onMismatch
}

object TaskErrorLogFilter {
  private val Loggers = Set("org.apache.spark.executor.Executor", "org.apache.spark.scheduler.TaskSetManager")
  private val ClassName = classOf[TFSparkException].getName
  private val installed = new AtomicBoolean(false)

  private def isTFSparkError(event: LogEvent): Boolean =
    Option(event.getThrown).flatMap(TFSparkException.find).isDefined ||
      Option(event.getMessage).exists(m => Option(m.getFormattedMessage).exists(_.contains(ClassName)))

  /**
   * Adds the filter to the root logger of this JVM's log4j configuration, once, unless the
   * application sets `spark.tfpredict.taskErrorLogs=all`. Called on the driver when a session gets
   * tfspark (the extension, `TFSparkSQL.register`/`install`).
   *
   * @throws TFSparkException INVALID_CONFIG for another value of the key
   */
  def install(): Unit =
    if (Option(SparkEnv.get).forall(env => TFSparkConf.taskErrorLogsOnce(env.conf)) && installed.compareAndSet(false, true)) {
      LogManager.getContext(false) match {
        case context: LoggerContext =>
          context.getConfiguration.getRootLogger.addFilter(new TaskErrorLogFilter)
          context.updateLoggers()
        case _ => // another logging backend: Spark's logging stays as it is
      }
    }
}
