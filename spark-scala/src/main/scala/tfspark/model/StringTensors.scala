package tfspark.model

import java.util.concurrent.atomic.AtomicReference

import org.slf4j.LoggerFactory
import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.TString

/**
 * Builds every string tensor tfspark feeds (dense and ragged string inputs through
 * `StringFeeder`, the warm-up's string inputs), from byte arrays, in bulk. TF Java's
 * `TString.tensorOfBytes` allocates a native pointer per element (about 0.65 M strings/s); here
 * the tensor is allocated through the public `Tensor.of(TString.class, shape, 24 * n)`, and:
 *  - strings of up to [[SmallMax]] bytes are written in TF's 24-byte `TF_TString` SMALL layout
 *    (byte 0 = length << 2, then the bytes, then zeros), in bulk through the tensor's raw data
 *    buffer, bit for bit what `TF_TString_Copy` writes;
 *  - longer strings are left zeroed (a zeroed `TF_TString` is the empty SMALL string, what
 *    `TF_TString_Init` makes) and then copied in by TF's own `TF_TString_Copy` through one native
 *    staging block per call, two JNI calls per long string ([[LargeTStrings]], which says why the
 *    public API cannot do this and who frees the LARGE elements: closing the tensor does).
 *
 * DO NOT use the OFFSET layout (data after the element array): reading it back works, but the
 * model sees wrong strings.
 *
 * The bulk path is checked once per JVM ([[selfCheckFailure]]: empty, short, 22- and 23-byte,
 * several-KB, non-ASCII and NUL-holding strings written and read back through TF Java's
 * `TString.asBytes()`); if the check fails (another TF build, another layout), a warning is logged
 * and every tensor takes `TString.tensorOfBytes`. Thread-safe: no state but that verdict. The
 * caller owns and closes the returned tensor.
 */
object StringTensors {

  private val log = LoggerFactory.getLogger(getClass)

  /** The most bytes the SMALL layout holds. */
  val SmallMax = 22
  private val ElementBytes = LargeTStrings.ElementBytes

  /** SMALL elements are staged on the Java heap this many at a time (about 200 KB). */
  private val SmallChunk = 8192

  private val bulkVerdict = new AtomicReference[Option[Boolean]](None)

  /** A string tensor of `shape` holding `values(0 until count)` (row-major); no value is null. */
  def of(shape: Shape, values: Array[Array[Byte]], count: Int): Tensor = of(shape, values, 0, count)

  /** A string tensor of `shape` holding `values(from until from + count)` (row-major); no value is null. */
  def of(shape: Shape, values: Array[Array[Byte]], from: Int, count: Int): Tensor = {
    require(shape.size() == count.toLong, s"$count strings do not fill shape $shape")
    if (bulkPathWorks) bulk(shape, values, from, count) else viaTString(shape, values, from, count)
  }

  /** Whether the bulk path passed its self-check in this JVM (checked on first use). */
  def bulkPathWorks: Boolean = bulkVerdict.get().getOrElse {
    val failure = selfCheckFailure()
    failure
      .foreach(f => log.warn(s"tfspark: the bulk string-tensor self-check failed ($f); string tensors use TString.tensorOfBytes (slower)"))
    bulkVerdict.compareAndSet(None, Some(failure.isEmpty))
    bulkVerdict.get().get
  }

  /** TF Java's own path: one native pointer per element. */
  private[model] def viaTString(shape: Shape, values: Array[Array[Byte]], from: Int, count: Int): Tensor =
    TString.tensorOfBytes(shape, DataBuffers.ofObjects(java.util.Arrays.copyOfRange(values, from, from + count): _*))

  /** SMALL elements in bulk from the Java heap, then the long ones through [[LargeTStrings]]. */
  private[model] def bulk(shape: Shape, values: Array[Array[Byte]], from: Int, count: Int): Tensor = {
    val tensor = Tensor.of(classOf[TString], shape, ElementBytes.toLong * count)
    if (count > 0) try {
      val data = tensor.asRawTensor().data()
      val raw = new Array[Byte](ElementBytes * math.min(count, SmallChunk))
      var anyLong = false
      var start = 0
      while (start < count) {
        val n = math.min(SmallChunk, count - start)
        if (start > 0) java.util.Arrays.fill(raw, 0.toByte)
        var i = 0
        while (i < n) {
          val v = values(from + start + i)
          if (v.length <= SmallMax) {
            raw(i * ElementBytes) = (v.length << 2).toByte
            System.arraycopy(v, 0, raw, i * ElementBytes + 1, v.length)
          } else anyLong = true
          i += 1
        }
        data.offset(ElementBytes.toLong * start).write(raw, 0, ElementBytes * n)
        start += n
      }
      if (anyLong) LargeTStrings.write(data, values, from, count, SmallMax)
    } catch { case e: Throwable => tensor.close(); throw e }
    tensor
  }

  /**
   * Writes empty, short, 22- and 23-byte, several-KB, non-ASCII and NUL-holding strings through the
   * bulk path and reads them back through `TString.asBytes()`; `None` when they all match, else
   * what went wrong.
   */
  private[model] def selfCheckFailure(): Option[String] =
    try {
      val probe = selfCheckValues
      val tensor = bulk(Shape.of(probe.length.toLong), probe, 0, probe.length)
      try {
        val back = tensor.asInstanceOf[TString].asBytes()
        val wrong = probe.indices.filterNot(i => java.util.Arrays.equals(back.getObject(i.toLong), probe(i)))
        if (wrong.isEmpty) None
        else Some(s"elements ${wrong.mkString(",")} read back as ${wrong.map(i => back.getObject(i.toLong).length).mkString(",")} bytes")
      } finally tensor.close()
    } catch { case e: Throwable => Some(e.toString + e.getStackTrace.take(3).mkString(" at ", " <- ", "")) }

  /** The self-check's strings. */
  private[model] def selfCheckValues: Array[Array[Byte]] = {
    val everyByte = Array.tabulate(5000)(i => (i * 7 + 3).toByte) // every byte value, NULs included
    Array(
      Array.emptyByteArray,
      "a".getBytes("UTF-8"),
      ("x" * SmallMax).getBytes("UTF-8"),
      ("y" * (SmallMax + 1)).getBytes("UTF-8"),
      everyByte,
      "ünïcödé ✓".getBytes("UTF-8"),
      ("ünïcödé ✓ " * 8).getBytes("UTF-8"),
      Array[Byte](0, 65, 0),
      Array.tabulate[Byte](40)(i => if (i % 3 == 0) 0 else (i + 1).toByte),
      Array.emptyByteArray
    )
  }
}
