package tfspark.errors

import java.util.concurrent.ConcurrentLinkedQueue

import scala.jdk.CollectionConverters._

import org.apache.logging.log4j.{Level, LogManager}
import org.apache.logging.log4j.core.{LogEvent, LoggerContext}
import org.apache.logging.log4j.core.appender.AbstractAppender
import org.apache.logging.log4j.core.config.{Configurator, Property}
import org.apache.spark.SparkConf
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture}
import tfspark.conf.TFSparkConf

/** A tfspark error that fails a task is logged once on the driver, not once per task and loss. */
class TaskErrorLogFilterSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  /** Records what reaches the root logger's appenders at WARN and above (after its filters) while `body` runs. */
  private def logged(body: => Any): Seq[LogEvent] = loggedAt(Level.WARN)(body)

  private def loggedAt(level: Level)(body: => Any): Seq[LogEvent] = {
    val events = new ConcurrentLinkedQueue[LogEvent]()
    val appender = new AbstractAppender("capture", null, null, true, Property.EMPTY_ARRAY) {
      override def append(event: LogEvent): Unit = events.add(event.toImmutable)
    }
    appender.start()
    val root = LogManager.getContext(false).asInstanceOf[LoggerContext].getConfiguration.getRootLogger
    root.addAppender(appender, level, null)
    try body
    finally root.removeAppender("capture")
    events.asScala.toSeq
  }

  private def text(e: LogEvent): String =
    e.getMessage.getFormattedMessage + Option(e.getThrown).map(t => s" ${t.getClass.getName}: ${t.getMessage}").getOrElse("")

  test("a task's NULL_INPUT reaches the caller, and the driver logs nothing at WARN; 'aborting job' is at INFO") {
    val events = logged {
      checkError("NULL_INPUT") {
        spark.sql("SELECT tfpredict('linear', CAST(NULL AS ARRAY<FLOAT>)) FROM range(4)").collect()
      }
    }
    assert(!events.exists(e => text(e).contains("NULL_INPUT")), events.map(text).mkString("\n"))
    assert(!events.exists(e => text(e).contains("aborting job")), events.map(text).mkString("\n"))
    Configurator.setLevel("tfspark.errors.TaskErrors", Level.INFO)
    val info =
      try
        loggedAt(Level.INFO) {
          checkError("NULL_INPUT") {
            spark.sql("SELECT tfpredict('linear', CAST(NULL AS ARRAY<FLOAT>)) FROM range(4)").collect()
          }
        }
      finally Configurator.setLevel("tfspark.errors.TaskErrors", Level.WARN)
    assert(
      info.exists(e => e.getLoggerName == "tfspark.errors.TaskErrors" && e.getLevel == Level.INFO && text(e).contains("aborting job")),
      info.map(text)
    )
  }

  test("the other tasks of the failed stage, killed while running, are not logged with the message either") {
    // Partition 1 runs until Spark kills it (an event, not a length of time): the stage's abort after
    // partition 0's failure marks it interrupted. The 10-minute bound only stops a broken kill from hanging the suite.
    val slowly = org.apache.spark.sql.functions.udf { (id: Long) =>
      val context = org.apache.spark.TaskContext.get()
      val bound = System.nanoTime() + 600L * 1000 * 1000 * 1000
      if (id == 1) while (!context.isInterrupted() && System.nanoTime() < bound) Thread.sleep(20)
      if (id == 1 && !context.isInterrupted()) throw new IllegalStateException("partition 1 was never killed")
      id
    }
    val events = logged {
      checkError("NULL_INPUT") {
        // Two partitions run at once (local[2]): partition 0 fails at once, partition 1 is still running and is killed.
        spark
          .range(0, 2, 1, 2)
          .select(slowly(org.apache.spark.sql.functions.col("id")).as("id"))
          .selectExpr("tfpredict('linear', IF(id = 0, CAST(NULL AS ARRAY<FLOAT>), array(1.0f, 2.0f))) AS p")
          .collect()
      }
    }
    assert(!events.exists(e => text(e).contains("NULL_INPUT")), events.map(text).mkString("\n"))
  }

  test("another exception in a task is logged by Spark as always") {
    val events = logged {
      intercept[Exception](spark.sql("SELECT assert_true(id < 0, 'not a tfspark error') FROM range(2)").collect())
    }
    assert(events.exists(e => e.getLoggerName.endsWith("Executor") && text(e).contains("not a tfspark error")), events.map(text))
    assert(events.exists(e => e.getLoggerName.endsWith("TaskSetManager") && text(e).contains("aborting job")), events.map(text))
  }

  test("spark.tfpredict.taskErrorLogs takes once or all") {
    assert(TFSparkConf.taskErrorLogsOnce(new SparkConf(false)))
    assert(!TFSparkConf.taskErrorLogsOnce(new SparkConf(false).set(TFSparkConf.TaskErrorLogs, "ALL")))
    checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.TaskErrorLogs)) {
      TFSparkConf.taskErrorLogsOnce(new SparkConf(false).set(TFSparkConf.TaskErrorLogs, "twice"))
    }
  }
}
