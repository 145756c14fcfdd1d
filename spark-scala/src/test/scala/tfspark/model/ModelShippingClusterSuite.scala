package tfspark.model

import java.io.File
import java.nio.file.Files

import scala.jdk.CollectionConverters._

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.apache.hadoop.hdfs.MiniDFSCluster
import org.apache.spark.SparkEnv
import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, GoldenRows, GoldenVectors, SparkSessionFixture, TFInference, TestModels}
import tfspark.conf.Precision

/**
 * How model versions reach separate executor JVMs (`local-cluster[2,1,1024]`), each way for real:
 *  - from a real HDFS (a `MiniDFSCluster` holding `linear` and `titanic`), the session's
 *    `spark.tfpredict.repository`, through SQL, the Transformer and BatchScore, against the
 *    golden vectors: executors copy each version from HDFS into their host's model cache;
 *  - from a local repository, fetched from the driver's file server, including a model shipped
 *    from the API and first used by a DataFrame query;
 *  - from a local repository declared shared (executors copy from its real path);
 * and a version whose files change after the driver read them is refused whichever way it goes.
 */
@tfspark.tags.ClusterTest
@tfspark.tags.HdfsTest
class ModelShippingClusterSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private var dfs: MiniDFSCluster = _
  private lazy val executorCache = TestModels.tempDir("tfspark-executor-cache")

  override protected def master: String = "local-cluster[2,1,1024]"

  /** Executors copy shared-filesystem versions into a cache of this suite's own. */
  override protected def extraConf: Map[String, String] =
    localClusterConf + ("spark.executorEnv.TFSPARK_MODEL_CACHE" -> executorCache.getPath)

  private def hdfsRoot: String = s"hdfs://localhost:${dfs.getNameNodePort}/models"

  override protected def repositoryRoot: String = hdfsRoot

  override def beforeAll(): Unit = {
    assert(sys.env.contains("SPARK_HOME"), "local-cluster needs SPARK_HOME (pyspark's package directory); bin/test sets it")
    val conf = new Configuration()
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, TestModels.tempDir("tfspark-minidfs").getPath)
    dfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build()
    try {
      dfs.waitActive()
      Seq("linear", "titanic").foreach { m =>
        dfs.getFileSystem.copyFromLocalFile(false, true, new Path(new File(TestModels.modelsDir, m).toURI), new Path(s"/models/$m"))
      }
      super.beforeAll()
    } catch { case e: Throwable => dfs.shutdown(); throw e }
  }

  override protected def onSessionStarted(): Unit = {
    val deadline = System.nanoTime() + 120L * 1000 * 1000 * 1000
    while (spark.sparkContext.getExecutorMemoryStatus.size < 3 && System.nanoTime() < deadline) Thread.sleep(200)
    assert(spark.sparkContext.getExecutorMemoryStatus.size === 3, "expected the driver and 2 executors")
  }

  override def afterAll(): Unit =
    try super.afterAll()
    finally if (dfs != null) dfs.shutdown()

  /** (executor id, JVM pid, folder loaded from, copies this JVM made into it, loads) from every executor. */
  private def onExecutors(model: ShippedModel): Seq[(String, Long, String, Int, Int)] =
    spark.sparkContext
      .parallelize(0 until 8, 8)
      .mapPartitions { _ =>
        ModelCache.acquire(model)
        val dir = model.localDirectory().getAbsolutePath
        Iterator(
          (
            SparkEnv.get.executorId,
            ProcessHandle.current().pid(),
            dir,
            VerifiedCopy.copyCounts.getOrElse(dir, 0),
            ModelCache.loadCount(model.sha256)
          )
        )
      }
      .collect()
      .distinct
      .toSeq

  private def golden(name: String) = GoldenVectors.read(new File(TestModels.modelsDir, s"$name/1"))

  /** A local repository with a fresh copy of `linear/1` (a marker file makes its content, so its identity, new). */
  private def freshLinear(marker: String): (File, ModelLocation) = {
    val repo = TestModels.tempDir("tfspark-fresh")
    val from = new File(TestModels.modelsDir, "linear/1").toPath
    Files.walk(from).iterator().asScala.filter(Files.isRegularFile(_)).foreach { f =>
      val to = new File(repo, s"fresh/1/${from.relativize(f)}").toPath
      Files.createDirectories(to.getParent)
      Files.copy(f, to)
    }
    Files.writeString(new File(repo, "fresh/1/marker.txt").toPath, marker)
    (repo, ModelRepository(repo.getPath).resolve("fresh"))
  }

  test("SQL tfpredict scores an hdfs:// repository: executors copy each version from HDFS once per host, verified") {
    for (name <- Seq("linear", "titanic")) {
      val g = golden(name)
      // Every signature, in at most three cases each (the local-cluster golden suite runs them all).
      for (c <- g.cases.groupBy(_.signature).values.flatMap(_.take(3))) {
        GoldenRows.dataFrame(spark, c, partitions = 2).createOrReplaceTempView("golden_input")
        val fields = c.inputs.keys.toSeq.sorted.mkString(", ")
        val got = spark
          .sql(s"SELECT id, tfpredict('$name:${c.signature}', struct($fields)) AS p FROM golden_input ORDER BY id")
          .collect()
          .toSeq
          .map(r => r.get(1) match { case struct: Row => struct; case value => value })
        GoldenRows.compare(g, c, got)
      }
      val location = ModelRepository(hdfsRoot).resolve(name)
      assert(location.source === Some(s"$hdfsRoot/$name/1"))
      val model = ShippedModel.ship(spark.sparkContext, location) // the one SQL shipped: same application and content
      assert(model.delivery.isInstanceOf[ModelDelivery.SharedFileSystem], model.delivery.describe)
      assert(model.delivery.describe.contains(s"$hdfsRoot/$name/1"))
      val reports = onExecutors(model)
      info(
        reports.map { case (id, pid, dir, copies, loads) => s"executor $id (pid $pid): $dir, copied $copies, loaded $loads" }.mkString("; ")
      )
      assert(reports.map(_._2).distinct.size === 2, "both executor JVMs ran tasks")
      assert(reports.forall(_._3.startsWith(executorCache.getAbsolutePath)), "executors load their own copy, from their model cache")
      assert(reports.map(_._3).distinct.size === 1, "one content, one folder on this host")
      assert(reports.groupBy(_._2).values.map(_.head._4).sum === 1, "the host's two executors copied it once between them")
      assert(reports.forall(_._5 == 1), "each executor JVM loaded it once")
      assert(ModelManifest.sha256(new File(reports.head._3)) === model.sha256, "the executors' copy is what the driver identified")
    }
  }

  test("the Transformer and BatchScore score the hdfs:// repository like the golden vectors") {
    val g = golden("titanic")
    for (c <- g.cases.filter(_.signature == "serving_default").take(2)) {
      val scorer = new tfspark.ml.TFModelTransformer().setModel("titanic").setOutputCol("p").setBatchSize(3)
      val got = scorer.transform(GoldenRows.dataFrame(spark, c, partitions = 2)).orderBy("id").collect().toSeq.map(_.getAs[Any]("p"))
      GoldenRows.compare(g, c, got)
    }
    // The Transformer's repository is spark.tfpredict.repository (a name only HDFS could resolve).
    checkError("MODEL_NOT_FOUND", Map("path" -> s"$hdfsRoot/nope")) {
      new tfspark.ml.TFModelTransformer().setModel("nope").transform(GoldenRows.dataFrame(spark, g.cases.head, partitions = 1))
    }
    val linear = golden("linear")
    for (c <- linear.cases.filter(_.name == "uniform_random")) {
      val dir = TestModels.tempDir("hdfs-batchscore")
      val (input, output) = (new File(dir, "in.parquet").getPath, new File(dir, "out").getPath)
      GoldenRows.dataFrame(spark, c, partitions = 2).write.parquet(input)
      val summary = tfspark.jobs.BatchScore.run(
        spark,
        tfspark.jobs.BatchScoreOptions.parse(Seq("--repository", hdfsRoot, "--model", "linear", "--input", input, "--output", output))
      )
      assert(summary.rows === GoldenRows.rowCount(c))
      GoldenRows.compare(linear, c, spark.read.parquet(output).orderBy("id").collect().toSeq.map(_.getAs[Any]("prediction")))
    }
  }

  test("a local repository: a model shipped from the API reaches fresh executors from the driver's file server, also through a DataFrame") {
    val (_, location) = freshLinear("served by the driver")
    val model = TFInference.ship(spark.sparkContext, location)
    assert(model.delivery.isInstanceOf[ModelDelivery.DriverFileServer], model.delivery.describe)
    val rows = (1 to 40).map(i => Array(i * 0.5f, -i * 0.25f))
    val expected = TFInference.predictLocal(location, rows).map(_.head)
    val session = spark
    import session.implicits._
    // A DataFrame query first: SQL executions run with the session's artifacts, not the API thread's.
    val df = rows.map(r => (r(0), r(1))).toDF("x1", "x2").selectExpr("array(x1, x2) AS features").repartition(4)
    val got = TFInference.predictDataFrame(df, model, "p").select("p").as[Float].collect().toSeq
    assert(got.sorted === expected.sorted)
    val reports = onExecutors(model)
    assert(reports.map(_._2).distinct.size === 2)
    assert(reports.forall(r => r._4 == 1 && r._5 == 1), s"each executor fetched and loaded it once: $reports")
    assert(reports.forall(_._3.contains("tfspark-models")), "the copy is in the executor's SparkFiles folder")

    // What else an executor (anyone who reaches the driver's RPC port) can read: nothing.
    val uris = model.delivery.asInstanceOf[ModelDelivery.DriverFileServer].uris
    val server = new java.net.URI(uris.head).getAuthority
    val up = "/.." * 12
    val attempts = Seq(
      s"${uris.head}$up/etc/hostname",
      s"spark://$server/files$up/etc/hostname",
      s"spark://$server/files//etc/hostname",
      s"spark://$server/tfspark-model-${model.sha256.take(32)}/saved_model.pb",
      s"spark://$server/tfspark-model-${model.sha256.take(32)}$up/etc/hostname",
      s"spark://$server/files/saved_model.pb",
      s"spark://$server/files/marker.txt"
    )
    val served = spark.sparkContext
      .parallelize(0 until 2, 2)
      .map { _ =>
        def read(uri: String) = scala.util.Try {
          val in = org.apache.spark.tfspark.DriverFiles.open(uri);
          try in.readAllBytes()
          finally in.close()
        }
        (read(uris.head).map(_.length).getOrElse(-1), attempts.filter(read(_).isSuccess))
      }
      .collect()
    assert(served.forall(_._1 > 0), "the manifest's files are served")
    assert(served.forall(_._2.isEmpty), s"served beyond the manifest: ${served.flatMap(_._2).distinct}")
  }

  test("a local repository declared shared: executors copy from its real path, links resolved") {
    val (repo, _) = freshLinear("read from a shared folder")
    // A completed entry of the executors' host cache, planted before they look: another model's files.
    val manifest = ModelManifest.read(new File(repo, "fresh/1"))
    val entry = new File(executorCache, s"fresh-1-${manifest.sha256.take(16)}")
    manifest.files.foreach { f =>
      val to = new File(entry, f.path)
      to.getParentFile.mkdirs()
      Files.copy(new File(repo, s"fresh/1/${f.path}").toPath, to.toPath)
    }
    val planted = new File(entry, manifest.files.find(_.path.startsWith("variables/variables.data")).get.path)
    val weights = Files.readAllBytes(planted.toPath)
    weights(weights.length - 1) = (weights(weights.length - 1) ^ 0x40).toByte // same size, other weights
    Files.write(planted.toPath, weights)
    val linked = new File(TestModels.tempDir("tfspark-shared-link"), "repo")
    Files.createSymbolicLink(linked.toPath, repo.toPath)
    val model =
      ShippedModel.ship(spark.sparkContext, ModelRepository(linked.getPath).resolve("fresh"), repositoryShared = true, Precision.Float32)
    val source = new File(repo, "fresh/1").toPath.toRealPath().toFile.toURI.toString
    assert(
      model.delivery === ModelDelivery.SharedFileSystem(
        source,
        ModelManifest.read(new File(repo, "fresh/1")).files,
        hadoopConfOf(model),
        s"fresh-1-${model.sha256.take(16)}"
      )
    )
    val input = (1 to 40).map(i => Array(i * 0.5f, -i * 0.25f))
    val rows = spark.sparkContext.parallelize(input, 4)
    val expected = TFInference.predictLocal(ModelRepository(repo.getPath).resolve("fresh"), input).map(_.toSeq)
    assert(TFInference.predictRDD(rows, model).collect().map(_.toSeq).toSeq === expected, "the model's answers, not the planted one's")
    val reports = onExecutors(model)
    assert(reports.forall(_._3 == entry.getAbsolutePath))
    assert(reports.groupBy(_._2).values.map(_.head._4).sum === 1)
    val rejected = spark.sparkContext
      .parallelize(0 until 8, 8)
      .map(_ => ProcessHandle.current().pid() -> VerifiedCopy.rejectCounts.getOrElse(entry.getAbsolutePath, 0))
      .collect()
      .toMap
    assert(rejected.values.sum === 1, s"the planted entry was refused once on this host, with one WARN: $rejected")
    assert(ModelManifest.sha256(entry) === model.sha256, "the planted files were replaced")
  }

  private def hadoopConfOf(model: ShippedModel) = model.delivery match {
    case d: ModelDelivery.SharedFileSystem => d.hadoopConf
    case other => fail(s"not a shared-filesystem delivery: $other")
  }

  test("a version whose files change after the driver read them is refused by the executors, whichever way it travels") {
    def tamper(file: File): Unit = {
      val bytes = Files.readAllBytes(file.toPath)
      bytes(bytes.length - 1) = (bytes(bytes.length - 1) ^ 1).toByte // same size, other content
      Files.write(file.toPath, bytes)
    }
    def refused(model: ShippedModel): Unit = {
      val rows = spark.sparkContext.parallelize(Seq(Array(1f, 2f)), 1)
      val e = checkError("MODEL_LOAD_FAILED", Map("model" -> model.name))(TFInference.predictRDD(rows, model).collect())
      assert(e.getMessage.contains(s"where the driver read ${model.sha256}"), e.getMessage)
    }

    // HDFS: the driver copied and identified the version; then it is replaced on HDFS.
    val fs = dfs.getFileSystem
    val (fresh, _) = freshLinear("changed on HDFS")
    fs.copyFromLocalFile(false, true, new Path(new File(fresh, "fresh/1").toURI), new Path("/models/changing/1"))
    val onHdfs = TFInference.ship(spark.sparkContext, ModelRepository(hdfsRoot).resolve("changing"))
    val data = fs.listStatus(new Path("/models/changing/1/variables")).map(_.getPath).find(_.getName.startsWith("variables.data")).get
    val local = new File(TestModels.tempDir("tfspark-changing"), "data")
    fs.copyToLocalFile(false, data, new Path(local.toURI), true)
    tamper(local)
    fs.copyFromLocalFile(false, true, new Path(local.toURI), data)
    refused(onHdfs)
    assert(
      Option(executorCache.listFiles()).toSeq.flatten.filter(_.getName.startsWith("changing-")).forall(_.getName.endsWith(".lock")),
      "a refused copy leaves no model folder"
    )

    // The driver's file server and a shared folder serve the files as they are when fetched.
    for (shared <- Seq(false, true)) {
      val (repo, location) = freshLinear(s"changed later, shared=$shared")
      val model = ShippedModel.ship(spark.sparkContext, location, repositoryShared = shared, Precision.Float32)
      tamper(
        Files
          .walk(new File(repo, "fresh/1/variables").toPath)
          .iterator()
          .asScala
          .find(_.getFileName.toString.startsWith("variables.data"))
          .get
          .toFile
      )
      refused(model)
    }
  }
}
