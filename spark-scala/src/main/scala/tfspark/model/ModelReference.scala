package tfspark.model

import tfspark.errors.TFSparkErrors

/**
 * How SQL, the Transformer and BatchScore name a model, in one of two places:
 *  - the configured folder repository: `name`, `name@version`, `name:signature` or
 *    `name@version:signature`. No version means the highest one present when the query is
 *    analysed.
 *  - the MLflow model registry ([[MlflowRegistry]]): `models:/name/version`,
 *    `models:/name@alias`, `models:/name` or `models:/name/latest` (the highest version), each
 *    with an optional `:signature`, as MLflow writes its model URIs.
 *
 * No signature means `serving_default`. The name stays a plain name ([[ModelRepository.isValidName]]):
 * a reference can never be a path, and a registered model's name also names its cache folders.
 *
 * @param alias the registry alias (`@champion`); only with [[fromRegistry]], and never with a version
 */
final case class ModelReference(
    name: String,
    version: Option[Long],
    signature: String,
    alias: Option[String] = None,
    fromRegistry: Boolean = false
) {
  override def toString: String =
    if (fromRegistry) s"${ModelReference.RegistryScheme}$name${version.map("/" + _).orElse(alias.map("@" + _)).getOrElse("")}:$signature"
    else name + version.fold("")("@" + _) + ":" + signature
}

object ModelReference {
  val DefaultSignature = "serving_default"

  /** The prefix of a reference to the MLflow model registry, as in MLflow's own model URIs. */
  val RegistryScheme = "models:/"

  private val Grammar = "([^@:]*)(?:@([^:]*))?(?::(.*))?".r
  private val RegistryGrammar = "([^@:/]*)(?:/([^@:/]*)|@([^@:/]*))?(?::(.*))?".r
  private val AliasPattern = "[A-Za-z0-9_-]+".r

  /**
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT for a malformed reference (an empty
   *   name, a version that is not a positive integer, an empty signature, a registry name that is
   *   not a plain name, a malformed alias)
   */
  def parse(text: String): ModelReference =
    if (text != null && text.trim.startsWith(RegistryScheme)) parseRegistry(text)
    else parseRepository(text)

  private def parseRepository(text: String): ModelReference = {
    def invalid() =
      TFSparkErrors.invalidArgument(
        "the model reference",
        s"'$text'",
        "NAME, NAME@VERSION, NAME:SIGNATURE or NAME@VERSION:SIGNATURE, with VERSION a positive integer " +
          s"(or ${RegistryScheme}NAME[/VERSION|@ALIAS][:SIGNATURE] for the MLflow registry)"
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

  private def parseRegistry(text: String): ModelReference = {
    def invalid(why: String) =
      TFSparkErrors.invalidArgument(
        "the MLflow model reference",
        s"'$text' ($why)",
        s"${RegistryScheme}NAME, ${RegistryScheme}NAME/VERSION, ${RegistryScheme}NAME/latest or ${RegistryScheme}NAME@ALIAS, " +
          "each optionally followed by :SIGNATURE; NAME of letters, digits, '_', '-', '.' and VERSION a positive integer"
      )
    text.trim.stripPrefix(RegistryScheme) match {
      case RegistryGrammar(name, version, alias, signature) =>
        if (!ModelRepository.isValidName(name)) throw invalid(s"the name '$name' is not a plain name")
        if (Option(signature).exists(_.trim.isEmpty)) throw invalid("an empty signature")
        val v = Option(version).filterNot(_ == "latest").map(s => s.toLongOption.filter(_ > 0).getOrElse(throw invalid(s"version '$s'")))
        val a = Option(alias).map(s => if (AliasPattern.matches(s)) s else throw invalid(s"alias '$s'"))
        ModelReference(name, v, Option(signature).map(_.trim).getOrElse(DefaultSignature), a, fromRegistry = true)
      case _ => throw invalid("not a registry model URI")
    }
  }
}
