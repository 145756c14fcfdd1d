package tfspark.model

import java.io.{File, InputStream}
import java.nio.file.{Files, StandardCopyOption}
import java.security.MessageDigest
import java.util.concurrent.ConcurrentHashMap

import scala.jdk.CollectionConverters._

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.apache.spark.{SerializableWritable, SparkContext, SparkEnv}
import org.apache.spark.broadcast.Broadcast
import org.apache.spark.tfspark.DriverFiles

import tfspark.conf.TFSparkConf
import tfspark.errors.TFSparkErrors

/**
 * One op library of `spark.tfpredict.opLibraries` as the driver found it, shipped for the
 * executors: `source` as the setting names it, `sha256` the SHA-256 of its bytes (what `sha256sum`
 * prints), `driverFile` the file the driver loads (the real path of a local source, or the
 * driver's verified copy of a remote one). `delivery` says how executors get their copy, which
 * is verified against `sha256` before it is loaded.
 */
final case class ShippedOpLibrary(
    source: String,
    fileName: String,
    sha256: String,
    size: Long,
    driverFile: String,
    delivery: OpLibraryDelivery
) {

  /**
   * Loads the library in this JVM unless it already is ([[OpLibraries.load]]): the driver's file on
   * the driver, a verified local copy in an executor.
   *
   * @throws tfspark.errors.TFSparkException OP_LIBRARY_LOAD_FAILED
   */
  def ensureLoaded(): Unit = {
    val env = SparkEnv.get
    val onDriver = env == null || env.executorId == "driver"
    if (!OpLibraries.isLoaded(source, sha256)) {
      val file = if (onDriver) new File(driverFile) else delivery.materialize(this)
      OpLibraries.load(source, file, sha256)
    }
  }
}

/** How an op library's bytes reach an executor: the same routes as a model's files ([[ModelDelivery.route]]). */
sealed trait OpLibraryDelivery extends Serializable {

  /** A verified local copy of `library` in this JVM's private cache folder. @throws TFSparkException OP_LIBRARY_LOAD_FAILED */
  def materialize(library: ShippedOpLibrary): File
}

object OpLibraryDelivery {

  /** Local mode: tasks run in the driver's JVM, which loaded the driver's file. */
  case object DriverFile extends OpLibraryDelivery {
    def materialize(library: ShippedOpLibrary): File = new File(library.driverFile)
  }

  /** Executors read the library from a filesystem they all reach (`hdfs:`, `s3a:`, a shared `file:` mount). */
  final case class SharedFileSystem(uri: String, hadoopConf: Broadcast[SerializableWritable[Configuration]]) extends OpLibraryDelivery {
    def materialize(library: ShippedOpLibrary): File = {
      val path = new Path(uri)
      OpLibraries.verifiedCopy(library.source, library.fileName, Some(library.sha256), uri)(() =>
        path.getFileSystem(hadoopConf.value.value).open(path)
      )
    }
  }

  /** Executors fetch the library from the driver's file server, served under an unguessable name ([[DriverFiles]]). */
  final case class DriverFileServer(uri: String) extends OpLibraryDelivery {
    def materialize(library: ShippedOpLibrary): File =
      OpLibraries.verifiedCopy(library.source, library.fileName, Some(library.sha256), "the driver's file server")(() =>
        DriverFiles.open(uri)
      )
  }
}

/**
 * The op libraries of this JVM (`spark.tfpredict.opLibraries`): each is loaded with TF Java's
 * `TensorFlow.loadLibrary` before a model loads, on the driver ([[loadConfigured]], called by
 * [[SavedModelHandle.load]]) and in every executor ([[ShippedOpLibrary.ensureLoaded]], called by
 * [[ShippedModel.location]] before the model loads there).
 *
 * A native library cannot be unloaded. So a library is loaded once per JVM and content: loading
 * it again is a no-op, and a library whose bytes changed after this JVM loaded it (same source,
 * another SHA-256) is OP_LIBRARY_LOAD_FAILED, never silently kept or half-replaced. Copies that
 * travel are verified against the driver's SHA-256, in this JVM's private cache folder
 * ([[PrivateFolder]]), before they are loaded. Nothing here is ever closed or deleted.
 */
object OpLibraries {

  /** Source (as the setting names it) → the SHA-256 this JVM loaded from it. */
  private val loadedBySource = new ConcurrentHashMap[String, String]()

  /** SHA-256 → the file loaded with that content. */
  private val loadedBySha = new ConcurrentHashMap[String, String]()

  /** Driver files by source: (size, modification time) → (real file, SHA-256), so a source is hashed once while unchanged. */
  private val hashed = new ConcurrentHashMap[String, ((Long, Long), (File, String))]()

  private val shipped = new ConcurrentHashMap[(String, String, String, ModelDelivery.Route), ShippedOpLibrary]()

  /** The op names that `source` registered when this JVM loaded it (for messages and tests). */
  private val opsBySource = new ConcurrentHashMap[String, Seq[String]]()

