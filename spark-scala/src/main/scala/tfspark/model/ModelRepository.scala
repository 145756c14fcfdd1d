package tfspark.model

import java.io.File

import tfspark.errors.TFSparkErrors

/** A resolved model version: `directory` holds `saved_model.pb` and `variables/`. */
final case class ModelLocation(name: String, version: Long, directory: File) {
  override def toString: String = s"$name/$version ($directory)"
}

/**
 * Resolves model names to directories in the TF Serving layout `<root>/<name>/<version>/`.
 * Versions are positive integers; the highest one is the default.
 *
 * Names are plain identifiers (letters, digits, `_`, `-`, `.` but not `..`): a name can never
 * escape the repository root.
 *
 * @param root the repository root, a local directory
 */
final class ModelRepository(val root: File) extends Serializable {

  /**
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT for a name that is not a plain
   *   identifier, MODEL_NOT_FOUND for an unknown name, MODEL_VERSION_NOT_FOUND for an unknown or
   *   absent version.
   */
  def resolve(name: String, version: Option[Long] = None): ModelLocation = {
    if (!ModelRepository.isValidName(name)) {
      throw TFSparkErrors.invalidArgument("model name", s"'$name'", "a model name in the repository (letters, digits, '_', '-', '.')")
    }
    val modelDir = new File(root, name)
    if (!modelDir.isDirectory) {
      throw TFSparkErrors.modelNotFound(name, root.getPath, modelDir.getPath, models)
    }
    val available = versions(name)
    val chosen = version.orElse(available.lastOption).getOrElse {
      throw TFSparkErrors.modelVersionNotFound(name, 1L, modelDir.getPath, available)
    }
    if (!available.contains(chosen)) {
      throw TFSparkErrors.modelVersionNotFound(name, chosen, new File(modelDir, chosen.toString).getPath, available)
    }
    ModelLocation(name, chosen, new File(modelDir, chosen.toString))
  }

  /** Model names present under the root, sorted. */
  def models: Seq[String] =
    Option(root.listFiles()).toSeq.flatten.filter(_.isDirectory).map(_.getName).filter(ModelRepository.isValidName).sorted

  /** Versions of `name` that hold a `saved_model.pb`, ascending. */
  def versions(name: String): Seq[Long] =
    Option(new File(root, name).listFiles()).toSeq.flatten
      .filter(d => d.isDirectory && d.getName.matches("[1-9][0-9]{0,17}") && new File(d, "saved_model.pb").isFile)
      .map(_.getName.toLong)
      .sorted
}

object ModelRepository {
  private val NamePattern = "[A-Za-z0-9_][A-Za-z0-9_.-]*".r

  def isValidName(name: String): Boolean =
    name != null && NamePattern.matches(name) && !name.contains("..")

  def apply(root: String): ModelRepository = new ModelRepository(new File(root).getAbsoluteFile)
}
