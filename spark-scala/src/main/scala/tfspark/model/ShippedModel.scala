package tfspark.model

import java.io.File

import org.apache.spark.{SerializableWritable, SparkContext, SparkEnv}
import org.apache.spark.tfspark.DriverFiles

import tfspark.conf.{Precision, TFSparkConf}

/**
 * A serializable reference to one model version that tasks can load anywhere in the cluster.
 *
 * The model's files travel as files ([[ModelDelivery]]), never as one in-memory value, so a
 * version of any size ships: executors copy them from the repository when they can read it
 * (a Hadoop-filesystem repository, or a local one declared shared with
 * `spark.tfpredict.repositoryShared`), or fetch them from the driver's file server otherwise.
 * Each executor JVM materializes and verifies them once and loads them once ([[ModelCache]]). On
 * the driver, the original directory is used directly. A `SavedModelBundle` is never serialized.
 *
 * @param sha256 the version's identity, computed on the driver ([[ModelManifest]])
 * @param signatures the signatures read on the driver, so tasks and the analyzer need no load
 * @param driverDirectory the version folder's real path on the driver (links resolved)
 * @param opLibraries the application's op libraries (`spark.tfpredict.opLibraries`), loaded in
 *   each JVM before the model
 * @param precision the arithmetic every JVM loads it in (each checks its own CPU for bfloat16)
 * @param deviation bfloat16's measure on the driver, which holds the golden vectors: `EXPLAIN`
 *   shows it, and executors check it against the limit; `None` in float32
 */
final case class ShippedModel(
    name: String,
    version: Long,
    sha256: String,
    signatures: Map[String, SignatureSpec],
    driverDirectory: String,
    delivery: ModelDelivery,
    opLibraries: Seq[ShippedOpLibrary] = Nil,
    precision: Precision = Precision.Float32,
    deviation: Option[PrecisionDeviation] = None
) {

  /** The directory to load from in this JVM: the original on the driver, a verified local copy elsewhere. */
  def localDirectory(): File = {
    val env = SparkEnv.get
    val onDriver = env == null || env.executorId == "driver"
    val original = new File(driverDirectory)
    if (onDriver && original.isDirectory) original else delivery.materialize(this)
  }

  /**
   * Where to load the model from in this JVM, once this JVM has loaded the op libraries it needs.
   *
   * @throws tfspark.errors.TFSparkException OP_LIBRARY_LOAD_FAILED, MODEL_LOAD_FAILED
   */
  def location: ModelLocation = {
    opLibraries.foreach(_.ensureLoaded())
    ModelLocation(name, version, localDirectory())
  }

  override def toString: String =
    s"ShippedModel($name/$version, sha256=${sha256.take(12)}${if (precision == Precision.Float32) "" else s", $precision"})"
}

object ShippedModel {

  private val shipped = new java.util.concurrent.ConcurrentHashMap[(String, String, ModelDelivery.Route, Precision), ShippedModel]()

  /**
   * Ships `location` for use in `sc`'s jobs in `precision`, once per (application, content, precision): identifies its files (streaming them once; [[ModelManifest.read]]), reads its
   * signatures through the driver's [[ModelCache]], and makes the files reachable from the
   * executors as [[ModelDelivery.route]] decides, with `spark.tfpredict.repositoryShared` from
   * `sc`'s configuration.
   *
   * What it leaves with `sc`, which owns it until it stops: the driver's loaded model (in its
   * [[ModelCache]]), a broadcast of the Hadoop configuration (shared-filesystem deliveries) or the
   * version's files served by the driver's file server (driver deliveries; those files only). Executors' copies
   * belong to their caches and are never deleted by tfspark.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED when the model cannot be loaded,
   *   INVALID_CONFIG for an unknown or malformed `spark.tfpredict.*` key of the application
   *   ([[TFSparkConf.validate]]); BFLOAT16_NOT_SUPPORTED and BFLOAT16_DEVIATION_EXCEEDED for a
   *   bfloat16 load the driver refuses ([[ModelCache]])
   */
  def ship(sc: SparkContext, location: ModelLocation, precision: Precision = Precision.Float32): ShippedModel = {
    TFSparkConf.validate(sc.getConf)
    ship(sc, location, TFSparkConf.repositoryShared(sc.getConf), precision)
  }

  /** [[ship]] with the shared-repository declaration given (tests ship both ways in one application). */
  private[tfspark] def ship(
      sc: SparkContext,
      location: ModelLocation,
      repositoryShared: Boolean,
      precision: Precision
  ): ShippedModel = {
    val libraries = OpLibraries.ship(sc, repositoryShared)
    val manifest = ModelManifest.read(location.directory)
    val route = ModelDelivery.route(sc.isLocal, location.source, manifest.directory, repositoryShared)
    val first = shipped.computeIfAbsent(
      (sc.applicationId + "/" + sc.startTime, manifest.sha256, route, precision),
      _ => {
        val handle = ModelCache.withHandle(manifest.sha256, location, precision)(identity)
        // Executors' copy of this content, whatever names later share this shipment.
        val folder = s"${location.name}-${location.version}-${manifest.sha256.take(16)}"
        val delivery = route match {
          case ModelDelivery.InDriverJvm => ModelDelivery.DriverFolder
          case ModelDelivery.FromSharedFileSystem(source) =>
            ModelDelivery.SharedFileSystem(source, manifest.files, sc.broadcast(new SerializableWritable(sc.hadoopConfiguration)), folder)
          case ModelDelivery.FromDriver =>
            // Only the files the driver hashed are served, each under an unguessable name.
            val uris = DriverFiles.serveFiles(sc, manifest.files.map(ModelManifest.fileOf(manifest, _)))
            ModelDelivery.DriverFileServer(uris, manifest.files, folder)
        }
        // The real path, links resolved: a link re-pointed later does not change what this serves.
        val directory = manifest.directory.getPath
        ShippedModel(
          location.name,
          location.version,
          manifest.sha256,
          handle.signatures,
          directory,
          delivery,
          libraries,
          precision,
          handle.deviation
        )
      }
    )
    // Another name (a link, an alias) of content shipped before shares its delivery and load, but keeps
    // its own name and version (errors and EXPLAIN name what the caller asked for), and executors' copy.
    if (first.name == location.name && first.version == location.version) first
    else first.copy(name = location.name, version = location.version)
  }
}
