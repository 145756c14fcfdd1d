package tfspark.tensor

import java.io.File
import java.nio.file.Files

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.types.{BinaryType, StructType}
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, TestModels}
import tfspark.model.{ModelRepository, SavedModelHandle}

/** A batch that TF fails on is bisected to the rows it fails on; the other rows keep their results. */
class BatchRunnerBisectSuite extends AnyFunSuite with ErrorChecks {

  private lazy val handle = SavedModelHandle.load(ModelRepository(TestModels.modelsDir.getPath).resolve("cifar2"))
  private lazy val binding = SignatureBinding.bind("cifar2", handle.signature("serving_default"), BinaryType)
  private lazy val images: Seq[Array[Byte]] =
    new File(TestModels.dataDir, "cifar2/test/automobile")
      .listFiles()
      .sortBy(_.getName)
      .take(10)
      .map(f => Files.readAllBytes(f.toPath))
      .toSeq
  private val bad = Array[Byte](1, 2, 3)

  /** A result struct's values (label, probability), comparable across runs. */
  private def values(result: Any): Seq[Any] = result.asInstanceOf[InternalRow].toSeq(binding.resultType.asInstanceOf[StructType])

  private def runAll(rows: Seq[Array[Byte]], stopAtFirst: Boolean): (Array[Any], Seq[Int]) = {
    val runner = new BatchRunner(handle, binding, rows.size, fillNulls = false, stopAtFirstFailure = stopAtFirst)
    rows.zipWithIndex.foreach { case (r, i) => runner.add(r, s"row $i") }
    val results = runner.run()
    (results, runner.failures.map(_._1))
  }

  test("two bad rows in a batch of ten: exactly those get no result, the rest equal a clean batch") {
    val mixed = images.take(3) ++ Seq(bad) ++ images.slice(3, 6) ++ Seq(bad) ++ images.slice(6, 8)
    val (results, failed) = runAll(mixed, stopAtFirst = false)
    assert(failed === Seq(3, 7))
    assert(results(3) == null && results(7) == null)
    val (clean, none) = runAll(images.take(8), stopAtFirst = false)
    assert(none.isEmpty)
    val good = results.indices.filterNot(Set(3, 7)).map(i => values(results(i)))
    val whole = clean.map(values).toSeq
    // The same labels, and probabilities equal but for float rounding: oneDNN picks its convolution kernels
    // by batch size on some CPUs (an AVX2-only EPYC gave 0.8880999 in a batch of 3 and 0.8881 in one of 8).
    assert(good.map(_.head) === whole.map(_.head), "bisected runs give the same labels as one batch")
    good.map(_(1).asInstanceOf[Float]).zip(whole.map(_(1).asInstanceOf[Float])).foreach { case (bisected, batch) =>
      assert(math.abs(bisected - batch) <= 1e-6f, "bisected runs give the same probabilities as one batch")
    }
  }

  test("stopAtFirstFailure finds the first bad row and stops; the runner is reusable after a failed batch") {
    val (_, failed) = runAll(images.take(5) ++ Seq(bad) ++ images.take(2) ++ Seq(bad), stopAtFirst = true)
    assert(failed === Seq(5))
    val runner = new BatchRunner(handle, binding, 4, fillNulls = false)
    runner.add(bad, "row 0")
    assert(runner.run().toSeq === Seq(null) && runner.failures.map(_._1) === Seq(0))
    runner.add(images.head, "row 1")
    assert(runner.run().head != null && runner.failures.isEmpty)
  }

  test("describeFailedInputs: a failed row's inputs read back from the batch name it, only when asked") {
    val key = binding.inputKeys.head
    def failedText(describe: Boolean): Seq[String] = {
      val runner = new BatchRunner(handle, binding, 8, fillNulls = false, stopAtFirstFailure = false, describeFailedInputs = describe)
      (images.take(2) ++ Seq(bad) ++ images.slice(2, 4) ++ Seq("not an image".getBytes("UTF-8"))).foreach(runner.add(_, "row"))
      runner.run()
      runner.failures.map(f => runner.failedInput(f._1))
    }
    assert(failedText(describe = true) === Seq(s"row with inputs {$key: <3 bytes>}", s"row with inputs {$key: <12 bytes>}"))
    assert(failedText(describe = false) === Seq("row 2 of its batch", "row 5 of its batch"))
  }
}
