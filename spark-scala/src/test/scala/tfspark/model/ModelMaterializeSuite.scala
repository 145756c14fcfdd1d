package tfspark.model

import java.io.File
import java.nio.file.Files
import java.util.concurrent.{CountDownLatch, Executors, TimeUnit}

import org.apache.spark.SparkConf
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, TestModels}
import tfspark.conf.TFSparkConf

/**
 * How a version's files are identified, routed and copied, without a cluster: the streamed
 * identity, the verified copy (what every executor does before it loads), and the choice between
 * the shared-filesystem and the file-server deliveries.
 */
class ModelMaterializeSuite extends AnyFunSuite with ErrorChecks {

  private val titanic = new File(TestModels.modelsDir, "titanic/1")

  /** Copies each file of `dir`'s manifest into the staging folder, as a delivery does. */
  private def copyFrom(dir: File)(file: ModelFile, destination: File, digest: ModelDigest): Unit =
    digest.copyTo(file, Files.newInputStream(new File(dir, file.path).toPath), destination)

  private def copy(from: File): File = {
    val to = new File(TestModels.tempDir("tfspark-copy"), from.getName)
    ModelManifest.read(from).files.foreach { f =>
      val target = new File(to, f.path)
      target.getParentFile.mkdirs()
      Files.copy(new File(from, f.path).toPath, target.toPath)
    }
    to
  }

  test("the streamed identity covers every serving file, leaves assets.extra out and is stable") {
    val m = ModelManifest.read(titanic)
    assert(m.files.map(_.path) === m.files.map(_.path).sorted)
    assert(m.files.exists(_.path == "saved_model.pb") && m.files.exists(_.path.startsWith("variables/")))
    assert(!m.files.exists(_.path.startsWith("assets.extra/")), "golden vectors and reports do not travel")
    assert(m.totalBytes === m.files.map(f => Files.size(new File(titanic, f.path).toPath)).sum)
    assert(m.sha256.matches("[0-9a-f]{64}"))
    val copied = copy(titanic)
    assert(ModelManifest.sha256(copied) === m.sha256, "the identity is the content, not the folder")
    Files.write(new File(copied, "extra.txt").toPath, "one more file".getBytes("UTF-8"))
    assert(ModelManifest.sha256(copied) !== m.sha256, "a file added to a version changes its identity")
  }

  test("materialize copies once, verifies the identity and leaves no staging folder") {
    val m = ModelManifest.read(titanic)
    val cache = TestModels.tempDir("tfspark-materialize")
    val target = new File(cache, "titanic-1")
    val pool = Executors.newFixedThreadPool(4)
    val start = new CountDownLatch(1)
    try {
      val results = (1 to 4).map { _ =>
        pool.submit(() => {
          start.await(); VerifiedCopy.materialize("titanic", titanic.getPath, target, m.files, m.sha256)(copyFrom(titanic))
        })
      }
      start.countDown()
      assert(results.map(_.get(60, TimeUnit.SECONDS)).distinct === Seq(target))
    } finally pool.shutdown()
    assert(VerifiedCopy.copyCounts(target.getAbsolutePath) === 1, "four threads asked, one copied")
    assert(ModelManifest.sha256(target) === m.sha256)
    assert(
      cache.list().filterNot(_.endsWith(".lock")).toSeq === Seq("titanic-1"),
      "no staging folder is left"
    )
  }

  test("a file that changed after the driver read it fails the copy with MODEL_LOAD_FAILED, leaving nothing behind") {
    val source = copy(new File(TestModels.modelsDir, "linear/1"))
    val m = ModelManifest.read(source)
    val data = m.files.find(_.path.startsWith("variables/variables.data")).get
    val bytes = Files.readAllBytes(new File(source, data.path).toPath)
    bytes(bytes.length - 1) = (bytes(bytes.length - 1) ^ 1).toByte // same size, other content
    Files.write(new File(source, data.path).toPath, bytes)
    val cache = TestModels.tempDir("tfspark-tampered")
    val target = new File(cache, "linear-1")
    val e = checkError("MODEL_LOAD_FAILED", Map("model" -> "linear", "path" -> "the repository")) {
      VerifiedCopy.materialize("linear", "the repository", target, m.files, m.sha256)(copyFrom(source))
    }
    assert(e.getMessage.contains(s"where the driver read ${m.sha256}"), e.getMessage)
    assert(!target.exists() && cache.list().forall(_.endsWith(".lock")), "a failed copy leaves no model and no staging folder")

    Files.write(new File(source, data.path).toPath, bytes.dropRight(1))
    val shorter = checkError("MODEL_LOAD_FAILED") {
      VerifiedCopy.materialize("linear", "the repository", target, m.files, m.sha256)(copyFrom(source))
    }
    assert(shorter.getMessage.contains(s"${data.path} has ${data.size - 1} bytes where the driver read ${data.size}"), shorter.getMessage)
  }

