package tfspark

import org.scalatest.Suite

/**
 * A [[SparkSessionFixture]] on `local-cluster[2,1,1024]`: two executor JVMs started from SPARK_HOME
 * (pyspark's package directory, which bin/test sets), which see models and op libraries only
 * through what tfspark ships. The suite starts once both executors have registered.
 */
trait LocalClusterFixture extends SparkSessionFixture { self: Suite =>

  override protected def master: String = "local-cluster[2,1,1024]"

  override protected def extraConf: Map[String, String] = localClusterConf

  override def beforeAll(): Unit = {
    assert(sys.env.contains("SPARK_HOME"), "local-cluster needs SPARK_HOME (pyspark's package directory); bin/test sets it")
    super.beforeAll()
  }

  override protected def onSessionStarted(): Unit = {
    val deadline = System.nanoTime() + 120L * 1000 * 1000 * 1000
    while (spark.sparkContext.getExecutorMemoryStatus.size < 3 && System.nanoTime() < deadline) Thread.sleep(200)
    assert(spark.sparkContext.getExecutorMemoryStatus.size === 3, "expected the driver and 2 executors")
  }
}
