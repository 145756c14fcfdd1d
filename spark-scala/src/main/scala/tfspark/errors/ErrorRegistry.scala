package tfspark.errors

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.{JsonNode, ObjectMapper}

/**
 * The error registry as the JVM reads it: `tfspark/errors/error-classes.json`, a resource of the jar
 * that the build copies from the one file in the repository, `tfspark/error-classes.json` (the Python
 * packages read that file in place). As Spark's `ErrorClassesJsonReader` reads its
 * `error-conditions.json`: once, at first use; a missing or malformed registry is a broken build and
 * fails that first use with an `IllegalStateException`.
 *
 * Each class has a `sqlState`, a `meaning` (docs/errors.md), `raisedBy` (`jvm`, `tfspark`,
 * `python_trainer`, `python_trainer check`) and, when its message is rendered from a template, a
 * `message` naming its parameters as `<name>`; optionally `whenFailing` (advice only a failing query
 * needs) and `diagnoses` (a cause and a fix that both the JVM and `python -m python_trainer check` name).
 */
private[tfspark] object ErrorRegistry {

  /** Where the jar holds the registry. */
  val Resource = "tfspark/errors/error-classes.json"

  /** One error class of the registry. */
  final case class ErrorClass(
      sqlState: String,
      message: Option[String],
      whenFailing: String,
      raisedBy: Seq[String],
      diagnoses: Map[String, Diagnosis]
  )

  /** A cause and its fix, as the JVM and `python_trainer check` both word them. */
  final case class Diagnosis(cause: String, fix: String)

  /** Every class, by name, in the registry's (sorted) order. */
  lazy val classes: Map[String, ErrorClass] = parse(read())

  private def read(): JsonNode = {
    val in = Option(getClass.getClassLoader.getResourceAsStream(Resource))
      .getOrElse(throw new IllegalStateException(s"$Resource is not on the classpath: the jar was not built by build.sbt"))
    try new ObjectMapper().readTree(in)
    finally in.close()
  }

  private def parse(root: JsonNode): Map[String, ErrorClass] =
    root
      .properties()
      .asScala
      .map { entry =>
        val node = entry.getValue
        def text(field: String): Option[String] = Option(node.get(field)).map(_.asText)
        val diagnoses = Option(node.get("diagnoses")).toSeq.flatMap(_.properties().asScala).map { d =>
          d.getKey -> Diagnosis(d.getValue.get("cause").asText, d.getValue.get("fix").asText)
        }
        entry.getKey -> ErrorClass(
          sqlState = text("sqlState").getOrElse(throw new IllegalStateException(s"$Resource: ${entry.getKey} has no sqlState")),
          message = text("message"),
          whenFailing = text("whenFailing").getOrElse(""),
          raisedBy = Option(node.get("raisedBy")).toSeq.flatMap(_.elements().asScala).map(_.asText),
          diagnoses = diagnoses.toMap
        )
      }
      .toMap

  /** The registry's `diagnoses` entry `name` of `errorClass`. */
  def diagnosis(errorClass: String, name: String): Diagnosis =
    classes
      .get(errorClass)
      .flatMap(_.diagnoses.get(name))
      .getOrElse(throw new IllegalStateException(s"$Resource: $errorClass has no diagnosis $name"))
}
