package tfspark.model

import java.io.File

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.apache.spark.{SerializableWritable, SparkFiles}
import org.apache.spark.broadcast.Broadcast
import org.apache.spark.tfspark.DriverFiles

import tfspark.errors.TFSparkErrors

/**
 * How a shipped model version's files reach the JVMs that run tasks ([[ShippedModel]] holds one).
 * Each way streams file by file: no JVM, the driver's included, ever holds a whole model in its
 * heap, so a version of any size ships. Every copy is verified against the SHA-256 the driver
 * computed before it is used ([[VerifiedCopy.materialize]]).
 */
sealed trait ModelDelivery extends Serializable {

  /**
   * A local folder holding `model`'s files, verified, made at most once per target folder (once
   * per executor JVM, or per host for [[ModelDelivery.SharedFileSystem]]). The folder belongs to
   * the JVM's cache and is never deleted by tfspark; callers only read it.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED when the files cannot be had or
   *   differ from what the driver read
   */
  def materialize(model: ShippedModel): File

  /** How the files travel, for messages and tests. */
  def describe: String
}

object ModelDelivery {

  /**
   * Local mode (`local[N]`): tasks run in the driver's JVM and load the driver's folder, so
   * nothing travels. Another JVM never gets this delivery.
   */
  case object DriverFolder extends ModelDelivery {
    def materialize(model: ShippedModel): File = {
      val dir = new File(model.driverDirectory)
      if (!new File(dir, "saved_model.pb").isFile) {
        throw TFSparkErrors.modelLoadFailed(
          model.name,
          model.driverDirectory,
          new IllegalStateException("the folder no longer holds the model")
        )
      }
      dir
    }
    def describe: String = "the driver's folder (local mode)"
  }

  /**
   * Executors copy the version's `files` from `source`, the version folder's URI on a filesystem
   * every executor reads (`hdfs:`, `s3a:`, a shared `file:` mount), into their host's model cache
   * ([[ModelRepository.localCache]]), one file at a time, and verify them. The copy is keyed by
   * content, so executors of the same host, and later applications, reuse it.
   *
   * @param hadoopConf the driver's Hadoop configuration (credentials, filesystem implementations)
   * @param folder the copy's folder name in the cache, chosen once per shipment ([[ShippedModel.ship]]), so
   *   every name that shares this delivery shares its copy
   */
  final case class SharedFileSystem(
      source: String,
      files: IndexedSeq[ModelFile],
      hadoopConf: Broadcast[SerializableWritable[Configuration]],
      folder: String
  ) extends ModelDelivery {

    def materialize(model: ShippedModel): File = {
      val target = new File(ModelRepository.localCache, folder)
      val root = new Path(source)
      // Hadoop's cached FileSystem instance: shared by the JVM, so it is not closed here.
      val fs = root.getFileSystem(hadoopConf.value.value)
      VerifiedCopy.materialize(model.name, source, target, files, model.sha256)(VerifiedCopy.fromFileSystem(fs, root))
    }

    def describe: String = s"copied by each executor host from $source"
  }

  /**
   * Executors fetch the version's `files` from the driver's RPC file server, the one behind
   * `SparkContext.addFile` ([[org.apache.spark.tfspark.DriverFiles]]), which serves exactly these
   * files and nothing else: `uris(i)` (`spark://host:port/files/tfspark-<token>-<i>`, a random
   * token per shipment) is `files(i)`. Each executor JVM streams them once, when it first loads
   * the model, straight into `tfspark-models/` under its SparkFiles folder (one copy per
   * executor, none elsewhere), and verifies them. `folder` names the copy, as for [[SharedFileSystem]].
   */
  final case class DriverFileServer(uris: IndexedSeq[String], files: IndexedSeq[ModelFile], folder: String) extends ModelDelivery {
    require(uris.size == files.size, "one URI per file")

    def materialize(model: ShippedModel): File = {
      val target = new File(SparkFiles.getRootDirectory(), s"tfspark-models/$folder")
      val byPath = files.map(_.path).zip(uris).toMap
      VerifiedCopy.materialize(model.name, describe, target, files, model.sha256) { (file, destination, digest) =>
        digest.copyTo(file, DriverFiles.open(byPath(file.path)), destination)
      }
    }

    // The URIs' names are not shown: they are what keeps the files from anyone who did not get this delivery.
    def describe: String =
      s"fetched by each executor from the driver's file server (${files.size} files at ${uris.headOption.map(u => new java.net.URI(u).getAuthority).getOrElse("none")})"
  }

  /** Which delivery a version gets (the files are attached by [[ShippedModel.ship]]). */
  sealed trait Route
  case object InDriverJvm extends Route
  final case class FromSharedFileSystem(source: String) extends Route
  case object FromDriver extends Route

  /**
   * Chooses how a version travels: not at all in local mode; from its repository when executors
   * can read it there (any Hadoop-filesystem URI other than `file:`, or a local folder when
   * `spark.tfpredict.repositoryShared` declares local repositories shared, read at the folder's
   * real path); otherwise from the driver's file server.
   *
   * @param remoteSource the version's URI in a Hadoop-filesystem repository ([[ModelLocation.source]])
   * @param realDirectory the driver's folder of the version, links resolved
   */
  def route(localMode: Boolean, remoteSource: Option[String], realDirectory: File, repositoryShared: Boolean): Route =
    if (localMode) InDriverJvm
    else
      remoteSource match {
        case Some(uri) => FromSharedFileSystem(uri)
        case None if repositoryShared => FromSharedFileSystem(realDirectory.toURI.toString)
        case None => FromDriver
      }
}
