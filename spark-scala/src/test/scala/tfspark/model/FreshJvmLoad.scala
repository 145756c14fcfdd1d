package tfspark.model

import java.io.File

import tfspark.errors.TFSparkException

/**
 * Loads one SavedModel in a JVM of its own, with no op library, and prints the outcome on one line
 * (`LOADED`, or `FAILED\t<error class>\t<message>`): how [[UnregisteredOpSuite]] sees what a clean
 * JVM says about a model whose ops no library registers, whatever the test JVM loaded before.
 */
object FreshJvmLoad {
  def main(args: Array[String]): Unit = {
    val outcome =
      try {
        SavedModelHandle.load(ModelLocation(args(0), 1L, new File(args(1)))).close()
        "LOADED"
      } catch { case e: TFSparkException => s"FAILED\t${e.errorClass}\t${e.getMessage.replace('\n', ' ')}" }
    println(outcome)
  }
}
