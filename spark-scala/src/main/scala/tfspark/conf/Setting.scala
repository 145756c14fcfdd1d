package tfspark.conf

import scala.language.implicitConversions

/**
 * One setting of a call of the Scala API (`tfspark.TFInference`): the value the caller gave
 * ([[Setting.Given]]), or [[Setting.FromSession]], which stands for the session's
 * `spark.tfpredict.*` setting of the same name, read and checked ([[TFSparkConf]]) when the call
 * is made. A value given wins over the session's setting.
 *
 * A plain value converts to [[Setting.Given]] implicitly, so callers write `batchSize = 64` or
 * `nullPolicy = NullPolicy.Fill` as they would for a parameter of the value's own type.
 */
sealed trait Setting[+T] {

  /** The value given, else `session` (evaluated only then). */
  def orSession[U >: T](session: => U): U

  /** Whether the caller gave the value (a bad one is then the caller's argument, not a setting). */
  def isGiven: Boolean
}

object Setting {

  /** The session's `spark.tfpredict.*` setting: the default of every [[Setting]] parameter. */
  case object FromSession extends Setting[Nothing] {
    override def orSession[U](session: => U): U = session
    override def isGiven: Boolean = false
  }

  /** The caller's value, which wins over the session's setting. */
  final case class Given[+T](value: T) extends Setting[T] {
    override def orSession[U >: T](session: => U): U = value
    override def isGiven: Boolean = true
  }

  /** `batchSize = 64` is `batchSize = Setting.Given(64)`. */
  implicit def fromValue[T](value: T): Setting[T] = Given(value)

  /** `Some(v)`: the value given; `None`: [[FromSession]] (a Transformer param that is set, or not). */
  def of[T](value: Option[T]): Setting[T] = value.fold[Setting[T]](FromSession)(Given(_))
}
