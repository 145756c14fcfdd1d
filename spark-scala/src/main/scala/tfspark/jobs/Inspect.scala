package tfspark.jobs

import java.io.File
import java.nio.file.Files

import tfspark.errors.TFSparkException
import tfspark.model.{ModelCache, ModelRepository}

/**
 * Prints what a model repository holds, like `saved_model_cli show`: the models and versions, and
 * for one model version its signatures (keys, dtypes, shapes, read from the SignatureDefs) and its
 * model card. Runs without Spark.
 *
 * {{{
 * java -cp tfspark-assembly.jar:tensorflow-core-native-...jar tfspark.jobs.Inspect --repository models --model titanic
 * }}}
 *
 * Exit status: 0, 1 with one line on stderr for a bad model, 2 for a usage error.
 */
object Inspect {

  val Usage: String =
    """Usage: tfspark.jobs.Inspect [--repository DIR] [--model NAME] [--version V]
      |
      |Without --model: lists the models in the repository and their versions.
      |With --model: prints the signatures of that model's version (default: the latest) and its
      |model card (assets.extra/model_card.md) when there is one.
      |""".stripMargin

  def main(args: Array[String]): Unit = {
    val code = exitCode(args)
    if (code != 0) sys.exit(code)
  }

  def exitCode(args: Array[String]): Int = {
    val parsed =
      try JobArguments.parse(args.toSeq, Set("repository", "model", "version"))
      catch { case e: TFSparkException => System.err.println(s"Inspect: ${e.getMessage}\n$Usage"); return 2 }
    if (parsed.flag("help")) { println(Usage); return 0 }
    try { render(parsed).foreach(println); 0 }
    catch {
      case e: TFSparkException =>
        System.err.println(s"Inspect failed: ${e.getMessage}")
        1
    }
  }

  /** The lines Inspect prints. */
  def render(args: JobArguments): Seq[String] = {
    val repo = ModelRepository(args.getOrElse("repository", "models"))
    args.get("model") match {
      case None =>
        s"Model repository ${repo.root}:" +: repo.models.map(m => s"  $m: versions ${repo.versions(m).mkString(", ")}")
      case Some(name) =>
        val location = repo.resolve(name, args.get("version").map(v => args.positiveInt("version", 1).toLong))
        val handle = ModelCache.acquire(s"inspect:${location.directory.getCanonicalPath}", location)
        val header = Seq(
          s"Model $name, version ${location.version} (${location.directory}); versions: ${repo.versions(name).mkString(", ")}"
        )
        val signatures = handle.signatures.values.toSeq.sortBy(_.key).flatMap { s =>
          Seq("", s"signature_def['${s.key}']:", "  inputs:") ++
            s.inputs.map(t => s"    ${t.key}: ${t.dtype} ${t.shapeString}") ++
            Seq("  outputs:") ++ s.outputs.map(t => s"    ${t.key}: ${t.dtype} ${t.shapeString}")
        }
        val card = new File(location.directory, "assets.extra/model_card.md")
        header ++ signatures ++ (if (card.isFile) "" +: new String(Files.readAllBytes(card.toPath), "UTF-8").linesIterator.toSeq else Nil)
    }
  }
}
