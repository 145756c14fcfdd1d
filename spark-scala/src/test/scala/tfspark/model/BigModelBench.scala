package tfspark.model

import java.io.File
import java.lang.management.{ManagementFactory, MemoryType}
import java.nio.file.{Files, Paths}

import scala.jdk.CollectionConverters._

import org.apache.spark.SparkEnv
import org.apache.spark.sql.SparkSession

import tfspark.TFInference
import tfspark.conf.TFSparkConf

/**
 * The JVM half of `bench/big_model.sh` (a slow tier, never run by `bin/test`): scores the
 * generated model `big` (`bench/big_model.py`, over 2 GiB of variables) through SQL `tfpredict`
 * on `local-cluster`, checks every prediction against its closed form, and writes what it measured
 * as JSON: wall times per phase, the driver's heap (peak used, sampled every 5 ms, and the heap
 * pools' own peaks), the driver's peak resident set, and what each executor JVM holds.
 *
 * Usage: `BigModelBench REPOSITORY fileserver|shared N ROWS REPORT.json`, with the system property
 * `tfspark.test.executorClasspath` (the executors' classpath, as sbt passes it to the tests).
 */
object BigModelBench {

  /** The highest `totalMemory - freeMemory` seen, sampled by a daemon thread. */
  private final class HeapSampler extends Thread("heap-sampler") {
    @volatile var peak = 0L
    @volatile private var running = true
    setDaemon(true)
    override def run(): Unit = {
      val rt = Runtime.getRuntime
      while (running) {
        peak = math.max(peak, rt.totalMemory() - rt.freeMemory())
        Thread.sleep(5)
      }
    }
    def finish(): Long = { running = false; join(); peak }
  }

  private def mb(bytes: Long): Long = bytes / (1024 * 1024)

  private def statusKb(field: String): Long =
    Files
      .readAllLines(Paths.get("/proc/self/status"))
      .asScala
      .find(_.startsWith(field + ":"))
      .map(_.replaceAll("[^0-9]", "").toLong)
      .getOrElse(-1L)

  private def sizeOf(dir: File): Long =
    if (!dir.exists()) 0L else Files.walk(dir.toPath).iterator().asScala.filter(Files.isRegularFile(_)).map(Files.size).sum

  private def timed[T](body: => T): (T, Double) = {
    val t0 = System.nanoTime()
    val result = body
    (result, (System.nanoTime() - t0) / 1e9)
  }

