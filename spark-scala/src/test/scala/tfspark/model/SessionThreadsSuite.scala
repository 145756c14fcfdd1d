package tfspark.model

import org.scalatest.funsuite.AnyFunSuite

import tfspark.SparkSessionFixture

class SessionThreadsSuite extends AnyFunSuite with SparkSessionFixture {

  test("sessions share the cores among Spark's task slots, and the conf overrides it") {
    val cores = Runtime.getRuntime.availableProcessors()
    assert(SessionThreads.intraOp() === math.max(1, cores / 2), "local[2]: two task slots")
    spark.sparkContext.getConf // SparkEnv's conf is the context's
    org.apache.spark.SparkEnv.get.conf.set(tfspark.conf.TFSparkConf.IntraOpThreads, "3")
    try assert(SessionThreads.intraOp() === 3)
    finally org.apache.spark.SparkEnv.get.conf.remove(tfspark.conf.TFSparkConf.IntraOpThreads)
  }

  test("a malformed spark.tfpredict.intraOpThreads is INVALID_CONFIG, not a NumberFormatException") {
    val conf = org.apache.spark.SparkEnv.get.conf
    conf.set(tfspark.conf.TFSparkConf.IntraOpThreads, "many")
    try {
      val e = intercept[tfspark.errors.TFSparkException](SessionThreads.intraOp())
      assert(e.errorClass === "INVALID_CONFIG" && e.messageParameters("got") === "many")
    } finally conf.remove(tfspark.conf.TFSparkConf.IntraOpThreads)
  }
}
