package tfspark.model

import java.io.File
import java.nio.file.{Files, StandardCopyOption}

import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TestModels}
import tfspark.conf.TFSparkConf

/** Copies of committed models as new versions, made distinct by a stamp file (so each is its own identity). */
object RolledVersions {

  /** Writes `<repo>/<name>/<version>/`: a copy of `source` plus `assets/rollout.txt` saying `version`. */
  def add(repo: File, name: String, version: Long, source: File): File = {
    val target = new File(repo, s"$name/$version")
    val staging = new File(repo, s".$name-$version.staging")
    val from = source.toPath
    val files = Files.walk(from).iterator()
    while (files.hasNext) {
      val f = files.next()
      val to = staging.toPath.resolve(from.relativize(f).toString)
      if (Files.isDirectory(f)) Files.createDirectories(to)
      else if (!from.relativize(f).toString.startsWith("assets.extra")) Files.copy(f, to, StandardCopyOption.REPLACE_EXISTING)
    }
    Files.createDirectories(staging.toPath.resolve("assets"))
    Files.writeString(staging.toPath.resolve("assets/rollout.txt"), s"version $version\n")
    target.getParentFile.mkdirs()
    Files.move(staging.toPath, target.toPath, StandardCopyOption.ATOMIC_MOVE) // appears whole, as deployments do
    target
  }
}

/** `name@version` references, versions that appear while a session runs, and the bounded model cache. */
class ModelVersionsSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private lazy val repo = TestModels.tempDir("tfspark-versions")

  override protected def repositoryRoot: String = repo.getPath
  override protected def extraConf: Map[String, String] = Map(TFSparkConf.MaxLoadedModels -> "2")

  private val linear = new File(TestModels.modelsDir, "linear/1")
  private val covid = new File(TestModels.modelsDir, "covid/1")

  test("ModelReference parses name, name@version, name:signature and name@version:signature") {
    assert(ModelReference.parse("titanic") === ModelReference("titanic", None, "serving_default"))
    assert(ModelReference.parse("titanic@3") === ModelReference("titanic", Some(3L), "serving_default"))
    assert(ModelReference.parse("titanic:features") === ModelReference("titanic", None, "features"))
    assert(ModelReference.parse("titanic@12:features") === ModelReference("titanic", Some(12L), "features"))
    for (bad <- Seq("", "@2", "m@", "m@0", "m@-1", "m@x", "m:", "m@2:")) {
      checkError("INVALID_ARGUMENT", Map("what" -> "the model reference", "got" -> s"'$bad'"))(ModelReference.parse(bad))
    }
  }

  test("a version that appears while the session runs is used by the next query; an analysed query keeps its own") {
    RolledVersions.add(repo, "m", 1, linear)
    val before = spark.sql("SELECT tfpredict('m', array(1.0f, 2.0f)) AS p") // analysed now: version 1
    assert(before.schema("p").dataType === org.apache.spark.sql.types.FloatType)
    RolledVersions.add(repo, "m", 2, covid) // a new version with another signature
    val after = spark.sql("SELECT tfpredict('m', array(array(10.0f, 2.0f, 0.0f))) AS p")
    assert(after.head().getSeq[Float](0).size === 3, "the next query runs version 2 (covid)")
    assert(math.abs(before.head().getFloat(0) - 2.838135f) < 1e-5f, "the query analysed before the roll still runs version 1")
    assert(math.abs(spark.sql("SELECT tfpredict('m@1', array(1.0f, 2.0f))").head().getFloat(0) - 2.838135f) < 1e-5f)
    checkError("MODEL_VERSION_NOT_FOUND", Map("model" -> "m", "version" -> "7", "available" -> "1, 2")) {
      spark.sql("SELECT tfpredict('m@7', array(1.0f, 2.0f))")
    }
    checkError("INVALID_ARGUMENT", Map("what" -> "the model reference")) {
      spark.sql("SELECT tfpredict('m@latest', array(1.0f, 2.0f))")
    }
  }

  test("the per-JVM cache keeps at most spark.tfpredict.maxLoadedModels versions loaded, least recently used out first") {
    (3L to 6L).foreach { v =>
      RolledVersions.add(repo, "n", v, linear)
      assert(math.abs(spark.sql(s"SELECT tfpredict('n@$v', array(1.0f, 2.0f))").head().getFloat(0) - 2.838135f) < 1e-5f)
      assert(ModelCache.loaded.size <= 2, s"after version $v: ${ModelCache.loaded}")
    }
    val newest = ModelManifest.sha256(new File(repo, "n/6"))
    assert(ModelCache.loaded.contains(newest), "the version used last stays loaded")
    assert(!ModelCache.loaded.contains(ModelManifest.sha256(new File(repo, "n/3"))), "the least recently used was closed")
    // A closed version loads again on its next use.
    assert(math.abs(spark.sql("SELECT tfpredict('n@3', array(1.0f, 2.0f))").head().getFloat(0) - 2.838135f) < 1e-5f)
  }

  test("spark.tfpredict.maxLoadedModels must be a positive integer") {
    spark.sparkContext.getConf // the key is read from the application's configuration
    val conf = org.apache.spark.SparkEnv.get.conf
    conf.set(TFSparkConf.MaxLoadedModels, "zero")
    try checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.MaxLoadedModels, "got" -> "zero"))(TFSparkConf.maxLoadedModels())
    finally conf.set(TFSparkConf.MaxLoadedModels, "2")
  }
}
