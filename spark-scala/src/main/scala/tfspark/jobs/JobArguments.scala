package tfspark.jobs

import tfspark.errors.TFSparkErrors

/**
 * `--key value` command-line arguments of the jobs. Unknown keys and missing values are usage
 * errors (INVALID_ARGUMENT), so a typo never runs a job with defaults silently.
 */
final class JobArguments(values: Map[String, String]) {
  def get(key: String): Option[String] = values.get(key)
  def getOrElse(key: String, default: => String): String = values.getOrElse(key, default)
  def flag(key: String): Boolean = values.get(key).contains("true")

  /** @throws tfspark.errors.TFSparkException INVALID_ARGUMENT */
  def required(key: String): String =
    values.getOrElse(key, throw TFSparkErrors.invalidArgument(s"--$key", "missing", "a value (see --help)"))

  /** @throws tfspark.errors.TFSparkException INVALID_ARGUMENT */
  def positiveInt(key: String, default: Int): Int = values.get(key) match {
    case None => default
    case Some(v) => v.toIntOption.filter(_ > 0).getOrElse(throw TFSparkErrors.invalidArgument(s"--$key", v, "a positive integer"))
  }
}

/**
 * One declared command-line option: `--name VALUE` (with `value`, the placeholder in the help)
 * or a flag `--name`. A job declares its options once; the parser and `--help` both come from
 * the declaration.
 */
final case class JobOption(name: String, value: Option[String], help: String)

object JobOption {
  def value(name: String, placeholder: String, help: String): JobOption = JobOption(name, Some(placeholder), help)
  def flag(name: String, help: String): JobOption = JobOption(name, None, help)
}

object JobArguments {

  /** Parses `args` against declared `options` (see the other overload). */
  def parse(args: Seq[String], options: Seq[JobOption]): JobArguments =
    parse(args, options.filter(_.value.nonEmpty).map(_.name).toSet, options.filter(_.value.isEmpty).map(_.name).toSet)

  /** `--help` text: `header`, then one entry per option, its help wrapped under it when long. */
  def usage(header: String, options: Seq[JobOption]): String = {
    val column = 28
    val lines = options.map { o =>
      val left = s"  --${o.name}" + o.value.fold("")(" " + _)
      val help = o.help.linesIterator.toList
      if (left.length < column - 1) (left.padTo(column, ' ') + help.head) +: help.tail.map(" " * column + _)
      else left +: help.map(" " * column + _)
    }
    header.stripTrailing() + "\n\nOptions:\n" + lines.flatten.mkString("\n") + "\n"
  }

  /**
   * Parses `args` against the allowed `valueKeys` (each takes a value) and `flagKeys`.
   *
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT
   */
  def parse(args: Seq[String], valueKeys: Set[String], flagKeys: Set[String] = Set("help")): JobArguments = {
    def loop(rest: List[String], acc: Map[String, String]): Map[String, String] = rest match {
      case Nil => acc
      case s"--$k" :: tail if flagKeys(k) => loop(tail, acc + (k -> "true"))
      case s"--$k" :: v :: tail if valueKeys(k) && !v.startsWith("--") => loop(tail, acc + (k -> v))
      case s"--$k" :: _ if valueKeys(k) => throw TFSparkErrors.invalidArgument(s"--$k", "missing", "a value")
      case other :: _ =>
        val known = (valueKeys ++ flagKeys).toSeq.sorted.map("--" + _).mkString(", ")
        throw TFSparkErrors.invalidArgument("argument", s"'$other'", s"one of $known")
    }
    new JobArguments(loop(args.toList, Map.empty))
  }
}
