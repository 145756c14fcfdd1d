package tfspark.model

import java.io.File
import java.net.URI

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileStatus, FileSystem, Path}
import org.apache.spark.sql.SparkSession

import tfspark.errors.TFSparkErrors

/**
 * A resolved model version: `directory` is a local folder holding `saved_model.pb` and
 * `variables/`; `source` is the version folder's URI when it lives in a Hadoop-filesystem
 * repository (`directory` is then the driver's local copy), from where executors copy it
 * ([[ModelDelivery.SharedFileSystem]]).
 */
final case class ModelLocation(name: String, version: Long, directory: File, source: Option[String] = None) {
  override def toString: String = s"$name/$version ($directory)"
}

/**
 * Resolves model names to versions in the TF Serving layout `<root>/<name>/<version>/`. Versions
 * are positive integers; the highest one is the default.
 *
 * The root is a local path, a `file:` URI, or any Hadoop-filesystem URI (`hdfs:`, `s3a:`, ...).
 * A version on a remote filesystem is copied into the driver's local cache folder (TF loads
 * from local files), keyed by its content and verified ([[VerifiedCopy]]); this JVM reads it
 * again only when its listing (names, sizes, modification times) changed, so a version replaced
 * in place is copied again; executors copy it from the repository themselves ([[ShippedModel]]).
 *
 * Names are plain identifiers (letters, digits, `_`, `-`, `.` but not `..`): a name can never
 * escape the repository root.
 *
 * @param root the repository root, a path or URI
 */
final class ModelRepository(val root: String) extends Serializable {

  private val uri: URI = new Path(root).toUri
  private val isLocal: Boolean = uri.getScheme == null || uri.getScheme == "file"
  private lazy val localRoot: File = new File(if (uri.getScheme == null) root else uri.getPath).getAbsoluteFile

  /**
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT for a name that is not a plain
   *   identifier, MODEL_NOT_FOUND for an unknown name, MODEL_VERSION_NOT_FOUND for an unknown or
   *   absent version, MODEL_LOAD_FAILED for a layout mistake ([[layoutMistake]]): a SavedModel
   *   directly in the model's folder, a version folder without `saved_model.pb`, or only
   *   sub-folders that are not versions
   */
  def resolve(name: String, version: Option[Long] = None): ModelLocation = {
    if (!ModelRepository.isValidName(name)) {
      throw TFSparkErrors.invalidArgument("model name", s"'$name'", "a model name in the repository (letters, digits, '_', '-', '.')")
    }
    if (!exists(name)) throw TFSparkErrors.modelNotFound(name, root, child(name), models)
    val available = versions(name)
    val chosen = version.orElse(available.lastOption).getOrElse {
      throw layoutMistake(name, None).getOrElse(TFSparkErrors.modelVersionNotFound(name, 1L, child(name), available))
    }
    if (!available.contains(chosen)) {
      throw layoutMistake(name, Some(chosen)).getOrElse(
        TFSparkErrors.modelVersionNotFound(name, chosen, child(s"$name/$chosen"), available)
      )
    }
    if (isLocal) ModelLocation(name, chosen, new File(localRoot, s"$name/$chosen"))
    else ModelLocation(name, chosen, copyToLocal(name, chosen), Some(child(s"$name/$chosen")))
  }

  /** Model names present under the root, sorted. */
  def models: Seq[String] = list("").filter(ModelRepository.isValidName).sorted

  /** Versions of `name` that hold a `saved_model.pb`, ascending. */
  def versions(name: String): Seq[Long] =
    list(name).filter(_.matches("[1-9][0-9]{0,17}")).filter(v => isFile(s"$name/$v/saved_model.pb")).map(_.toLong).sorted

