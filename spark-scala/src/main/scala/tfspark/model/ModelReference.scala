package tfspark.model

import tfspark.errors.TFSparkErrors

/**
 * How SQL, the Transformer and BatchScore name a model: `name`, `name@version`,
 * `name:signature` or `name@version:signature`. No version means the highest one present when
 * the query is analysed; no signature means `serving_default`.
 *
 * The name stays a plain name of the configured repository ([[ModelRepository.isValidName]]):
 * a reference can never be a path.
 */
final case class ModelReference(name: String, version: Option[Long], signature: String) {
  override def toString: String = name + version.fold("")("@" + _) + ":" + signature
}

object ModelReference {
  val DefaultSignature = "serving_default"

  private val Grammar = "([^@:]*)(?:@([^:]*))?(?::(.*))?".r

  /**
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT for a malformed reference (an empty
   *   name, a version that is not a positive integer, an empty signature)
   */
  def parse(text: String): ModelReference = {
    def invalid() =
      TFSparkErrors.invalidArgument(
        "the model reference",
        s"'$text'",
        "NAME, NAME@VERSION, NAME:SIGNATURE or NAME@VERSION:SIGNATURE, with VERSION a positive integer"
      )
    text match {
      case null => throw invalid()
      case Grammar(name, version, signature) =>
        val v = Option(version).map(s => s.trim.toLongOption.filter(_ > 0).getOrElse(throw invalid()))
        if (name.trim.isEmpty || Option(signature).exists(_.trim.isEmpty)) throw invalid()
        ModelReference(name.trim, v, Option(signature).map(_.trim).getOrElse(DefaultSignature))
      case _ => throw invalid()
    }
  }
}
