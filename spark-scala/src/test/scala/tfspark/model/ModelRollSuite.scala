package tfspark.model

import java.io.File

import org.scalatest.funsuite.AnyFunSuite

import tfspark.{SparkSessionFixture, TestModels}
import tfspark.conf.TFSparkConf

/**
 * Versions rolling through one long-lived executor JVM (`local-cluster[1,1,1024]`): 20 versions
 * appear one after another, each is queried by the next query, and the executor keeps at most
 * `spark.tfpredict.maxLoadedModels` of them loaded, with a flat resident set.
 */
@tfspark.tags.SoakTest
@tfspark.tags.ClusterTest
class ModelRollSuite extends AnyFunSuite with SparkSessionFixture {

  private val bound = 3
  private lazy val repo = TestModels.tempDir("tfspark-roll")

  override protected def master: String = "local-cluster[1,1,1024]"
  override protected def repositoryRoot: String = repo.getPath

  /**
   * The executor's heap is committed whole at start (`-Xms` = its memory, pre-touched), so that
   * G1 growing the committed heap in steps (up to ~100 MB, at versions that vary with the load)
   * is not read as native memory growing: bench/SOAK.md showed that growth, and that with a fixed
   * heap the RSS is flat.
   */
  override protected def extraConf: Map[String, String] = {
    val base = localClusterConf
    val fixedHeap = s"${base("spark.executor.extraJavaOptions")} -Xms${base("spark.executor.memory")} -XX:+AlwaysPreTouch"
    base ++ Map("spark.executor.extraJavaOptions" -> fixedHeap.trim, TFSparkConf.MaxLoadedModels -> bound.toString)
  }

  override def beforeAll(): Unit = {
    assert(sys.env.contains("SPARK_HOME"), "local-cluster needs SPARK_HOME (pyspark's package directory); bin/test sets it")
    super.beforeAll()
  }

  /** (models loaded, VmRSS in MB, loads so far) in the executor JVM. */
  private def probe(): (Int, Long, Int) =
    spark.sparkContext
      .parallelize(Seq(0), 1)
      .map { _ =>
        val rssKb = scala.io.Source
          .fromFile("/proc/self/status")
          .getLines()
          .collectFirst { case l if l.startsWith("VmRSS:") => l.split("\\s+")(1).toLong }
          .getOrElse(-1L)
        (ModelCache.loaded.size, rssKb / 1024, ModelCache.loadCounts.values.sum)
      }
      .collect()
      .head

  /**
   * Versions 1 to [[warmUp]] are the baseline: the cache fills, starts evicting, and TF's allocator
   * and the JIT make their one-time growth (at versions that vary with the load); the baseline is the
   * highest RSS seen in them. Versions after it are measured against it.
   */
  private val warmUp = 10

  /**
   * How far above the baseline the measured versions may go. bench/SOAK.md measured, with the heap
   * fixed as here, +22 MB of RSS over 90 queries on one executor (JIT code +13 MB, metaspace +4 MB,
   * thread stacks, TF's native memory +3 MB); [[warmUp]] versions later the measured versions do far
   * less work than that. A leak grows with each of the 10 measured versions (a model's graph, session
   * and threads each time) and passes the margin; the JVM's own drift stays under it.
   */
  private val marginMb = 48

  test(s"20 versions roll through one executor: at most $bound stay loaded, and its RSS stays within $marginMb MB of its baseline") {
    val linear = new File(TestModels.modelsDir, "linear/1")
    val figures = (1L to 20L).map { v =>
      RolledVersions.add(repo, "m", v, linear)
      val sum = spark.sql("SELECT sum(tfpredict('m', array(cast(id AS float), 1.0f))) FROM range(0, 20000, 1, 2)").head().getDouble(0)
      assert(sum > 0)
      val (loaded, rss, loads) = probe()
      assert(loaded <= bound, s"version $v: $loaded models loaded in the executor")
      (v, loaded, rss, loads)
    }
    figures.foreach { case (v, loaded, rss, loads) => info(f"version $v%2d: $loaded loaded, $loads loads so far, executor RSS $rss MB") }
    assert(figures.last._4 === 20, "each version was loaded once in the executor")
    val (baselineVersions, measured) = figures.splitAt(warmUp)
    val baseline = baselineVersions.map(_._3).max
    val (peakVersion, peak) = measured.map(f => (f._1, f._3)).maxBy(_._2)
    info(s"executor RSS: baseline $baseline MB (the highest of versions 1-$warmUp), highest after it $peak MB at version $peakVersion")
    assert(
      peak - baseline < marginMb,
      s"the executor's RSS reached $peak MB at version $peakVersion, ${peak - baseline} MB above its baseline $baseline MB (margin $marginMb MB)"
    )
  }
}
