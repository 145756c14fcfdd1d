package tfspark

import org.scalatest.Assertions

import tfspark.errors.{TFSparkErrors, TFSparkException}

/** `checkError` as in Spark's tests: asserts a [[TFSparkException]]'s class, SQLSTATE and parameters. */
trait ErrorChecks extends Assertions {

  /**
   * Runs `body`, expects a [[TFSparkException]] anywhere in the cause chain, and checks it: its class,
   * its SQLSTATE (the error registry's for the class, and `sqlState` when given), the given
   * `parameters`, and the `[ERROR_CLASS] ` prefix of its message.
   */
  def checkError(errorClass: String, parameters: Map[String, String] = Map.empty, sqlState: Option[String] = None)(
      body: => Any
  ): TFSparkException = {
    val thrown = intercept[Throwable](body)
    val e = TFSparkException.find(thrown).getOrElse(fail(s"expected $errorClass, got $thrown", thrown))
    assert(e.errorClass === errorClass, e.getMessage)
    val registered = Option(TFSparkErrors.sqlState(errorClass)).getOrElse(fail(s"$errorClass is not in the error registry"))
    assert(e.getSqlState === registered, s"SQLSTATE of ${e.getMessage}")
    sqlState.foreach(expected => assert(e.getSqlState === expected, s"SQLSTATE of ${e.getMessage}"))
    parameters.foreach { case (k, v) =>
      assert(e.messageParameters.get(k).contains(v), s"parameter $k: ${e.messageParameters.get(k)} != $v in ${e.getMessage}")
    }
    assert(e.getMessage.startsWith(s"[$errorClass] "))
    e
  }
}
