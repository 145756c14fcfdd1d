package tfspark

import org.scalatest.Assertions

import tfspark.errors.TFSparkException

/** `checkError` as in Spark's tests: asserts a [[TFSparkException]]'s class and parameters. */
trait ErrorChecks extends Assertions {

  /** Runs `body`, expects a [[TFSparkException]] anywhere in the cause chain, and checks it. */
  def checkError(errorClass: String, parameters: Map[String, String] = Map.empty)(body: => Any): TFSparkException = {
    val thrown = intercept[Throwable](body)
    val e = TFSparkException.find(thrown).getOrElse(fail(s"expected $errorClass, got $thrown", thrown))
    assert(e.errorClass === errorClass, e.getMessage)
    parameters.foreach { case (k, v) =>
      assert(e.messageParameters.get(k).contains(v), s"parameter $k: ${e.messageParameters.get(k)} != $v in ${e.getMessage}")
    }
    assert(e.getMessage.startsWith(s"[$errorClass] "))
    e
  }
}
