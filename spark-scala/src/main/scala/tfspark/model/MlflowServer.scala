package tfspark.model

import java.io.InputStream
import java.net.{URI, URLEncoder}
import java.net.http.{HttpClient, HttpRequest, HttpResponse}
import java.nio.charset.StandardCharsets
import java.time.Duration
import java.util.Base64

import scala.util.Try

import com.fasterxml.jackson.databind.{JsonNode, ObjectMapper}

import tfspark.errors.TFSparkErrors

/**
 * The REST API of one MLflow tracking server, as the driver calls it: `GET` requests that answer
 * JSON, and artifact downloads. Credentials come from the driver's environment, as MLflow's own
 * clients read them: `MLFLOW_TRACKING_TOKEN` (a bearer token), else `MLFLOW_TRACKING_USERNAME` with
 * `MLFLOW_TRACKING_PASSWORD` (basic). Nothing here is cached: each call asks the server.
 *
 * @param url the server's base URL, without a final `/`
 * @param source where `url` came from (the setting or the environment variable), for messages
 * @throws tfspark.errors.TFSparkException (every method) MLFLOW_UNREACHABLE when the server does
 *   not answer, MLFLOW_REQUEST_FAILED for an answer other than 200 (except the not-found answers
 *   [[getJson]] returns as None)
 */
final class MlflowServer(val url: String, val source: String, environment: String => Option[String] = sys.env.get) {

  private val client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).followRedirects(HttpClient.Redirect.NORMAL).build()
  private val mapper = new ObjectMapper()

  /**
   * The JSON answer to `GET /api/2.0/<endpoint>?<query>` (e.g. `mlflow/model-versions/get`), or None when the server says the
   * thing asked for does not exist (`RESOURCE_DOES_NOT_EXIST`, or `INVALID_PARAMETER_VALUE` with
   * "not found", which is how MLflow answers an unknown alias).
   */
  def getJson(endpoint: String, query: (String, String)*): Option[JsonNode] = {
    val request = s"/api/2.0/$endpoint" + queryString(query)
    val response = send(request, HttpResponse.BodyHandlers.ofString())
    response.statusCode match {
      case 200 => Some(mapper.readTree(response.body))
      case status =>
        val answer = Try(mapper.readTree(response.body)).toOption
        val code = answer.flatMap(a => Option(a.get("error_code"))).map(_.asText).getOrElse("")
        val message = answer.flatMap(a => Option(a.get("message"))).map(_.asText).getOrElse(response.body.take(300))
        if (code == "RESOURCE_DOES_NOT_EXIST" || (code == "INVALID_PARAMETER_VALUE" && message.toLowerCase.contains("not found"))) None
        else throw TFSparkErrors.mlflowRequestFailed(url, request, status, Seq(code, message).filter(_.nonEmpty).mkString(": "))
    }
  }

  /**
   * The body of the artifact at `path` under the server's artifact proxy
   * (`/api/2.0/mlflow-artifacts/artifacts/<path>`), streamed; the caller closes it.
   */
  def openArtifact(path: String): InputStream = {
    val request = "/api/2.0/mlflow-artifacts/artifacts/" + path.split('/').map(encode).mkString("/")
    val response = send(request, HttpResponse.BodyHandlers.ofInputStream())
    if (response.statusCode == 200) response.body
    else {
      val body =
        try new String(response.body.readNBytes(300), StandardCharsets.UTF_8)
        finally response.body.close()
      throw TFSparkErrors.mlflowRequestFailed(url, request, response.statusCode, body)
    }
  }

  private def send[T](request: String, body: HttpResponse.BodyHandler[T]): HttpResponse[T] = {
    val builder = HttpRequest.newBuilder(URI.create(url + request)).timeout(Duration.ofSeconds(60)).GET()
    authorization.foreach(builder.header("Authorization", _))
    try client.send(builder.build(), body)
    catch {
      case e: java.io.IOException => throw TFSparkErrors.mlflowUnreachable(url, source, s"GET $request", e)
      case e: IllegalArgumentException => throw TFSparkErrors.mlflowUnreachable(url, source, s"GET $request", e)
    }
  }

  private def authorization: Option[String] =
    environment("MLFLOW_TRACKING_TOKEN").filter(_.nonEmpty).map("Bearer " + _).orElse {
      for {
        user <- environment("MLFLOW_TRACKING_USERNAME"); password <- environment("MLFLOW_TRACKING_PASSWORD")
      } yield "Basic " + Base64.getEncoder.encodeToString(s"$user:$password".getBytes(StandardCharsets.UTF_8))
    }

  private def queryString(query: Seq[(String, String)]): String =
    if (query.isEmpty) "" else query.map { case (k, v) => s"${encode(k)}=${encode(v)}" }.mkString("?", "&", "")

  private def encode(s: String): String = URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20")

  override def toString: String = url
}
