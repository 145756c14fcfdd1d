package tfspark.model

import java.io.File
import java.net.{InetSocketAddress, ServerSocket, URLDecoder}
import java.nio.charset.StandardCharsets
import java.nio.file.Files

import scala.collection.mutable

import com.fasterxml.jackson.databind.ObjectMapper
import com.sun.net.httpserver.{HttpExchange, HttpServer}
import org.apache.spark.sql.types.FloatType
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TestModels}
import tfspark.conf.TFSparkConf
import tfspark.jobs.{BatchScore, BatchScoreOptions}
import tfspark.ml.TFModelTransformer

/**
 * An in-process stand-in for an MLflow tracking server, answering the REST calls tfspark makes
 * with the bodies, status codes and error codes a real MLflow 3 server gives (recorded from
 * `mlflow server` 3.17.2: an unknown alias is HTTP 400 `INVALID_PARAMETER_VALUE` "... not found",
 * an unknown model or version HTTP 404 `RESOURCE_DOES_NOT_EXIST`; the artifact proxy lists a
 * folder's direct children by name). The real server is tests/test_mlflow.py's.
 *
 * Version `v` of model `m` keeps its files in `<artifacts>/m/v/`.
 */
final class FakeMlflowServer {
  val artifacts: File = TestModels.tempDir("tfspark-fake-mlflow")
  val versions = mutable.Map.empty[String, mutable.SortedSet[Long]]
  val aliases = mutable.Map.empty[(String, String), Long]

  /** Model names whose requests answer HTTP 403, as a server that needs a token does. */
  val forbidden = mutable.Set.empty[String]
  val requests = new java.util.concurrent.atomic.AtomicInteger()

