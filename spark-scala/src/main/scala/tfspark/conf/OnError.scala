package tfspark.conf

/** What a row that the model cannot score does (`spark.tfpredict.onError`, BatchScore's `--on-error`). */
sealed trait OnError {

  /** The row gets a null result and its error (class and message) beside it; the job goes on. */
  def isolates: Boolean = this == OnError.ReturnNull
}

object OnError {

  /** Fail the task (and the job) with the row's error: the default, nothing is dropped silently. */
  case object Fail extends OnError

  /** A null result plus the error: `tfpredict` returns `struct<result, error struct<errorClass, message>>`. */
  case object ReturnNull extends OnError

  /** Parses `fail` or `null` (any case); `None` for anything else. */
  def parse(text: String): Option[OnError] = text.trim.toLowerCase match {
    case "fail" => Some(Fail)
    case "null" => Some(ReturnNull)
    case _ => None
  }
}