  def isLoaded(source: String, sha256: String): Boolean = loadedBySource.get(source) == sha256

  /** The sources loaded in this JVM and the ops each registered, by source. */
  def loaded: Map[String, Seq[String]] = opsBySource.asScala.toMap

  private def where: String = Option(SparkEnv.get).map(_.executorId) match {
    case None | Some("driver") => "on the driver"
    case Some(id) => s"on executor $id"
  }

  /**
   * Loads every library of `spark.tfpredict.opLibraries` in this JVM, from the driver's files.
   * Does nothing in an executor: there, the shipped model loads the libraries it shipped with.
   *
   * @throws tfspark.errors.TFSparkException OP_LIBRARY_LOAD_FAILED, INVALID_CONFIG
   */
  def loadConfigured(): Unit = {
    val env = SparkEnv.get
    if (env == null || env.executorId == "driver") TFSparkConf.opLibraries().foreach(loadSource)
  }

  /**
   * Loads `source` (a path or URI, as spark.tfpredict.opLibraries names it) in this JVM from the
   * driver's file: hashed, then [[load]]ed.
   *
   * @throws tfspark.errors.TFSparkException OP_LIBRARY_LOAD_FAILED
   */
  def loadSource(source: String): Unit = {
    val (file, sha) = driverFile(source)
    load(source, file, sha)
  }

  /**
   * Loads `file`, whose bytes hash to `sha256`, as `source`, unless this JVM loaded that content
   * already. Serialized with every other load of this JVM.
   *
   * @throws tfspark.errors.TFSparkException OP_LIBRARY_LOAD_FAILED when `source` was loaded with
   *   other content before, or TF cannot load the file; NATIVE_LIBRARY_MISSING
   */
  def load(source: String, file: File, sha256: String): Unit = synchronized {
    Option(loadedBySource.get(source)).filter(_ != sha256).foreach { before =>
      throw TFSparkErrors.opLibraryLoadFailed(
        source,
        where,
        s"its content changed after this JVM loaded it (sha256 $before loaded, $sha256 now), and a JVM cannot unload a native library",
        "Restart the application (executors: restart them) to load the new library, or point spark.tfpredict.opLibraries at a new file " +
          "name for a new application; do not overwrite a library that a running application uses."
      )
    }
    if (!loadedBySha.containsKey(sha256)) {
      NativeLibrary.ensureConfigured()
      // TF's own native library first: after it, a LinkageError is the op library's (dlopen's text).
      try org.tensorflow.TensorFlow.version()
      catch { case e: LinkageError => throw TFSparkErrors.nativeLibraryMissing(e) }
      val ops =
        try {
          val list = org.tensorflow.TensorFlow.loadLibrary(file.getAbsolutePath)
          (0 until list.getOpCount).map(list.getOp(_).getName)
        } catch {
          case e @ (_: Exception | _: LinkageError) =>
            throw TFSparkErrors.opLibraryLoadFailed(
              source,
              where,
              s"TensorFlow's loadLibrary of ${file.getPath} failed: ${Option(e.getMessage).map(_.linesIterator.take(3).mkString(" ")).getOrElse(e.toString)}",
              TFSparkErrors.OpLibraryAbi + ".",
              e
            )
        }
      loadedBySha.put(sha256, file.getAbsolutePath)
      opsBySource.put(source, ops)
    } else opsBySource.putIfAbsent(source, Nil)
    loadedBySource.put(source, sha256)
  }

  /**
   * Ships every library of `sc`'s `spark.tfpredict.opLibraries`, once per (application, source,
   * content), and loads it in the driver. Local sources travel like a model's files
   * ([[ModelDelivery.route]]): not at all in local mode, from their real path when
   * `spark.tfpredict.repositoryShared` is set, else from the driver's file server; remote ones
   * (`hdfs:`, `s3a:`) are read by the executors.
   *
   * @throws tfspark.errors.TFSparkException OP_LIBRARY_LOAD_FAILED, INVALID_CONFIG
   */
  def ship(sc: SparkContext, repositoryShared: Boolean): Seq[ShippedOpLibrary] =
    TFSparkConf.opLibraries(sc.getConf).map { source =>
      val (file, sha) = driverFile(source)
      load(source, file, sha)
      val remote = remoteUri(source)
      val route = ModelDelivery.route(sc.isLocal, remote, file, repositoryShared)
      shipped.computeIfAbsent(
        (sc.applicationId + "/" + sc.startTime, source, sha, route),
        _ => {
          val delivery = route match {
            case ModelDelivery.InDriverJvm => OpLibraryDelivery.DriverFile
            case ModelDelivery.FromSharedFileSystem(uri) =>
              OpLibraryDelivery.SharedFileSystem(uri, sc.broadcast(new SerializableWritable(sc.hadoopConfiguration)))
            case ModelDelivery.FromDriver => OpLibraryDelivery.DriverFileServer(DriverFiles.serveFiles(sc, Seq(file)).head)
          }
          ShippedOpLibrary(source, fileName(source), sha, file.length(), file.getPath, delivery)
        }
      )
    }

