package tfspark

import org.apache.spark.sql.SparkSession
import org.scalatest.{BeforeAndAfterAll, Suite}

import tfspark.conf.TFSparkConf

/**
 * A small local SparkSession per suite, with tfspark's SQL extension and the committed model
 * repository. Suites override [[master]] for `local-cluster`.
 */
trait SparkSessionFixture extends BeforeAndAfterAll { self: Suite =>

  protected def master: String = "local[2]"
  protected def extraConf: Map[String, String] = Map.empty

  /** Whether the session starts with `spark.sql.extensions=tfspark.sql.TFSparkExtensions`. */
  protected def withExtension: Boolean = true

  /** `spark.tfpredict.repository`: fixed when the session starts, like in production. */
  protected def repositoryRoot: String = TestModels.modelsDir.getPath

  /**
   * What `local-cluster` executors need: the test classpath (sbt passes it as
   * `-Dtfspark.test.executorClasspath`), the shared JavaCPP cache, and a small heap.
   */
  protected def localClusterConf: Map[String, String] = {
    val classpath = sys.props.getOrElse("tfspark.test.executorClasspath", sys.error("sbt did not pass -Dtfspark.test.executorClasspath"))
    val nativeCache = sys.props.get("org.bytedeco.javacpp.cachedir").map(d => s"-Dorg.bytedeco.javacpp.cachedir=$d").getOrElse("")
    Map(
      "spark.executor.extraClassPath" -> classpath,
      "spark.executor.extraJavaOptions" -> nativeCache,
      "spark.executor.memory" -> "768m"
    )
  }

  @transient private var _spark: SparkSession = _
  protected def spark: SparkSession = _spark

  override def beforeAll(): Unit = {
    super.beforeAll()
    val builder = SparkSession
      .builder()
      .master(master)
      .appName(suiteName)
      .config("spark.ui.enabled", "false")
      .config("spark.ui.showConsoleProgress", "false")
      .config("spark.sql.shuffle.partitions", "5")
      .config(TFSparkConf.Repository, repositoryRoot)
      .config(TFSparkConf.DefaultModel, "linear")
    if (withExtension) builder.config("spark.sql.extensions", "tfspark.sql.TFSparkExtensions")
    extraConf.foreach { case (k, v) => builder.config(k, v) }
    _spark = builder.getOrCreate()
    _spark.sparkContext.setLogLevel("WARN")
    // ScalaTest skips afterAll when beforeAll fails: stop the session here, or the next suite
    // would get this (stopped) one back from getOrCreate.
    try onSessionStarted()
    catch { case e: Throwable => stopSession(); throw e }
  }

  /** Runs after the session starts; a failure stops the session and aborts the suite. */
  protected def onSessionStarted(): Unit = ()

  private def stopSession(): Unit =
    try if (_spark != null) _spark.stop()
    finally {
      _spark = null
      SparkSession.clearActiveSession()
      SparkSession.clearDefaultSession()
    }

  override def afterAll(): Unit =
    try stopSession()
    finally super.afterAll()
}