  test("a manifest path that would leave the model folder is refused") {
    val target = new File(TestModels.tempDir("tfspark-escape"), "m-1")
    val e = checkError("MODEL_LOAD_FAILED") {
      VerifiedCopy.materialize("m", "x", target, Seq(ModelFile("../outside", 1L)), "0" * 64)((_, _, _) => fail("nothing may be written"))
    }
    assert(e.getMessage.contains("escapes the model"))
  }

  test("route: local mode ships nothing, a Hadoop-filesystem repository is shared, a local one only when declared") {
    val dir = new File("/models/m/1")
    assert(ModelDelivery.route(localMode = true, Some("hdfs://nn/models/m/1"), dir, repositoryShared = false) === ModelDelivery.InDriverJvm)
    assert(
      ModelDelivery.route(localMode = false, Some("hdfs://nn/models/m/1"), dir, repositoryShared = false) ===
        ModelDelivery.FromSharedFileSystem("hdfs://nn/models/m/1")
    )
    assert(ModelDelivery.route(localMode = false, None, dir, repositoryShared = false) === ModelDelivery.FromDriver)
    assert(
      ModelDelivery.route(localMode = false, None, dir, repositoryShared = true) === ModelDelivery.FromSharedFileSystem("file:/models/m/1")
    )
  }