  def main(args: Array[String]): Unit = {
    val (repository, mode, nArg, rowsArg, reportPath) = args match {
      case Array(r, m, n, rows, report) => (r, m, n, rows, report)
      case _ => sys.error("usage: BigModelBench REPOSITORY fileserver|shared N ROWS REPORT.json")
    }
    require(mode == "fileserver" || mode == "shared", s"mode is fileserver or shared, not $mode")
    val (n, rows) = (nArg.toLong, rowsArg.toLong)
    ManagementFactory.getMemoryPoolMXBeans.asScala.foreach(_.resetPeakUsage())
    val sampler = new HeapSampler
    sampler.start()

    val classpath = sys.props.getOrElse("tfspark.test.executorClasspath", sys.error("-Dtfspark.test.executorClasspath is missing"))
    val nativeCache = sys.props.get("org.bytedeco.javacpp.cachedir").map(d => s"-Dorg.bytedeco.javacpp.cachedir=$d").getOrElse("")
    val spark = SparkSession
      .builder()
      .master(sys.props.getOrElse("tfspark.bench.master", "local-cluster[2,1,1024]"))
      .appName(s"BigModelBench-$mode")
      .config("spark.ui.enabled", "false")
      .config("spark.sql.extensions", "tfspark.sql.TFSparkExtensions")
      .config(TFSparkConf.Repository, repository)
      .config(TFSparkConf.RepositoryShared, (mode == "shared").toString)
      .config("spark.executor.extraClassPath", classpath)
      .config("spark.executor.extraJavaOptions", nativeCache)
      .config("spark.executor.memory", "768m")
      .config("spark.executorEnv.TFSPARK_MODEL_CACHE", sys.env.getOrElse("TFSPARK_MODEL_CACHE", ModelRepository.localCache.getPath))
      .getOrCreate()
    val sc = spark.sparkContext
    sc.setLogLevel("WARN")
    Files.writeString(Paths.get(reportPath + ".app"), sc.applicationId) // bench/big_model.sh removes its work folders
    try {
      val deadline = System.nanoTime() + 120L * 1000 * 1000 * 1000
      while (sc.getExecutorMemoryStatus.size < 3 && System.nanoTime() < deadline) Thread.sleep(200)
      require(sc.getExecutorMemoryStatus.size == 3, "expected the driver and 2 executors")

      // Driver: identify (stream + SHA-256), load and warm up once, and make the files reachable.
      val location = ModelRepository(repository).resolve("big")
      val (manifest, hashSeconds) = timed(ModelManifest.read(location.directory))
      val (shipped, shipSeconds) = timed(TFInference.ship(sc, location))

      val expected = s"CAST(pmod(id, $n) % 1000 + 1000 * ((pmod(id, $n) DIV 1000) % 1000) AS FLOAT)"
      val query =
        s"SELECT count(*) AS n, sum(CASE WHEN v = e THEN 0 ELSE 1 END) AS wrong, min(v) AS lo, max(v) AS hi FROM " +
          s"(SELECT tfpredict('big', id) AS v, $expected AS e FROM range(${n - rows / 2}, ${n + rows / 2}, 1, 8))"
      // A fresh plan each time (a DataFrame collected twice reuses its shuffle): the first run includes the executors' copies and loads.
      val (first, firstSeconds) = timed(spark.sql(query).head())
      val (second, secondSeconds) = timed(spark.sql(query).head())
      require(first.getLong(0) == rows && first.getLong(1) == 0L, s"wrong predictions: $first")
      require(second.getLong(0) == rows && second.getLong(1) == 0L, s"wrong predictions: $second")

      val sha = shipped.sha256
      val executors = sc
        .parallelize(0 until 16, 16)
        .mapPartitions { _ =>
          ModelCache.acquire(shipped)
          val dir = shipped.localDirectory()
          val files = Files.walk(dir.toPath).iterator().asScala.filter(p => !Files.isDirectory(p)).toList
          Iterator(
            (
              SparkEnv.get.executorId,
              ProcessHandle.current().pid(),
              ModelCache.loadCount(sha),
              dir.getAbsolutePath,
              mb(sizeOf(dir)),
              files.count(Files.isSymbolicLink(_)),
              VerifiedCopy.copyCounts.getOrElse(dir.getAbsolutePath, 0),
              statusKb("VmHWM") / 1024
            )
          )
        }
        .collect()
        .groupBy(_._1)
        .values
        .map(_.maxBy(_._8)) // one line per executor, with its highest resident set
        .toSeq
        .sortBy(_._1)
      require(executors.map(_._2).distinct.length == 2, s"expected 2 executor JVMs: ${executors.toSeq}")
      require(executors.forall(_._3 == 1), s"each executor JVM loads the model once: ${executors.toSeq}")
      require(executors.forall(_._6 == 0), "executors hold real files")

      val heapPeak = sampler.finish()
      val poolPeaks = ManagementFactory.getMemoryPoolMXBeans.asScala.filter(_.getType == MemoryType.HEAP).map(_.getPeakUsage.getUsed).sum
      val report =
        s"""{
           |  "mode": "$mode",
           |  "delivery": "${shipped.delivery.describe}",
           |  "application": "${sc.applicationId}",
           |  "model_bytes": ${manifest.totalBytes},
           |  "model_files": ${manifest.files.size},
           |  "largest_file_bytes": ${manifest.files.map(_.size).max},
           |  "sha256": "$sha",
           |  "rows": $rows,
           |  "wrong": ${first.getLong(1) + second.getLong(1)},
           |  "driver_hash_s": $hashSeconds,
           |  "driver_ship_s": $shipSeconds,
           |  "first_query_s": $firstSeconds,
           |  "second_query_s": $secondSeconds,
           |  "driver_heap_max_mb": ${mb(Runtime.getRuntime.maxMemory())},
           |  "driver_heap_peak_used_mb": ${mb(heapPeak)},
           |  "driver_heap_pools_peak_mb": ${mb(poolPeaks)},
           |  "driver_rss_peak_mb": ${statusKb("VmHWM") / 1024},
           |  "executors": [${executors
            .map { case (id, pid, loads, dir, sizeMb, _, copies, rss) =>
              s"""{"id": "$id", "pid": $pid, "loads": $loads, "dir": "$dir", "dir_mb": $sizeMb, "copies_in_this_jvm": $copies, "rss_peak_mb": $rss}"""
            }
            .mkString(", ")}]
           |}
           |""".stripMargin
      Files.writeString(Paths.get(reportPath), report)
      print(report)
    } finally spark.stop()
  }
}
