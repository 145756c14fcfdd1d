package tfspark.model

import java.io.File

import org.apache.spark.{SparkContext, SparkEnv, SparkFiles}
import org.apache.spark.broadcast.Broadcast

/**
 * A serializable reference to one model version that tasks can load anywhere in the cluster.
 *
 * The model's files travel as a broadcast of their zip ([[ModelArchive]]); each executor JVM
 * unpacks them once into its Spark work directory and loads them once ([[ModelCache]]). On the
 * driver, the original directory is used directly. A `SavedModelBundle` is never serialized.
 *
 * @param signatures the signatures read on the driver, so tasks and the analyzer need no load
 */
final case class ShippedModel(
    name: String,
    version: Long,
    sha256: String,
    signatures: Map[String, SignatureSpec],
    driverDirectory: String,
    archive: Broadcast[Array[Byte]]
) {

  /** The directory to load from in this JVM: the original on the driver, an unpacked copy elsewhere. */
  def localDirectory(): File = {
    val env = SparkEnv.get
    val onDriver = env == null || env.executorId == "driver"
    val original = new File(driverDirectory)
    if (onDriver && original.isDirectory) original
    else
      ModelArchive.unpackOnce(
        archive.value,
        new File(new File(SparkFiles.getRootDirectory(), "tfspark-models"), s"$name-$version-${sha256.take(16)}")
      )
  }

  def location: ModelLocation = ModelLocation(name, version, localDirectory())

  override def toString: String = s"ShippedModel($name/$version, sha256=${sha256.take(12)})"
}

object ShippedModel {

  private val shipped = new java.util.concurrent.ConcurrentHashMap[(String, String), ShippedModel]()

  /**
   * Ships `location` for use in `sc`'s jobs: packs it, broadcasts the bytes once per
   * (application, content), and reads its signatures through the driver's [[ModelCache]].
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED when the model cannot be loaded
   */
  def ship(sc: SparkContext, location: ModelLocation): ShippedModel = {
    val (bytes, sha) = ModelArchive.pack(location.directory)
    shipped.computeIfAbsent(
      (sc.applicationId + "/" + sc.startTime, sha),
      _ => {
        val handle = ModelCache.withHandle(sha, location)(identity)
        // The real path, links resolved: a link re-pointed later does not change what this serves.
        val real = location.directory.toPath.toRealPath().toString
        ShippedModel(location.name, location.version, sha, handle.signatures, real, sc.broadcast(bytes))
      }
    )
  }
}