  test("spark.tfpredict.repositoryShared is true or false (default false)") {
    assert(!TFSparkConf.repositoryShared(new SparkConf(false)))
    assert(TFSparkConf.repositoryShared(new SparkConf(false).set(TFSparkConf.RepositoryShared, " TRUE ")))
    checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.RepositoryShared, "got" -> "yes")) {
      TFSparkConf.repositoryShared(new SparkConf(false).set(TFSparkConf.RepositoryShared, "yes"))
    }
  }

  /** Replaces `entry`'s files by `from`'s (a completed cache entry planted with another model). */
  private def plant(entry: File, from: File): Unit = {
    VerifiedCopy.deleteRecursively(entry)
    ModelManifest.read(from).files.foreach { f =>
      val to = new File(entry, f.path)
      to.getParentFile.mkdirs()
      Files.copy(new File(from, f.path).toPath, to.toPath)
    }
  }

  test("a completed cache entry holding another model's files is re-hashed, refused, copied again and warned about once") {
    val linear = new File(TestModels.modelsDir, "linear/1")
    val m = ModelManifest.read(linear)
    val cache = TestModels.tempDir("tfspark-planted")
    val target = new File(cache, s"linear-1-${m.sha256.take(16)}")
    plant(target, titanic) // complete (it has a saved_model.pb), and not linear
    val pool = Executors.newFixedThreadPool(4)
    val start = new CountDownLatch(1)
    try {
      val results = (1 to 4).map { _ =>
        pool.submit(() => {
          start.await(); VerifiedCopy.materialize("linear", linear.getPath, target, m.files, m.sha256)(copyFrom(linear))
        })
      }
      start.countDown()
      assert(results.map(_.get(60, TimeUnit.SECONDS)).distinct === Seq(target))
    } finally pool.shutdown()
    assert(ModelManifest.sha256(target) === m.sha256, "the planted files were replaced by the model's")
    assert(VerifiedCopy.rejectCounts(target.getAbsolutePath) === 1, "one WARN for one planted entry, however many threads asked")
    assert(VerifiedCopy.copyCounts(target.getAbsolutePath) === 1)
    assert(cache.list().filterNot(_.endsWith(".lock")).toSeq === Seq(target.getName), "nothing left aside")

    // Same names, sizes and modification times, other bytes: only reading the files again tells.
    val data = new File(target, m.files.find(_.path.startsWith("variables/variables.data")).get.path)
    val time = data.lastModified()
    val bytes = Files.readAllBytes(data.toPath)
    bytes(0) = (bytes(0) ^ 1).toByte
    Files.write(data.toPath, bytes)
    data.setLastModified(time)
    VerifiedCopy.forgetVerified() // a new JVM (a later application) finds the entry
    VerifiedCopy.materialize("linear", linear.getPath, target, m.files, m.sha256)(copyFrom(linear))
    assert(VerifiedCopy.rejectCounts(target.getAbsolutePath) === 2)
    assert(ModelManifest.sha256(target) === m.sha256)

    // A good entry found by a new JVM is re-hashed and used as it is.
    VerifiedCopy.forgetVerified()
    VerifiedCopy.materialize("linear", linear.getPath, target, m.files, m.sha256)((_, _, _) => fail("a verified entry is not copied again"))
    assert(VerifiedCopy.rejectCounts(target.getAbsolutePath) === 2 && VerifiedCopy.copyCounts(target.getAbsolutePath) === 2)

    // An entry that is a symbolic link (even to the right files) is not a copy of ours.
    val elsewhere = copy(linear)
    VerifiedCopy.deleteRecursively(target)
    Files.createSymbolicLink(target.toPath, elsewhere.toPath)
    VerifiedCopy.forgetVerified()
    VerifiedCopy.materialize("linear", linear.getPath, target, m.files, m.sha256)(copyFrom(linear))
    assert(!Files.isSymbolicLink(target.toPath) && ModelManifest.sha256(target) === m.sha256)
    assert(VerifiedCopy.rejectCounts(target.getAbsolutePath) === 3)
    assert(ModelManifest.sha256(elsewhere) === m.sha256, "the link's target is left alone")
  }

  test("the model cache folder is private: created 0700, and not trusted when another user owns it or others can write to it") {
    import java.nio.file.attribute.PosixFilePermissions
    val base = TestModels.tempDir("tfspark-cache-root")
    val fresh = new File(base, "made")
    assert(PrivateFolder.ensure(fresh) === None)
    assert(PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh.toPath)) === "rwx------")

    val open = new File(base, "open")
    open.mkdir()
    Files.setPosixFilePermissions(open.toPath, PosixFilePermissions.fromString("rwxrwxrwx"))
    assert(PrivateFolder.ensure(open).exists(_.contains("other users can write to it")))

    val link = new File(base, "link")
    Files.createSymbolicLink(link.toPath, fresh.toPath)
    assert(PrivateFolder.ensure(link).exists(_.contains("symbolic link")))

    // Another user's folder (the tests run as root in CI images: chown works there).
    val foreign = new File(base, "foreign")
    foreign.mkdir()
    val nobody = scala.util.Try(foreign.toPath.getFileSystem.getUserPrincipalLookupService.lookupPrincipalByName("nobody"))
    if (nobody.isSuccess && scala.util.Try(Files.setOwner(foreign.toPath, nobody.get)).isSuccess) {
      Files.setPosixFilePermissions(foreign.toPath, PosixFilePermissions.fromString("rwx------"))
      assert(PrivateFolder.ensure(foreign).exists(_.contains("owned by nobody")), PrivateFolder.ensure(foreign))
    } else info("cannot chown here (not root): the other-owner case is not checked")

    // The default folder, made first by someone else with open permissions, is replaced by a private one.
    val tmp = System.getProperty("java.io.tmpdir")
    val owner = Files.getOwner(fresh.toPath).getName
    val squatted = new File(base, s"tfspark-model-cache-$owner")
    squatted.mkdir()
    Files.setPosixFilePermissions(squatted.toPath, PosixFilePermissions.fromString("rwxrwxrwx"))
    System.setProperty("java.io.tmpdir", base.getPath)
    try {
      assume(!sys.env.contains(PrivateFolder.EnvKey), "TFSPARK_MODEL_CACHE is set")
      val used = ModelRepository.localCache
      assert(used.getAbsoluteFile !== squatted.getAbsoluteFile)
      assert(PrivateFolder.unsafe(used.toPath) === None)
      assert(ModelRepository.localCache === used, "one replacement per JVM")
    } finally System.setProperty("java.io.tmpdir", tmp)
    val other = TestModels.tempDir("tfspark-cache-root")
    System.setProperty("java.io.tmpdir", other.getPath)
    try {
      val made = new File(other, s"tfspark-model-cache-$owner")
      assert(ModelRepository.localCache.getAbsoluteFile === made.getAbsoluteFile, "a missing default folder is made, private")
      assert(PosixFilePermissions.toString(Files.getPosixFilePermissions(made.toPath)) === "rwx------")
    } finally System.setProperty("java.io.tmpdir", tmp)
  }
}