  private val json = new ObjectMapper()
  private val server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0)
  server.createContext("/", (exchange: HttpExchange) => synchronized(answer(exchange)))
  server.start()
  val url: String = s"http://127.0.0.1:${server.getAddress.getPort}"

  def stop(): Unit = server.stop(0)

  /** Registers version `v` of `name` with `files` copied from `saved` into `<v>/artifacts/saved_model/`. */
  def register(name: String, v: Long, saved: Option[File], extra: Map[String, String] = Map.empty): Unit = synchronized {
    val dir = new File(artifacts, s"$name/$v")
    saved.foreach(s => RolledVersions.add(new File(dir, "artifacts"), "saved_model", v, s))
    Files.createDirectories(dir.toPath)
    Files.writeString(new File(dir, "MLmodel").toPath, "flavors:\n  python_function: {}\n")
    extra.foreach { case (path, text) =>
      val f = new File(dir, path); f.getParentFile.mkdirs(); Files.writeString(f.toPath, text)
    }
    versions.getOrElseUpdate(name, mutable.SortedSet.empty[Long]) += v
  }

  private def modelVersion(name: String, v: Long) =
    Map("name" -> name, "version" -> v.toString, "status" -> "READY", "run_id" -> s"run$v", "source" -> s"models:/m-$name$v")

  private def answer(exchange: HttpExchange): Unit = {
    requests.incrementAndGet()
    val path = exchange.getRequestURI.getRawPath
    val query = Option(exchange.getRequestURI.getRawQuery).toSeq
      .flatMap(_.split("&"))
      .map(_.split("=", 2))
      .map(kv => URLDecoder.decode(kv(0), "UTF-8") -> URLDecoder.decode(kv.lift(1).getOrElse(""), "UTF-8"))
      .toMap
    def reply(status: Int, body: Any): Unit = {
      val bytes = json.writeValueAsBytes(toJava(body))
      exchange.sendResponseHeaders(status, bytes.length.toLong)
      exchange.getResponseBody.write(bytes)
      exchange.close()
    }
    def missing(code: String, message: String) =
      reply(if (code == "RESOURCE_DOES_NOT_EXIST") 404 else 400, Map("error_code" -> code, "message" -> message))
    val name = query.getOrElse("name", "")
    if (forbidden(name)) reply(403, Map("error_code" -> "PERMISSION_DENIED", "message" -> s"no permission on $name"))
    else
      path.stripPrefix("/api/2.0/") match {
        case "mlflow/registered-models/get" =>
          versions.get(name) match {
            case None => missing("RESOURCE_DOES_NOT_EXIST", s"Registered Model with name=$name not found")
            case Some(vs) =>
              val named = aliases.collect { case ((`name`, a), v) => Map("alias" -> a, "version" -> v.toString) }.toSeq
              reply(
                200,
                Map(
                  "registered_model" -> Map(
                    "name" -> name,
                    "latest_versions" -> vs.lastOption.map(modelVersion(name, _)).toSeq,
                    "aliases" -> named
                  )
                )
              )
          }
        case "mlflow/registered-models/alias" =>
          aliases.get((name, query("alias"))) match {
            case Some(v) => reply(200, Map("model_version" -> modelVersion(name, v)))
            case None => missing("INVALID_PARAMETER_VALUE", s"Registered model alias ${query("alias")} not found.")
          }
        case "mlflow/model-versions/get" | "mlflow/model-versions/get-download-uri" =>
          val v = query("version").toLong
          if (!versions.get(name).exists(_.contains(v)))
            missing("RESOURCE_DOES_NOT_EXIST", s"Model Version (name=$name, version=$v) not found")
          else if (path.endsWith("get-download-uri")) reply(200, Map("artifact_uri" -> s"mlflow-artifacts:/$name/$v"))
          else reply(200, Map("model_version" -> modelVersion(name, v)))
        case "mlflow/registered-models/search" =>
          reply(200, Map("registered_models" -> versions.keys.toSeq.sorted.map(n => Map("name" -> n))))
        case "mlflow/model-versions/search" =>
          val n = query("filter").stripPrefix("name='").stripSuffix("'")
          reply(200, Map("model_versions" -> versions.getOrElse(n, Nil).toSeq.map(modelVersion(n, _))))
        case "mlflow-artifacts/artifacts" =>
          val dir = new File(artifacts, query("path"))
          val files = Option(dir.listFiles()).toSeq.flatten.sortBy(_.getName).map { f =>
            if (f.isDirectory) Map("path" -> f.getName, "is_dir" -> true)
            else Map("path" -> f.getName, "is_dir" -> false, "file_size" -> f.length)
          }
          reply(200, Map("files" -> files))
        case artifact if artifact.startsWith("mlflow-artifacts/artifacts/") =>
          val f = new File(artifacts, URLDecoder.decode(artifact.stripPrefix("mlflow-artifacts/artifacts/"), "UTF-8"))
          val bytes = Files.readAllBytes(f.toPath)
          exchange.sendResponseHeaders(200, bytes.length.toLong)
          exchange.getResponseBody.write(bytes)
          exchange.close()
        case other => missing("ENDPOINT_NOT_FOUND", s"no endpoint $other")
      }
  }

  private def toJava(v: Any): Any = {
    import scala.jdk.CollectionConverters._
    v match {
      case m: Map[_, _] => m.map { case (k, x) => k -> toJava(x) }.asJava
      case s: Seq[_] => s.map(toJava).asJava
      case other => other
    }
  }
}

