package tfspark.model

import java.io.File
import java.nio.file.Files

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TFInference, TestModels}

/**
 * A model's identity is the hash of its resolved files, whatever symbolic links lead to them:
 * two linked versions with different files are two models, in one query too, and executors get
 * the real files. Mixed into a local[2] suite and the local-cluster suite.
 */
trait ModelIdentityBehaviour extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  override protected def repositoryRoot: String = TestModels.linkedRepository.getPath

  private def linked(relative: String) = new File(TestModels.linkedRepository, relative)
  private def committed(relative: String) = new File(TestModels.modelsDir, relative)

  private val passenger =
    "named_struct('pclass', 1, 'name', 'Doe, Mrs. Jane', 'sex', 'female', 'age', 30.0, 'sibsp', 0, 'parch', 0, 'fare', 50.0, 'cabin', 'C85', 'embarked', 'S')"

  test("links: version links to two different models keep two identities, and one query gets both right") {
    val (sha1, sha2) = (ModelManifest.sha256(linked("rolled/1")), ModelManifest.sha256(linked("rolled/2")))
    assert(sha1 === ModelManifest.sha256(committed("linear/1")), "a link must hash the files it leads to")
    assert(sha2 === ModelManifest.sha256(committed("covid/1")))
    assert(sha1 !== sha2, "two different linked models must not share an identity")

    val row = spark
      .sql(
        "SELECT tfpredict('rolled@1', array(1.0f, 2.0f)) AS a, " +
          "tfpredict('rolled@2', array(array(10.0f, 2.0f, 0.0f), array(12.0f, 3.0f, 1.0f))) AS b, " +
          "tfpredict('linear', array(1.0f, 2.0f)) AS a0, " +
          "tfpredict('covid', array(array(10.0f, 2.0f, 0.0f), array(12.0f, 3.0f, 1.0f))) AS b0"
      )
      .head()
    assert(row.getFloat(0) === row.getFloat(2), "rolled@1 is linear/1")
    assert(math.abs(row.getFloat(0) - 2.838135f) < 1e-5f)
    assert(row.getSeq[Float](1) === row.getSeq[Float](3), "rolled@2 is covid/1")
    assert(row.getSeq[Float](1).size === 3)
  }

  test("links: a version whose files are each a link serves the real files") {
    val manifest = ModelManifest.read(linked("filelinks/1"))
    val entries = manifest.files.map(f => f.path -> f.size).toMap
    assert(entries("saved_model.pb") === Files.size(committed("titanic/1/saved_model.pb").toPath))
    assert(entries.keys.exists(_.startsWith("variables/")))
    assert(manifest.sha256 === ModelManifest.sha256(committed("titanic/1")), "links to a version's files are that version")
    // Where tasks load it from: the driver's folder in local mode; on executors, a copy of the real files.
    val model = TFInference.ship(spark.sparkContext, ModelRepository(TestModels.linkedRepository.getPath).resolve("filelinks"))
    val loaded = spark.sparkContext
      .parallelize(0 until 4, 4)
      .map { _ =>
        val dir = model.localDirectory().toPath
        val files = Files.walk(dir).iterator().asScala.filter(p => !Files.isDirectory(p)).toList
        (files.count(Files.isSymbolicLink(_)), files.map(p => dir.relativize(p).toString -> Files.size(p)).toMap)
      }
      .collect()
    loaded.foreach { case (_, sizes) => assert(entries.forall { case (f, n) => sizes.get(f).contains(n) }, s"tasks see $sizes") }
    if (!spark.sparkContext.isLocal) {
      assert(loaded.forall(_._2 == entries), "executors get exactly the files the driver identified")
      assert(loaded.forall(_._1 == 0), "executors get real files, not links")
    }
    val Seq(viaLinks, direct) =
      spark.sql(s"SELECT tfpredict('filelinks', $passenger) AS p UNION ALL SELECT tfpredict('titanic', $passenger)").collect().toSeq
    assert(viaLinks.getAs[Row](0) === direct.getAs[Row](0))
  }

  test("links: the repository root, model names and versions resolve through links on every task") {
    val scored = spark
      .range(0, 64, 1, 4)
      .selectExpr("tfpredict('rolled@1', array(cast(id AS float), 1.0f)) AS p", "tfpredict('linear', array(cast(id AS float), 1.0f)) AS q")
      .collect()
    assert(scored.length === 64 && scored.forall(r => r.getFloat(0) == r.getFloat(1)))
    val model = TFInference.ship(spark.sparkContext, ModelRepository(TestModels.linkedRepository.getPath).resolve("rolled", Some(2L)))
    assert(model.sha256 === ModelManifest.sha256(committed("covid/1")))
  }

  test("links: two names of the same files share one shipment, and each keeps its own name in errors") {
    val repository = ModelRepository(TestModels.linkedRepository.getPath)
    val linear = TFInference.ship(spark.sparkContext, repository.resolve("linear"))
    val rolled = TFInference.ship(spark.sparkContext, repository.resolve("rolled", Some(1L)))
    assert(rolled.sha256 === linear.sha256 && (rolled.delivery eq linear.delivery), "one content, one shipment")
    assert((linear.name, rolled.name, rolled.version) === (("linear", "rolled", 1L)))
    // Executors keep one copy of the content, under the first name's folder, for both names.
    val copies = spark.sparkContext.parallelize(0 until 4, 4).map(_ => (linear.localDirectory(), rolled.localDirectory())).collect()
    assert(copies.forall { case (a, b) => a == b }, copies.toSeq)
    val oneBad = spark.range(0, 8, 1, 2).selectExpr("IF(id = 5, array(1.0f), array(cast(id AS float), 1.0f)) AS x")
    checkError("INPUT_SHAPE_MISMATCH", Map("model" -> "rolled"))(oneBad.selectExpr("tfpredict('rolled@1', x)").collect())
  }
}

