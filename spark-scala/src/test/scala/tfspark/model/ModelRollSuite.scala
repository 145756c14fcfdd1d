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

  test(s"20 versions roll through one executor: at most $bound stay loaded, and its RSS stays flat") {
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
    // TF's allocator grows once in the first versions; a leak would grow with every version after that.
    val (at10, at20) = (figures(9)._3, figures.last._3)
    info(s"executor RSS: $at10 MB after version 10, $at20 MB after version 20 (${at20 - at10} MB drift over 10 versions)")
    assert(at20 - at10 < 50, s"the executor's RSS grew from $at10 MB to $at20 MB over the last 10 versions")
  }
}
