package tfspark.jobs

import scala.collection.mutable.ArrayBuffer

/**
 * The wall-clock time of a job's phases, in the order they ran, for its summary line: where the
 * seconds of a run went (JVM and Spark start-up, the model's load and warm-up, scoring), so that a
 * rate is computed over the phase it describes. Not thread-safe: the driver's main thread owns it.
 */
final class PhaseTimes {
  private val spans = ArrayBuffer.empty[(String, Double)]

  /** Records a phase that was timed elsewhere (the JVM's start-up, before this object existed). */
  def record(phase: String, seconds: Double): Unit = spans += phase -> math.max(0.0, seconds)

  /** Runs `body` and records its wall-clock time as `phase`, also when it throws. */
  def time[T](phase: String)(body: => T): T = {
    val started = System.nanoTime()
    try body
    finally record(phase, (System.nanoTime() - started) / 1e9)
  }

  /** The seconds recorded for `phase` (summed if it ran more than once; 0 if it never ran). */
  def seconds(phase: String): Double = spans.iterator.filter(_._1 == phase).map(_._2).sum

  def all: Seq[(String, Double)] = spans.toSeq

  /** "start-up 3.10 s, model load and warm-up 0.42 s, ...; 7.73 s in all". */
  def line: String =
    spans.map { case (phase, s) => f"$phase $s%.2f s" }.mkString("", ", ", f"; ${spans.map(_._2).sum}%.2f s in all")
}