/** [[ModelIdentityBehaviour]] on local[2], plus the folders that are not models. */
class ModelIdentitySuite extends ModelIdentityBehaviour {

  private def notAModel(dir: File)(expectedReason: String): Unit = {
    val e = checkError("MODEL_LOAD_FAILED", Map("model" -> dir.getName)) {
      TFInference.ship(spark.sparkContext, ModelLocation(dir.getName, 1, dir))
    }
    assert(e.getMessage.contains(expectedReason), e.getMessage)
  }

  test("an empty folder, a folder without saved_model.pb and a broken link are MODEL_LOAD_FAILED, never a cache hit") {
    val base = TestModels.tempDir("tfspark-not-models")
    val empty = new File(base, "empty"); empty.mkdirs()
    val noPb = new File(base, "nopb/variables"); noPb.mkdirs()
    Files.writeString(new File(noPb, "x.index").toPath, "not a model")
    val broken = new File(base, "broken")
    Files.createSymbolicLink(broken.toPath, new File(base, "nowhere").toPath)
    notAModel(empty)("holds no files")
    notAModel(noPb.getParentFile)("holds no saved_model.pb")
    notAModel(broken)("does not exist")
    val message = intercept[tfspark.errors.TFSparkException](ModelManifest.read(noPb.getParentFile)).getMessage
    assert(message.contains("no saved_model.pb"), message)
  }

  test("a version folder without saved_model.pb is not a version: MODEL_LOAD_FAILED names the missing file") {
    val repo = TestModels.tempDir("tfspark-partial")
    Files.createSymbolicLink(new File(repo, "m").toPath.toAbsolutePath, new File(TestModels.modelsDir, "linear").toPath.toAbsolutePath)
    new File(repo, "half/1").mkdirs()
    Files.createSymbolicLink(new File(repo, "half/2").toPath, new File(repo, "nowhere").toPath)
    val e = checkError("MODEL_LOAD_FAILED", Map("model" -> "half")) {
      ModelRepository(repo.getPath).resolve("half")
    }
    assert(e.getMessage.contains(s"${new File(repo, "half/1/saved_model.pb").getPath} is missing"), e.getMessage)
    assert(ModelRepository(repo.getPath).resolve("m").version === 1L)
  }
}
