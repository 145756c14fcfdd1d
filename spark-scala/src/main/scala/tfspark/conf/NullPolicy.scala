package tfspark.conf

/** What a null input does (`spark.tfpredict.nullPolicy`, BatchScore's `--null-policy`). */
sealed trait NullPolicy {

  /** A null row, or a row with a null input field, gives a null result. */
  def nullGivesNull: Boolean = this == NullPolicy.ReturnNull

  /** Null scalar inputs become NaN (float inputs) or "" (string inputs). */
  def fillNulls: Boolean = this == NullPolicy.Fill
}

object NullPolicy {

  /** Fail with NULL_INPUT (the default: nothing is dropped silently). */
  case object Error extends NullPolicy

  /** Return null for that row, as most SQL functions do. */
  case object ReturnNull extends NullPolicy

  /** Feed NaN or "": the "missing" value of models like titanic. Null integers still fail. */
  case object Fill extends NullPolicy

  /** Parses `error`, `null` or `fill` (any case); `None` for anything else. */
  def parse(text: String): Option[NullPolicy] = text.trim.toLowerCase match {
    case "error" => Some(Error)
    case "null" => Some(ReturnNull)
    case "fill" => Some(Fill)
    case _ => None
  }
}
