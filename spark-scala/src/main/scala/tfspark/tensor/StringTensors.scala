package tfspark.tensor

import java.util.concurrent.atomic.AtomicReference

import org.slf4j.LoggerFactory
import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.TString

/**
 * Builds string tensors from byte arrays, fast. TF Java's `TString.tensorOfBytes` allocates a
 * native pointer per element (about 0.65 M strings/s); here short strings are written in bulk
 * as TF's 24-byte `TF_TString` SMALL layout (byte 0 = length << 2, then the bytes, then zeros:
 * up to 22 bytes) through the public `Tensor.of(TString.class, shape, size, init)` and the raw
 * data buffer (about 45 M strings/s in a micro-benchmark, bit-identical model outputs). Longer strings
 * need TF's LARGE layout, which TF allocates itself, and a TString tensor cannot be written
 * element by element once built: a batch with any string over 22 bytes takes TString's own
 * path (review text does; Titanic's categorical columns do not).
 *
 * DO NOT use the OFFSET layout (data after the element array): reading it back works, but the
 * model sees wrong strings. The SMALL layout is checked once per JVM by writing a probe tensor
 * and reading it back; if that fails (another TF build), every tensor takes the slow path.
 * The caller owns and closes the returned tensor.
 */
object StringTensors {

  private val log = LoggerFactory.getLogger(getClass)

  /** The most bytes the SMALL layout holds. */
  val SmallMax = 22
  private val ElementBytes = 24

  private val smallLayoutWorks = new AtomicReference[Option[Boolean]](None)

  /** A string tensor of `shape` holding `values` (row-major); `values(i)` is never null. */
  def of(shape: Shape, values: Array[Array[Byte]], count: Int): Tensor =
    if (fastPathWorks) fast(shape, values, count) else slow(shape, values, count)

  /** Whether the bulk SMALL-layout path passed its self-check in this JVM (checked on first use). */
  def fastPathWorks: Boolean = smallLayoutWorks.get().getOrElse {
    val failure = selfCheckFailure()
    failure
      .foreach(f => log.warn(s"tfspark: TF_TString SMALL-layout self-check failed ($f); string tensors use TString.tensorOfBytes (slower)"))
    val ok = failure.isEmpty
    smallLayoutWorks.compareAndSet(None, Some(ok))
    smallLayoutWorks.get().get
  }

  private def slow(shape: Shape, values: Array[Array[Byte]], count: Int): Tensor =
    TString.tensorOfBytes(shape, DataBuffers.ofObjects(java.util.Arrays.copyOf(values, count): _*))

  /** The SMALL layout when every string fits it; TString's own path when one does not. */
  private def fast(shape: Shape, values: Array[Array[Byte]], count: Int): Tensor = {
    var i = 0
    while (i < count) { if (values(i).length > SmallMax) return slow(shape, values, count); i += 1 }
    val raw = new Array[Byte](ElementBytes * count)
    i = 0
    while (i < count) {
      val v = values(i)
      raw(i * ElementBytes) = (v.length << 2).toByte
      System.arraycopy(v, 0, raw, i * ElementBytes + 1, v.length)
      i += 1
    }
    Tensor.of(classOf[TString], shape, ElementBytes.toLong * count, (t: TString) => t.asRawTensor().data().write(raw))
  }

  /**
   * Writes empty, short, non-ASCII and 22-byte strings in the SMALL layout and reads them back;
   * `None` when they all match, else what went wrong.
   */
  private[tensor] def selfCheckFailure(): Option[String] =
    try {
      val probe = Array("", "a", "tfspark", "ünïcödé ✓", "x" * SmallMax).map(_.getBytes("UTF-8"))
      val tensor = fast(Shape.of(probe.length.toLong), probe, probe.length)
      try {
        val back = tensor.asInstanceOf[TString].asBytes()
        val wrong = probe.indices.filterNot(i => java.util.Arrays.equals(back.getObject(i.toLong), probe(i)))
        if (wrong.isEmpty) None
        else Some(s"read back ${wrong.map(i => new String(back.getObject(i.toLong), "UTF-8")).mkString("[", "|", "]")}")
      } finally tensor.close()
    } catch { case e: Throwable => Some(e.toString + e.getStackTrace.take(3).mkString(" at ", " <- ", "")) }
}
