package tfspark.model

import java.net.URI

import scala.jdk.CollectionConverters._
import scala.util.Try

import com.fasterxml.jackson.databind.JsonNode
import org.apache.spark.sql.internal.SQLConf

import tfspark.conf.TFSparkConf
import tfspark.errors.TFSparkErrors

/**
 * The MLflow model registry as a source of model versions: resolves a `models:/` reference
 * ([[ModelReference]]) on the driver through the tracking server's REST API, then copies the
 * version's SavedModel into the driver's local model cache, keyed by content and verified
 * ([[VerifiedCopy.materializeByContent]]), as a version of a remote folder repository is. From
 * there the version is shipped, warmed up and cached like any other ([[ShippedModel]]).
 *
 * Each call asks the registry again, so an alias moved to another version is seen by the next
 * query; a query already analysed keeps the version it was bound to. A version's files are read
 * once per JVM while their listing is unchanged.
 *
 * The SavedModel is found among the version's files by its `saved_model.pb`, wherever the logger
 * put it: `tfspark.mlflow.log_model` stores it under `artifacts/`, other tools elsewhere. A
 * version with no SavedModel (a Keras 3 model logged through MLflow's TensorFlow flavor is a
 * `.keras` file) or with several is refused with MLFLOW_NOT_SAVED_MODEL.
 */
final class MlflowRegistry(val server: MlflowServer) {
  private lazy val log = org.slf4j.LoggerFactory.getLogger(getClass)

  /**
   * The version `reference` names, with its SavedModel in a local folder.
   *
   * @throws tfspark.errors.TFSparkException MLFLOW_MODEL_NOT_FOUND, MLFLOW_VERSION_NOT_FOUND,
   *   MLFLOW_NOT_SAVED_MODEL, MLFLOW_UNREACHABLE, MLFLOW_REQUEST_FAILED, MODEL_LOAD_FAILED (a file
   *   could not be copied or changed while it was)
   */
  def resolve(reference: ModelReference): ModelLocation = {
    val name = reference.name
    val chosen = (reference.version, reference.alias) match {
      case (Some(v), _) =>
        modelVersion("mlflow/model-versions/get", "name" -> name, "version" -> v.toString).getOrElse(throw notFound(name, s"no version $v"))
      case (None, Some(alias)) =>
        modelVersion("mlflow/registered-models/alias", "name" -> name, "alias" -> alias).getOrElse(throw notFound(name, s"no alias $alias"))
      case (None, None) =>
        val registered = registeredModel(name).getOrElse(throw notFound(name, "no version"))
        elements(registered.get("latest_versions")).maxByOption(versionOf).getOrElse(throw notFound(name, "no version"))
    }
    val version = versionOf(chosen)
    val status = chosen.path("status").asText("READY")
    if (status != "READY") throw notFound(name, s"version $version only in status $status (not READY yet)")
    val downloadUri = server
      .getJson("mlflow/model-versions/get-download-uri", "name" -> name, "version" -> version.toString)
      .map(_.path("artifact_uri").asText(""))
      .filter(_.nonEmpty)
      .getOrElse(throw notFound(name, s"no files for version $version"))
    val artifacts = MlflowArtifacts(downloadUri, server)
    val listed = artifacts.files()
    val folder = savedModelFolder(name, version, downloadUri, listed.map(_._1.path))
    val inFolder = listed.collect {
      case (f, modified) if folder.isEmpty || f.path.startsWith(folder + "/") => (f.copy(path = f.path.stripPrefix(folder + "/")), modified)
    }
    val source = if (folder.isEmpty) downloadUri else s"${downloadUri.stripSuffix("/")}/$folder"
    val directory = VerifiedCopy.materializeByContent(
      name,
      s"$source (${server.url})",
      ModelRepository.localCache,
      sha => s"$name-$version-${sha.take(16)}",
      inFolder.sortBy(_._1.path)
    )(artifacts.place(folder))
    log.info(
      s"Resolved $reference to version $version of registered model $name at ${server.url} " +
        s"(run ${chosen.path("run_id").asText("none")}, files $source)"
    )
    ModelLocation(name, version, directory, artifacts.sharedUri(folder))
  }

