package tfspark

import org.apache.spark.SparkEnv

import tfspark.conf.Precision
import tfspark.model.{Bfloat16Support, ModelCache, ModelRepository}

/**
 * The same golden checks on `local-cluster[2,1,1024]`: two separate executor JVMs started from
 * SPARK_HOME (pyspark's package directory), which see the model only through what tfspark ships.
 * Also proves that each executor JVM loads a model at most once, and that models behind symbolic
 * links reach the executors as their real files ([[tfspark.model.ModelIdentityBehaviour]]).
 */
@tfspark.tags.ClusterTest
class LocalClusterSuite extends GoldenAgreementBehaviour with tfspark.model.ModelIdentityBehaviour with LocalClusterFixture {

  test("each executor JVM loads a model at most once, however many tasks and threads use it") {
    val shipped = TFInference.ship(spark.sparkContext, ModelRepository(TestModels.modelsDir.getPath).resolve("linear"))
    val rows = spark.sparkContext.parallelize((0 until 4000).map(i => Array(i.toFloat, -i.toFloat)), 16)
    // Two jobs of 16 tasks each: every task acquires the model from its JVM's cache.
    assert(TFInference.predictRDD(rows, shipped, batchSize = 64).count() === 4000)
    assert(TFInference.predictRDD(rows, shipped, batchSize = 100).count() === 4000)
    val sha = shipped.sha256
    val reports = spark.sparkContext
      .parallelize(0 until 16, 16)
      .mapPartitions { _ =>
        ModelCache.acquire(shipped)
        Iterator((SparkEnv.get.executorId, ProcessHandle.current().pid(), ModelCache.loadCount(sha)))
      }
      .collect()
      .distinct
      .sortBy(_._1)
    reports.foreach { case (id, pid, loads) => info(s"executor $id (JVM pid $pid): model ${shipped.name} loaded $loads time(s)") }
    val driverPid = ProcessHandle.current().pid()
    assert(reports.map(_._2).distinct.length === 2, s"expected 2 executor JVMs, saw $reports")
    assert(!reports.map(_._2).contains(driverPid), "tasks must run outside the driver JVM")
    assert(reports.forall(_._3 == 1), s"a model was loaded more than once in one JVM: $reports")
  }

  test("bfloat16: each executor JVM loads the model in bfloat16 once, with the driver's measure; float32 beside it is untouched") {
    Bfloat16Support.unsupportedReason.foreach(reason => cancel(s"this machine cannot run bfloat16: $reason"))
    val location = ModelRepository(TestModels.modelsDir.getPath).resolve("linear")
    val low = TFInference.ship(spark.sparkContext, location, precision = Precision.BFloat16(Precision.DefaultMaxDeviation))
    val full = TFInference.ship(spark.sparkContext, location, precision = Precision.Float32)
    val rows = spark.sparkContext.parallelize((0 until 400).map(i => Array(i / 8f, -i / 16f)), 4)
    val pairs = TFInference.predictRDD(rows, low, batchSize = 64).zip(TFInference.predictRDD(rows, full, batchSize = 64)).collect()
    assert(pairs.exists { case (a, b) => a.head != b.head }, "the executors ran bfloat16")
    val worst = pairs.map { case (a, b) => math.abs(a.head - b.head) / math.max(1.0, math.abs(b.head.toDouble)) }.max
    assert(worst <= Precision.DefaultMaxDeviation, s"worst deviation $worst")
    val reports = spark.sparkContext
      .parallelize(0 until 8, 8)
      .mapPartitions { _ =>
        val handle = ModelCache.acquire(low)
        Iterator((SparkEnv.get.executorId, ModelCache.loadCount(low.sha256, low.precision), handle.deviation))
      }
      .collect()
      .distinct
    assert(reports.map(_._1).distinct.length === 2, s"expected 2 executors, saw ${reports.toSeq}")
    // Executors do not receive the golden vectors (assets.extra/ stays on the driver): they take its measure.
    assert(low.deviation.exists(d => d.maxDeviation > 0 && d.unmeasured.isEmpty), low.deviation.toString)
    assert(reports.forall { case (_, loads, measured) => loads == 1 && measured == low.deviation }, reports.toSeq.toString)
  }
}
