package tfspark.conf

import tfspark.errors.TFSparkErrors

/**
 * Where a `spark.tfpredict.*` key is read, and so when it may change.
 *  - [[ConfScope.Session]]: the session's SQL configuration; a runtime `SET` changes it.
 *  - [[ConfScope.Static]]: a static SQL configuration, fixed when the application starts (the trust boundary).
 *  - [[ConfScope.Application]]: the application's `SparkConf`, which executors read too; fixed at
 *    start, so a runtime `SET` of it is refused rather than ignored.
 */
sealed trait ConfScope
object ConfScope {
  case object Session extends ConfScope
  case object Static extends ConfScope
  case object Application extends ConfScope
}

/**
 * One `spark.tfpredict.*` key: its name, scope, default (as text) and the values it accepts.
 * Values are trimmed; booleans take `true`/`false` only and enumerations their own words (both
 * case-insensitive), numbers their range. [[parse]] is the one place a value is checked.
 *
 * @param expected what a valid value is, in the words of the INVALID_CONFIG message
 */
final class ConfEntry[T] private (
    val key: String,
    val scope: ConfScope,
    val default: String,
    val expected: String,
    convert: String => Option[T]
) {

  /** The value of `raw`. @throws tfspark.errors.TFSparkException INVALID_CONFIG naming the key */
  def parse(raw: String): T = convert(raw.trim).getOrElse(throw TFSparkErrors.invalidConfig(key, raw, expected))

  /**
   * The value of `raw` given as `name` (a Transformer param or a job option that stands for this
   * key): the same values and range as the key.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG naming `name` and this key
   */
  def parseAs(name: String, raw: String): T =
    convert(raw.trim).getOrElse(throw TFSparkErrors.invalidConfig(s"$name (as $key)", raw, expected))

  /** The value set in `lookup`, else the default. @throws tfspark.errors.TFSparkException INVALID_CONFIG */
  def read(lookup: String => Option[String]): T = parse(lookup(key).getOrElse(default))

  override def toString: String = key
}

object ConfEntry {

  def boolean(key: String, scope: ConfScope, default: Boolean): ConfEntry[Boolean] =
    new ConfEntry(
      key,
      scope,
      default.toString,
      "true or false",
      _.toLowerCase match {
        case "true" => Some(true)
        case "false" => Some(false)
        case _ => None
      }
    )

  /** One of `values` (matched case-insensitively), turned into a `T` by `of`. */
  def oneOf[T](key: String, scope: ConfScope, default: String, values: Seq[String])(of: String => T): ConfEntry[T] =
    new ConfEntry(key, scope, default, values.map(v => s"'$v'").mkString(" or "), v => values.find(_.equalsIgnoreCase(v)).map(of))

  /** A whole number from `min` to `max`. */
  def int(key: String, scope: ConfScope, default: Int, min: Int, max: Int): ConfEntry[Int] = {
    val expected = if (max == Int.MaxValue) s"a whole number of at least $min" else s"a whole number from $min to $max"
    new ConfEntry(key, scope, default.toString, expected, _.toIntOption.filter(n => n >= min && n <= max))
  }

  /** A whole number from `min` to `max`, or `None` when unset or empty. */
  def optionalInt(key: String, scope: ConfScope, min: Int, max: Int): ConfEntry[Option[Int]] =
    new ConfEntry(
      key,
      scope,
      "",
      s"a whole number from $min to $max",
      {
        case "" => Some(None)
        case v => v.toIntOption.filter(n => n >= min && n <= max).map(Some(_))
      }
    )

  /** A finite number greater than 0. */
  def positiveDouble(key: String, scope: ConfScope, default: Double): ConfEntry[Double] =
    new ConfEntry(key, scope, default.toString, "a number greater than 0", _.toDoubleOption.filter(d => d > 0 && !d.isInfinite))

  /** Free text; `None` when empty or unset. */
  def text(key: String, scope: ConfScope, expected: String): ConfEntry[Option[String]] =
    new ConfEntry(key, scope, "", expected, v => Some(Some(v).filter(_.nonEmpty)))

  /** An `http:` or `https:` URL with a host; `None` when empty or unset. */
  def httpUrl(key: String, scope: ConfScope, expected: String): ConfEntry[Option[String]] =
    new ConfEntry(
      key,
      scope,
      "",
      expected,
      {
        case "" => Some(None)
        case v =>
          scala.util
            .Try(new java.net.URI(v))
            .toOption
            .filter(u => Set("http", "https").contains(Option(u.getScheme).map(_.toLowerCase).orNull) && u.getHost != null)
            .map(_ => Some(v.stripSuffix("/")))
      }
    )

  /** A comma-separated list of names (empty entries dropped). */
  def names(key: String, scope: ConfScope, expected: String): ConfEntry[Seq[String]] =
    new ConfEntry(key, scope, "", expected, v => Some(v.split(",").map(_.trim).filter(_.nonEmpty).toSeq))

  /**
   * A comma-separated list (empty entries dropped) in which every entry must satisfy `valid`;
   * `expected` says what a valid entry is.
   */
  def validatedList(key: String, scope: ConfScope, expected: String)(valid: String => Boolean): ConfEntry[Seq[String]] =
    new ConfEntry(key, scope, "", expected, v => Some(v.split(",").map(_.trim).filter(_.nonEmpty).toSeq).filter(_.forall(valid)))
}
