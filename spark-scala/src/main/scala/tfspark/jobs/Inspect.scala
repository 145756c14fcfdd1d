package tfspark.jobs

import java.io.File
import java.nio.file.Files

import tfspark.conf.Precision
import tfspark.errors.{TFSparkErrors, TFSparkException}
import tfspark.model.{Bfloat16Support, ModelCache, ModelRepository, OutputDeviation, PrecisionDeviation}

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
    """Usage: tfspark.jobs.Inspect [--repository DIR] [--model NAME] [--version V] [--precision P]
      |
      |Without --model: lists the models in the repository and their versions.
      |With --model: prints the signatures of that model's version (default: the latest) and its
      |model card (assets.extra/model_card.md) when there is one.
      |With --precision bfloat16: also loads it in bfloat16 and prints how far each output moves
      |from float32 on its warm-up inputs, and whether spark.tfpredict.precision.maxDeviation's
      |default would accept it (refused on a CPU without bfloat16 instructions).
      |""".stripMargin

  def main(args: Array[String]): Unit = {
    val code = exitCode(args)
    if (code != 0) sys.exit(code)
  }

  def exitCode(args: Array[String]): Int = {
    val parsed =
      try JobArguments.parse(args.toSeq, Set("repository", "model", "version", "precision"))
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
        val precision = args.get("precision").map { word =>
          // No limit here: Inspect shows the measure, the setting decides at query time.
          Precision.of(word, Double.MaxValue).getOrElse(throw TFSparkErrors.invalidArgument("--precision", word, "float32 or bfloat16"))
        }
        val deviation = precision.filter(_ != Precision.Float32).toSeq.flatMap { p =>
          val measured = ModelCache.acquire(s"inspect:${location.directory.getCanonicalPath}", location, p).deviation.get
          deviationLines(measured)
        }
        header ++ signatures ++ deviation ++ (if (card.isFile)
                                                "" +: new String(Files.readAllBytes(card.toPath), "UTF-8").linesIterator.toSeq
                                              else Nil)
    }
  }

  private def deviationLines(d: PrecisionDeviation): Seq[String] = {
    val limit = Precision.DefaultMaxDeviation
    val verdict = if (d.unmeasured.isEmpty && d.beyond(limit).isEmpty) "accepts" else "refuses"
    val on = if (d.source.isEmpty) "no real inputs" else d.source.values.toSeq.distinct.sorted.mkString(", ")
    Seq("", s"bfloat16 (CPU flags: ${Bfloat16Support.cpuFlags}), against float32 on $on:") ++
      d.outputs.map(o =>
        s"  ${o.signature}.${o.output}: deviation ${OutputDeviation.number(o.maxDeviation)}, |Δ| up to ${OutputDeviation.number(o.maxAbsolute)}, over ${o.values} values"
      ) ++
      d.unmeasured.map(s => s"  not measured: $s") ++
      Seq(s"  spark.tfpredict.precision.maxDeviation=$limit (the default) $verdict it")
  }
}