  private def fileName(source: String): String = new Path(source).getName

  /** `source`'s URI when it is on a Hadoop filesystem other than the local one. */
  private def remoteUri(source: String): Option[String] = {
    val scheme = new Path(source).toUri.getScheme
    if (scheme == null || scheme == "file") None else Some(source)
  }

  /**
   * The driver's file of `source` and its SHA-256: the real path of a local file (hashed again
   * only when its size or modification time changed), or a verified copy of a remote one in the
   * private cache folder.
   */
  private def driverFile(source: String): (File, String) = remoteUri(source) match {
    case Some(uri) =>
      val path = new Path(uri)
      val conf = org.apache.spark.sql.SparkSession.getActiveSession.map(_.sparkContext.hadoopConfiguration).getOrElse(new Configuration())
      val file = verifiedCopy(source, fileName(source), None, uri)(() => path.getFileSystem(conf).open(path))
      (file, sha256Of(source, file))
    case None =>
      val local = new File(new Path(source).toUri.getPath)
      val real =
        try local.toPath.toRealPath().toFile
        catch { case _: java.io.IOException => throw missing(source, local) }
      if (!real.isFile || !real.canRead) throw missing(source, local)
      val stamp = (real.length(), real.lastModified())
      Option(hashed.get(source)).filter(h => h._1 == stamp && h._2._1 == real).map(_._2).getOrElse {
        val sha = sha256Of(source, real)
        hashed.put(source, (stamp, (real, sha)))
        (real, sha)
      }
  }

  private def missing(source: String, file: File) =
    TFSparkErrors.opLibraryLoadFailed(
      source,
      where,
      s"${file.getPath} does not exist or cannot be read",
      "Name a readable file in spark.tfpredict.opLibraries (an absolute path on the driver, or a URI every executor can read)."
    )

  private def sha256Of(source: String, file: File): String =
    try hex(digest(Files.newInputStream(file.toPath), None))
    catch { case e: java.io.IOException => throw missing(source, file) }

  /** Streams `in` (closed here) into `md`, copying it to `copy` if given. */
  private def digest(in: InputStream, copy: Option[File]): MessageDigest = {
    val md = MessageDigest.getInstance("SHA-256")
    val out = copy.map(f => Files.newOutputStream(f.toPath))
    val buffer = new Array[Byte](1 << 20)
    try {
      var n = in.read(buffer)
      while (n >= 0) {
        md.update(buffer, 0, n)
        out.foreach(_.write(buffer, 0, n))
        n = in.read(buffer)
      }
    } finally {
      in.close()
      out.foreach(_.close())
    }
    md
  }

  private def hex(md: MessageDigest): String = md.digest().map("%02x".format(_)).mkString

  /**
   * A verified copy of a library in this JVM's private cache folder ([[ModelRepository.localCache]]):
   * `op-libraries/<sha256>/<fileName>`, or, when the SHA-256 is not known yet (the driver's copy of
   * a remote source), `op-libraries/<hash of the source>/<fileName>`, refreshed on every call. An
   * existing copy is read again and used only if it hashes to `expected`; otherwise `open`'s bytes
   * go to a staging file, are hashed on the way, and replace it atomically only when they match.
   *
   * @throws tfspark.errors.TFSparkException OP_LIBRARY_LOAD_FAILED when the bytes cannot be read
   *   or differ from what the driver read
   */
  private[model] def verifiedCopy(source: String, fileName: String, expected: Option[String], from: String)(
      open: () => InputStream
  ): File = {
    val key = expected.getOrElse(
      "source-" + hex({ val md = MessageDigest.getInstance("SHA-256"); md.update(source.getBytes("UTF-8")); md }).take(32)
    )
    val folder = new File(ModelRepository.localCache, s"op-libraries/$key")
    folder.mkdirs()
    val target = new File(folder, fileName)
    val good =
      expected.exists(sha => target.isFile && scala.util.Try(hex(digest(Files.newInputStream(target.toPath), None))).toOption.contains(sha))
    if (!good) {
      val staging = Files.createTempFile(folder.toPath, s".$fileName.", ".staging").toFile
      try {
        val got =
          try hex(digest(open(), Some(staging)))
          catch {
            case e: java.io.IOException =>
              throw TFSparkErrors.opLibraryLoadFailed(
                source,
                where,
                s"it could not be read from $from: $e",
                "Check that the file exists and that every executor can read it.",
                e
              )
          }
        expected.filter(_ != got).foreach { sha =>
          throw TFSparkErrors.opLibraryLoadFailed(
            source,
            where,
            s"the copy from $from has sha256 $got where the driver read $sha: the file changed after the driver read it",
            "Do not overwrite a library that a running application uses; restart the application to load a new one."
          )
        }
        Files.move(staging.toPath, target.toPath, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING)
      } finally staging.delete()
    }
    target
  }
}