  /** The folder (relative to the version's files, "" for their root) that holds the one `saved_model.pb`. */
  private def savedModelFolder(name: String, version: Long, uri: String, paths: Seq[String]): String = {
    val folders =
      paths.filter(p => p == "saved_model.pb" || p.endsWith("/saved_model.pb")).map(_.stripSuffix("saved_model.pb").stripSuffix("/"))
    def refuse(found: String, fix: String) = TFSparkErrors.mlflowNotSavedModel(name, version, uri, found, fix)
    val logIt =
      "Export a SavedModel (model.export(DIR) for a Keras 3 model, tf.saved_model.save(module, DIR) otherwise) and log it with " +
        "tfspark.mlflow.log_model(DIR, registered_model_name=NAME), which mlflow.pyfunc loads too (docs/mlflow.md)."
    folders match {
      case Seq(one) => one
      case Seq() =>
        val shown = if (paths.size <= 12) paths.mkString(", ") else paths.take(12).mkString(", ") + s", ... (${paths.size} files)"
        val keras = paths.filter(p => p.endsWith(".keras") || p.endsWith(".h5"))
        val found =
          if (keras.nonEmpty)
            s"its files are $shown; ${keras.mkString(", ")} is a Keras model file (what MLflow's TensorFlow flavor logs for a Keras model), " +
              "which only Python's Keras reads: TensorFlow's C++ loader restores SavedModels only"
          else if (paths.isEmpty) "it has no files"
          else s"no saved_model.pb among its files ($shown)"
        throw refuse(found, logIt)
      case several =>
        throw refuse(
          s"several SavedModels, in ${several.map(f => if (f.isEmpty) "the root" else f).mkString(", ")}",
          "Log one SavedModel per model version (tfspark.mlflow.log_model(DIR, registered_model_name=NAME))."
        )
    }
  }

  private def modelVersion(endpoint: String, query: (String, String)*): Option[JsonNode] =
    server.getJson(endpoint, query: _*).flatMap(a => Option(a.get("model_version")))

  private def registeredModel(name: String): Option[JsonNode] =
    server.getJson("mlflow/registered-models/get", "name" -> name).flatMap(a => Option(a.get("registered_model")))

  /** MLFLOW_MODEL_NOT_FOUND when `name` is not registered, else MLFLOW_VERSION_NOT_FOUND listing its versions and aliases. */
  private def notFound(name: String, wanted: String): Throwable =
    registeredModel(name) match {
      case None =>
        val all = server
          .getJson("mlflow/registered-models/search", "max_results" -> "1000")
          .toSeq
          .flatMap(a => elements(a.get("registered_models")))
        TFSparkErrors.mlflowModelNotFound(name, server.url, all.map(_.path("name").asText).sorted)
      case Some(registered) =>
        val versions = server
          .getJson("mlflow/model-versions/search", "filter" -> s"name='${name.replace("'", "\\'")}'", "max_results" -> "1000")
          .toSeq
          .flatMap(a => elements(a.get("model_versions")))
          .map(versionOf)
          .sorted
        val aliases = elements(registered.get("aliases")).map(a => s"${a.path("alias").asText} (version ${a.path("version").asText})")
        TFSparkErrors.mlflowVersionNotFound(name, wanted, server.url, versions, aliases.sorted)
    }

  private def elements(node: JsonNode): Seq[JsonNode] = Option(node).toSeq.flatMap(_.elements().asScala)

  private def versionOf(modelVersion: JsonNode): Long = modelVersion.path("version").asText("0").toLongOption.getOrElse(0L)
}

object MlflowRegistry {

  /** The environment variable MLflow's clients read, used when [[TFSparkConf.MlflowTrackingUri]] is not set. */
  val TrackingUriVariable = "MLFLOW_TRACKING_URI"

  /**
   * The registry of this application: [[TFSparkConf.MlflowTrackingUri]] (static, so no SQL user can
   * point tfspark at another server), else `MLFLOW_TRACKING_URI` in the driver's environment.
   *
   * @throws tfspark.errors.TFSparkException MLFLOW_NOT_CONFIGURED when neither is set, or the
   *   variable is not an http(s) URL; INVALID_CONFIG for a malformed setting
   */
  def configured(
      reference: ModelReference,
      conf: SQLConf = SQLConf.get,
      environment: String => Option[String] = sys.env.get
  ): MlflowRegistry = {
    val key = TFSparkConf.MlflowTrackingUri
    def unset(problem: String) = TFSparkErrors.mlflowNotConfigured(reference.toString, key, problem)
    TFSparkConf.mlflowTrackingUri(conf) match {
      case Some(url) => new MlflowRegistry(new MlflowServer(url, key, environment))
      case None =>
        val url = environment(TrackingUriVariable)
          .map(_.trim)
          .filter(_.nonEmpty)
          .getOrElse(throw unset(s"neither $key nor $TrackingUriVariable is set"))
        val scheme = Try(new URI(url)).toOption.flatMap(u => Option(u.getScheme)).map(_.toLowerCase)
        if (!scheme.exists(Set("http", "https"))) {
          throw unset(
            s"$TrackingUriVariable is '$url', which is not a tracking server's http(s) URL: tfspark reads the registry through the " +
              "server's REST API, so a local store (file:, sqlite:, a folder) or databricks is not one; serve it with `mlflow server " +
              "--backend-store-uri <the store>` and point tfspark at that server"
          )
        }
        new MlflowRegistry(new MlflowServer(url.stripSuffix("/"), TrackingUriVariable, environment))
    }
  }
}
