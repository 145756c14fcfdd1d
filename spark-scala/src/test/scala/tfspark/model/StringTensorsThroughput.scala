package tfspark.model

import org.tensorflow.ndarray.Shape

/**
 * Prints how many strings per second each string-tensor path builds (and closes), per kind of
 * string, in batches of 4,096: TF Java's `TString.tensorOfBytes` and the bulk path. Before the
 * bulk path wrote long strings, a batch with any string over 22 bytes took `TString.tensorOfBytes`.
 * A measuring tool, not a test (it asserts nothing); the tracked figures live in bench/.
 *
 * {{{
 * ./sbt "sparkScala/Test/runMain tfspark.model.StringTensorsThroughput [seconds per round]"
 * }}}
 */
object StringTensorsThroughput {

  private val Batch = 4096

  def main(args: Array[String]): Unit = {
    NativeLibrary.ensureConfigured()
    require(StringTensors.bulkPathWorks, "the bulk path failed its self-check")
    val seconds = args.headOption.map(_.toDouble).getOrElse(2.0)
    val random = new scala.util.Random(1)
    def text(min: Int, max: Int): Array[Byte] = Array.fill(min + random.nextInt(max - min + 1))((32 + random.nextInt(95)).toByte)
    val kinds = Seq(
      "short (1-12 bytes)" -> (() => text(1, 12)),
      "long (64-200 bytes)" -> (() => text(64, 200)),
      "mixed, Titanic-like (1 in 4 is 25-80 bytes)" -> (() => if (random.nextInt(4) == 0) text(25, 80) else text(0, 10)),
      "review-like (500-3000 bytes)" -> (() => text(500, 3000))
    )
    val shape = Shape.of(Batch.toLong)
    kinds.foreach { case (kind, make) =>
      val batches = Array.fill(16)(Array.fill(Batch)(make()))
      val paths = Seq(
        "TString.tensorOfBytes" -> ((v: Array[Array[Byte]]) => StringTensors.viaTString(shape, v, 0, Batch).close()),
        "bulk" -> ((v: Array[Array[Byte]]) => StringTensors.bulk(shape, v, 0, Batch).close())
      )
      paths.foreach { case (path, build) =>
        val best = (0 until 3).map(_ => rate(seconds, batches, build)).max
        println(f"$kind%-45s $path%-22s ${best / 1e6}%6.2f M strings/s")
      }
    }
  }

  /** Strings per second over about `seconds`, after a warm-up round of the same length. */
  private def rate(seconds: Double, batches: Array[Array[Array[Byte]]], build: Array[Array[Byte]] => Unit): Double = {
    def loop(limitNs: Long): (Long, Long) = {
      val start = System.nanoTime()
      var n = 0L
      while (System.nanoTime() - start < limitNs) { build(batches((n % batches.length).toInt)); n += 1 }
      (n * Batch, System.nanoTime() - start)
    }
    loop((seconds * 5e8).toLong)
    val (strings, ns) = loop((seconds * 1e9).toLong)
    strings / (ns / 1e9)
  }
}