  /**
   * What is wrong with `name`'s folder when it has no usable version (`wanted`: the version asked
   * for, or the newest), the same diagnosis as `python -m python_trainer check`
   * (tfspark/toolkit/check.py): a version folder (`wanted`, else the highest numeric one) without
   * `saved_model.pb`; a SavedModel directly in `<repo>/<name>/`; or sub-folders none of which is a
   * version. None when the folder simply lacks the version asked for (MODEL_VERSION_NOT_FOUND).
   * Links are followed, as everywhere in the repository.
   */
  private def layoutMistake(name: String, wanted: Option[Long]): Option[Throwable] = {
    val folders = list(name)
    val numeric = folders.filter(_.matches("[1-9][0-9]{0,17}")).sortBy(_.toLong)
    val incomplete = wanted.map(_.toString).filter(numeric.contains).orElse(if (wanted.isEmpty) numeric.lastOption else None)
    def layout(problem: String) = Some(TFSparkErrors.modelLayoutInvalid(name, child(name), problem))
    incomplete match {
      case Some(v) =>
        layout(
          s"version folder ${child(s"$name/$v")} has no saved_model.pb (${child(s"$name/$v/saved_model.pb")} is missing): " +
            "the export did not finish or went elsewhere. Export the SavedModel into that folder (saved_model.pb and variables/), or remove it"
        )
      case None if wanted.isEmpty && isFile(s"$name/saved_model.pb") =>
        layout(
          s"it holds a SavedModel directly (${child(s"$name/saved_model.pb")}), without a version folder: " +
            s"move it into ${child(s"$name/1")}/ (the TF Serving layout <repository>/<name>/<version>/saved_model.pb)"
        )
      case None if wanted.isEmpty && numeric.isEmpty && folders.nonEmpty =>
        layout(
          s"none of its sub-folders is a version: ${folders.sorted.mkString(", ")} (versions are positive whole numbers). " +
            s"Put each version in ${child(s"$name/<version>")}/, e.g. ${child(s"$name/1")}/saved_model.pb"
        )
      case None => None
    }
  }

  private def child(relative: String): String =
    if (isLocal) new File(localRoot, relative).getPath else s"${root.stripSuffix("/")}/$relative"

  private def fs: FileSystem = new Path(root).getFileSystem(ModelRepository.hadoopConf)

  private def exists(relative: String): Boolean =
    if (isLocal) new File(localRoot, relative).isDirectory
    else { val p = new Path(child(relative)); fs.exists(p) && fs.getFileStatus(p).isDirectory }

  private def isFile(relative: String): Boolean =
    if (isLocal) new File(localRoot, relative).isFile else fs.exists(new Path(child(relative)))

  /** Names of the sub-folders of `relative` (empty when it does not exist). */
  private def list(relative: String): Seq[String] =
    if (isLocal) Option(new File(localRoot, relative).listFiles()).toSeq.flatten.filter(_.isDirectory).map(_.getName)
    else {
      val dir = new Path(if (relative.isEmpty) root else child(relative))
      if (!fs.exists(dir)) Nil else fs.listStatus(dir).toSeq.filter(_.isDirectory).map(_.getPath.getName)
    }

  /**
   * The driver's verified local copy of a remote version ([[VerifiedCopy.materializeByContent]]):
   * every file of the version folder, `assets.extra/` included, in an entry of the local cache
   * named by their content, `<name>-<version>-<sha256 prefix>`.
   */
  private def copyToLocal(name: String, version: Long): File = {
    val source = child(s"$name/$version")
    val root = fs.makeQualified(new Path(source))
    val prefix = root.toUri.getPath.stripSuffix("/") + "/"
    val listed = remoteFiles(root)
      .map(f => (ModelFile(fs.makeQualified(f.getPath).toUri.getPath.stripPrefix(prefix), f.getLen), f.getModificationTime))
      .sortBy(_._1.path)
    VerifiedCopy.materializeByContent(name, source, ModelRepository.localCache, sha => s"$name-$version-${sha.take(16)}", listed)(
      VerifiedCopy.fromFileSystem(fs, root)
    )
  }

  /** The files under `dir`, at any depth. */
  private def remoteFiles(dir: Path): Seq[FileStatus] =
    fs.listStatus(dir).toSeq.flatMap(s => if (s.isDirectory) remoteFiles(s.getPath) else Seq(s))
}

object ModelRepository {
  private val NamePattern = "[A-Za-z0-9_][A-Za-z0-9_.-]*".r

  /**
   * Where versions from remote repositories are copied, on the driver and on each executor host:
   * `$TFSPARK_MODEL_CACHE`, else `tfspark-model-cache-<user>` in the temp folder. Copies stay for
   * later applications (executors' copies are named by content); nothing removes them. The folder
   * must be private to this user ([[PrivateFolder]]): created mode 0700, and refused when it is
   * owned by another user or others can write to it.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG when `$TFSPARK_MODEL_CACHE` names a
   *   folder that is not private to this user
   */
  def localCache: File = PrivateFolder.modelCache()

  def isValidName(name: String): Boolean =
    name != null && NamePattern.matches(name) && !name.contains("..")

  def apply(root: String): ModelRepository = new ModelRepository(root)

  private def hadoopConf: Configuration =
    SparkSession.getActiveSession.map(_.sparkContext.hadoopConfiguration).getOrElse(new Configuration())
}