/** `models:/` references through SQL, the Transformer and BatchScore, against [[FakeMlflowServer]]. */
class MlflowRegistrySuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private lazy val registry = new FakeMlflowServer
  private val linear = new File(TestModels.modelsDir, "linear/1")
  private val covid = new File(TestModels.modelsDir, "covid/1")

  override protected def extraConf: Map[String, String] = Map(TFSparkConf.MlflowTrackingUri -> registry.url)

  override def afterAll(): Unit =
    try super.afterAll()
    finally registry.stop()

  test("models:/ references: name, /version, /latest, @alias, each with :signature; malformed ones are INVALID_ARGUMENT") {
    def registryRef(name: String, v: Option[Long], alias: Option[String], sig: String = "serving_default") =
      ModelReference(name, v, sig, alias, fromRegistry = true)
    assert(ModelReference.parse("models:/churn") === registryRef("churn", None, None))
    assert(ModelReference.parse("models:/churn/latest") === registryRef("churn", None, None))
    assert(ModelReference.parse("models:/churn/3") === registryRef("churn", Some(3L), None))
    assert(ModelReference.parse("models:/churn@champion:features") === registryRef("churn", None, Some("champion"), "features"))
    assert(ModelReference.parse("models:/churn@champion:features").toString === "models:/churn@champion:features")
    assert(ModelReference.parse("models:/churn/3").toString === "models:/churn/3:serving_default")
    for (
      bad <- Seq(
        "models:/",
        "models:/churn/0",
        "models:/churn/x",
        "models:/churn@",
        "models:/a b",
        "models:/../x",
        "models:/c/1:",
        "models:/c/1/2"
      )
    ) {
      checkError("INVALID_ARGUMENT", Map("what" -> "the MLflow model reference"))(ModelReference.parse(bad))
    }
  }

  test("an alias resolves to its version; a moved alias is used by the next query, an analysed query keeps its version") {
    registry.register("roll", 1, Some(linear))
    registry.register("roll", 2, Some(covid))
    registry.aliases(("roll", "champion")) = 1
    val before = spark.sql("SELECT tfpredict('models:/roll@champion', array(1.0f, 2.0f)) AS p")
    assert(before.schema("p").dataType === FloatType)
    registry.aliases(("roll", "champion")) = 2
    val after = spark.sql("SELECT tfpredict('models:/roll@champion', array(array(10.0f, 2.0f, 0.0f))) AS p")
    assert(after.head().getSeq[Float](0).size === 3, "the next query runs version 2 (covid)")
    assert(math.abs(before.head().getFloat(0) - 2.838135f) < 1e-5f, "the query analysed before the move still runs version 1")
  }

  test("models:/NAME and /latest take the highest version; /VERSION that one") {
    registry.register("latest_m", 1, Some(covid))
    registry.register("latest_m", 2, Some(linear))
    for (ref <- Seq("models:/latest_m", "models:/latest_m/latest", "models:/latest_m/2")) {
      assert(spark.sql(s"SELECT tfpredict('$ref', array(1.0f, 2.0f)) AS p").schema("p").dataType === FloatType, ref)
    }
    assert(spark.sql("SELECT tfpredict('models:/latest_m/1', array(array(10.0f, 2.0f, 0.0f))) AS p").count() === 1)
  }

  test("the Transformer and BatchScore take models:/ references") {
    registry.register("entry", 1, Some(linear))
    registry.aliases(("entry", "prod")) = 1
    val session = spark
    import session.implicits._
    val df = Seq((1, Array(1.0f, 2.0f)), (2, Array(3.0f, 4.0f))).toDF("id", "xs")
    val viaTransformer = new TFModelTransformer().setModel("models:/entry@prod").setInputCol("xs").transform(df).orderBy("id")
    val viaSql = df.selectExpr("id", "tfpredict('linear', xs) AS prediction").orderBy("id")
    assert(viaTransformer.select("prediction").as[Float].collect() === viaSql.select("prediction").as[Float].collect())
    val dir = TestModels.tempDir("mlflow-batchscore")
    val input = new File(dir, "in.csv")
    Files.writeString(input.toPath, "id,x1,x2\n1,1.0,2.0\n2,3.0,4.0\n")
    val out = new File(dir, "out")
    val args =
      Seq("--model", "models:/entry/1", "--input", input.getPath, "--features", "x1,x2", "--output", out.getPath, "--output-format", "json")
    val summary = BatchScore.run(spark, BatchScoreOptions.parse(args))
    assert(summary.rows === 2)
    val scored = spark.read.json(out.getPath).orderBy("id").select("prediction").as[Double].collect().map(_.toFloat)
    assert(scored === viaSql.select("prediction").as[Float].collect())
  }

  test("unknown models, versions and aliases name what the registry has") {
    registry.register("known", 1, Some(linear))
    registry.aliases(("known", "champion")) = 1
    checkError("MLFLOW_MODEL_NOT_FOUND", Map("model" -> "nope", "server" -> registry.url)) {
      spark.sql("SELECT tfpredict('models:/nope', array(1.0f, 2.0f))")
    }
    checkError(
      "MLFLOW_VERSION_NOT_FOUND",
      Map("model" -> "known", "wanted" -> "no version 7", "versions" -> "1", "aliases" -> "champion (version 1)")
    ) {
      spark.sql("SELECT tfpredict('models:/known/7', array(1.0f, 2.0f))")
    }
    checkError("MLFLOW_VERSION_NOT_FOUND", Map("model" -> "known", "wanted" -> "no alias gold")) {
      spark.sql("SELECT tfpredict('models:/known@gold', array(1.0f, 2.0f))")
    }
  }

  test("a version without a SavedModel (a Keras 3 .keras file) or with two is MLFLOW_NOT_SAVED_MODEL, with the fix") {
    registry.register("keras3", 1, None, Map("data/model.keras" -> "PK", "data/keras_module.txt" -> "keras"))
    val e = checkError("MLFLOW_NOT_SAVED_MODEL", Map("model" -> "keras3", "version" -> "1")) {
      spark.sql("SELECT tfpredict('models:/keras3/1', array(1.0f, 2.0f))")
    }
    assert(e.getMessage.contains("data/model.keras is a Keras model file"), e.getMessage)
    assert(e.getMessage.contains("tfspark.mlflow.log_model(DIR, registered_model_name=NAME)"), e.getMessage)
    registry.register("two", 1, Some(linear))
    RolledVersions.add(new File(registry.artifacts, "two/1/other"), "saved_model", 1, linear)
    checkError("MLFLOW_NOT_SAVED_MODEL", Map("model" -> "two")) {
      spark.sql("SELECT tfpredict('models:/two/1', array(1.0f, 2.0f))")
    }
  }

  test("a refusing server is MLFLOW_REQUEST_FAILED; an unreachable one MLFLOW_UNREACHABLE; none set MLFLOW_NOT_CONFIGURED") {
    registry.register("secret", 1, Some(linear))
    registry.forbidden += "secret"
    checkError("MLFLOW_REQUEST_FAILED", Map("status" -> "403", "reason" -> "PERMISSION_DENIED: no permission on secret")) {
      spark.sql("SELECT tfpredict('models:/secret/1', array(1.0f, 2.0f))")
    }
    val closed = { val s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress); val p = s.getLocalPort; s.close(); p }
    val ref = ModelReference.parse("models:/known/1")
    val unreachable = new MlflowRegistry(new MlflowServer(s"http://127.0.0.1:$closed", "MLFLOW_TRACKING_URI"))
    checkError("MLFLOW_UNREACHABLE", Map("server" -> s"http://127.0.0.1:$closed", "source" -> "MLFLOW_TRACKING_URI"))(
      unreachable.resolve(ref)
    )
    val unset = new org.apache.spark.sql.internal.SQLConf
    checkError("MLFLOW_NOT_CONFIGURED", Map("reference" -> "models:/known/1:serving_default"))(
      MlflowRegistry.configured(ref, unset, _ => None)
    )
    val local = checkError("MLFLOW_NOT_CONFIGURED") {
      MlflowRegistry.configured(ref, unset, Map(MlflowRegistry.TrackingUriVariable -> "file:///tmp/mlruns").get)
    }
    assert(local.getMessage.contains("mlflow server --backend-store-uri"), local.getMessage)
    val fromEnv = MlflowRegistry.configured(ref, unset, Map(MlflowRegistry.TrackingUriVariable -> "http://mlflow.internal:5000/").get)
    assert(fromEnv.server.url === "http://mlflow.internal:5000" && fromEnv.server.source === MlflowRegistry.TrackingUriVariable)
  }

  test("the tracking server is a static setting: SET is refused, and a value that is not an http(s) URL is INVALID_CONFIG") {
    val e = intercept[org.apache.spark.sql.AnalysisException](spark.sql(s"SET ${TFSparkConf.MlflowTrackingUri}=http://elsewhere:5000"))
    assert(e.getCondition === "CANNOT_MODIFY_STATIC_CONFIG", e.getMessage)
    for (bad <- Seq("file:///tmp/mlruns", "mlflow.internal:5000", "databricks", "http://")) {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.MlflowTrackingUri))(TFSparkConf.entry(TFSparkConf.MlflowTrackingUri).parse(bad))
    }
    assert(TFSparkConf.entry(TFSparkConf.MlflowTrackingUri).parse("https://mlflow.internal/") === Some("https://mlflow.internal"))
  }
}
