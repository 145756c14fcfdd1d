package tfspark.model

import scala.jdk.CollectionConverters._

import org.scalatest.funsuite.AnyFunSuite
import org.tensorflow.{Graph, Session}
import org.tensorflow.ndarray.Shape
import org.tensorflow.op.Ops
import org.tensorflow.types.TString

/**
 * Closing a string tensor built in bulk frees its LARGE elements (the `malloc`ed copies
 * `TF_TString_Copy` makes; `LargeTStrings` says who frees them and where TF does it): 100 M long
 * strings (64 to 200 bytes) in batches of 4,096, every tensor closed, and the process's native
 * memory stays flat. A second case feeds 20 M long strings through a TF graph whose outputs are
 * the strings themselves (`Identity`, which shares the input's buffer, so the input's close must
 * leave the strings to the output's) and new strings (`StringJoin`), closing inputs before
 * outputs and after them.
 *
 * '''What is measured.''' Native memory is the resident memory outside the Java heap's address
 * range ([[NativeResidentMemory]]), so that the heap, which G1 commits, touches and uncommits by
 * itself, stays out of it. The suite runs in a JVM of its own (build.sbt's `testGrouping`), so no
 * other suite's threads or caches allocate while it measures. The baseline is the highest value over the warm-up (the first [[WarmUpBatches]] batches, in
 * which malloc's arenas, TF's allocator and the JIT reach their working sizes); after it, every
 * sample must stay within [[MarginMb]] of the baseline, and the run stops at the first sample that
 * does not (so a leak fails in seconds instead of filling the machine). The margin: the strings of
 * one batch are about 0.6 MB, so 64 MB is about a hundred batches' strings; a leak of one string in
 * two hundred over 100 M strings (~75 MB) exceeds it, and a leak of every string would exceed it
 * within the first 0.5 M strings after the warm-up. No time is measured.
 */
@tfspark.tags.SoakTest
class StringTensorsMemorySuite extends AnyFunSuite {

  NativeLibrary.ensureConfigured()

  private val MarginMb = 64L
  private val BatchSize = 4096
  private val WarmUpBatches = 2000
  private val SampleEvery = 250

  /** 64 distinct batches of long strings (64 to 200 bytes), reused round-robin so the heap stays still. */
  private lazy val pool: IndexedSeq[Array[Array[Byte]]] = {
    val random = new scala.util.Random(20)
    IndexedSeq.fill(64)(Array.fill(BatchSize)(Array.fill(64 + random.nextInt(137))((32 + random.nextInt(95)).toByte)))
  }

  private def nativeMb: Long = NativeResidentMemory.mb

  /**
   * Runs `batch(i)` for `batches` batches, sampling native memory; returns (baseline, highest after
   * the warm-up) in MB, failing at the first sample over the margin.
   */
  private def flat(what: String, batches: Int)(batch: Int => Unit): (Long, Long) = {
    var baseline = Long.MinValue
    var highest = Long.MinValue
    var b = 0
    while (b < batches) {
      batch(b)
      b += 1
      if (b % SampleEvery == 0) {
        val now = nativeMb
        if (b <= WarmUpBatches) baseline = math.max(baseline, now)
        else {
          highest = math.max(highest, now)
          assert(
            now - baseline <= MarginMb,
            s"$what: native memory $now MB after ${b.toLong * BatchSize} strings, baseline $baseline MB (margin $MarginMb MB)"
          )
        }
      }
    }
    info(f"$what: ${batches.toLong * BatchSize}%,d strings; native memory baseline $baseline MB, highest after warm-up $highest MB")
    (baseline, highest)
  }

  test("100 M long strings built in bulk and closed: native memory stays within the margin of its baseline") {
    assert(StringTensors.bulkPathWorks)
    val shape = Shape.of(BatchSize.toLong)
    val batches = 100000000 / BatchSize + 1
    val (baseline, highest) = flat("bulk build and close", batches) { b =>
      StringTensors.of(shape, pool(b % pool.size), BatchSize).close()
    }
    assert(highest - baseline <= MarginMb)
    val check = StringTensors.of(shape, pool(3), BatchSize) // and they still read back right
    try {
      val back = check.asInstanceOf[TString].asBytes()
      (0 until BatchSize by 97).foreach(i => assert(java.util.Arrays.equals(back.getObject(i.toLong), pool(3)(i))))
    } finally check.close()
  }

  test("20 M long strings through a graph that returns them (Identity) and joins them: flat, and equal") {
    val graph = new Graph()
    try {
      val tf = Ops.create(graph)
      val in = tf.placeholder(classOf[TString])
      val same = tf.identity(in)
      val joined = tf.strings.join(List[org.tensorflow.Operand[TString]](in, in).asJava)
      val session = new Session(graph)
      try {
        val shape = Shape.of(BatchSize.toLong)
        def run(values: Array[Array[Byte]], inputFirst: Boolean): Unit = {
          val input = StringTensors.of(shape, values, BatchSize)
          val result =
            try session.runner().feed(in, input).fetch(same).fetch(joined).run()
            catch { case e: Throwable => input.close(); throw e }
          if (inputFirst) { input.close(); result.close() }
          else { result.close(); input.close() }
        }
        val sample = pool(5)
        val input = StringTensors.of(shape, sample, BatchSize)
        try {
          val result = session.runner().feed(in, input).fetch(same).fetch(joined).run()
          try {
            val (back, both) = (result.get(0).asInstanceOf[TString].asBytes(), result.get(1).asInstanceOf[TString].asBytes())
            (0 until BatchSize).foreach { i =>
              assert(java.util.Arrays.equals(back.getObject(i.toLong), sample(i)), s"Identity element $i")
              assert(java.util.Arrays.equals(both.getObject(i.toLong), sample(i) ++ sample(i)), s"StringJoin element $i")
            }
          } finally result.close()
        } finally input.close()
        val batches = 20000000 / BatchSize + 1
        val (baseline, highest) = flat("graph passthrough", batches)(b => run(pool(b % pool.size), inputFirst = b % 2 == 0))
        assert(highest - baseline <= MarginMb)
      } finally session.close()
    } finally graph.close()
  }
}
