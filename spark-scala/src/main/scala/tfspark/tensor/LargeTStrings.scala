package tfspark.tensor

import java.nio.ByteBuffer

import org.bytedeco.javacpp.{BytePointer, Pointer}
import org.tensorflow.internal.c_api.TF_TString
import org.tensorflow.internal.c_api.global.tensorflow.TF_TString_Copy
import org.tensorflow.ndarray.buffer.{ByteDataBuffer, DataStorageVisitor}

/**
 * Writes the strings longer than TF's SMALL layout holds into the elements of a freshly allocated
 * TString tensor, through TF's C API (`TF_TString_Copy`, which gives such a string TF's LARGE
 * layout: a `malloc`ed copy of its bytes that the element points to). The only place tfspark calls
 * TF Java's internal bindings (`org.tensorflow.internal.c_api`); [[StringTensors]] checks it once
 * per JVM before using it.
 *
 * '''Why not public API.''' TF Java 1.1.0's only way to put bytes into a TString tensor is
 * `TString.tensorOfBytes`/`tensorOf` (its `ByteSequenceTensorBuffer.init`: per element a
 * `PointerScope`, a `BytePointer` copy of the bytes and two JNI calls, about 0.65 M strings/s); the
 * buffer of a built TString tensor is read-only (`setObject` throws `ReadOnlyBufferException`); and a LARGE
 * element needs memory that `TF_TString_Dealloc` can `free`, which only TF's C functions allocate.
 * The address of the tensor's element array comes from public API: the tensor's raw data buffer
 * visited with ndarray's `DataStorageVisitor` (native memory, or a direct `ByteBuffer` where TF
 * Java cannot use `Unsafe`); no reflection.
 *
 * '''Who frees a LARGE element.''' Closing the tensor does, as for `TString.tensorOfBytes`, whose
 * elements are made by the same `TF_TString_Copy`: TF Java's deallocator
 * (`AbstractTF_Tensor.DeleteDeallocator` in tensorflow-core-native 1.1.0) calls
 * `TF_TString_Dealloc` on every element when `TF_TensorMaybeMove` says the `TF_Tensor` is the only
 * owner of its buffer, then `TF_DeleteTensor`; and `TF_DeleteTensor` runs
 * `TensorInterface::Release` (tensorflow/c/tf_tensor.cc), which deallocates every `TF_TString` of
 * a DT_STRING tensor when `CanMove()` (buffer reference count one, memory owned, as
 * `TF_AllocateTensor` makes it). While a session output shares the buffer (an `Identity` of the
 * input), the input's close frees nothing and the last tensor closed frees the strings.
 * `StringTensorsMemorySuite` (soak tier) measures it over 100 M long strings.
 *
 * '''Native memory of its own.''' Each [[write]] call stages the long strings' bytes in one
 * native block (`Pointer.malloc`, at most [[StagingBytes]] or the longest string), frees it before
 * returning, and keeps nothing between calls: it is thread-safe, and an exception leaves nothing
 * allocated but the tensor's own elements (which the caller closes with the tensor).
 */
private[tensor] object LargeTStrings {

  /** The bytes of a `TF_TString` element (SMALL, LARGE, OFFSET and VIEW layouts alike). */
  val ElementBytes = 24

  /** The most string bytes staged in native memory at once; a longer string is staged alone. */
  private val StagingBytes = 1 << 22

  /**
   * Copies `values(from + i)` into element `i` of `data` (the raw buffer of a TString tensor of at
   * least `count` elements, all zero or `TF_TString_Init`ed) for every `i` whose string is longer
   * than `smallMax` bytes; the others are left as they are.
   *
   * @param longBytes the long strings' bytes, summed (sizes the staging block)
   * @param longest the longest string's length
   * @throws IllegalStateException if `data` is not native memory holding `count` elements
   * @throws OutOfMemoryError if the staging block cannot be allocated
   */
  def write(
      data: ByteDataBuffer,
      values: Array[Array[Byte]],
      from: Int,
      count: Int,
      smallMax: Int,
      longBytes: Long,
      longest: Int
  ): Unit = {
    val elements = new TF_TString(elementArray(data, count))
    val capacity = math.max(longest.toLong, math.min(longBytes, StagingBytes.toLong)).toInt
    val block = Pointer.malloc(capacity.toLong)
    if (block == null || block.isNull) throw new OutOfMemoryError(s"cannot allocate $capacity native bytes to stage strings")
    try new Staged(elements, new BytePointer(block), capacity, values, from, smallMax).copy(count)
    finally Pointer.free(block)
  }

  /** The long strings of one call, copied group by group through one staging block. */
  private final class Staged(
      elements: TF_TString,
      staging: BytePointer,
      capacity: Int,
      values: Array[Array[Byte]],
      from: Int,
      smallMax: Int
  ) {
    private val chunk = new Array[Byte](capacity)

    def copy(count: Int): Unit = {
      var start = 0 // the first element of the group being staged
      var used = 0
      var i = 0
      while (i < count) {
        val v = values(from + i)
        if (v.length > smallMax) {
          if (used + v.length > capacity) { flush(start, i, used); start = i; used = 0 }
          System.arraycopy(v, 0, chunk, used, v.length)
          used += v.length
        }
        i += 1
      }
      flush(start, count, used)
    }

    /** One native copy of the group's bytes, then one `TF_TString_Copy` per long string in it. */
    private def flush(start: Int, until: Int, used: Int): Unit = if (used > 0) {
      staging.position(0L).put(chunk, 0, used)
      var offset = 0L
      var i = start
      while (i < until) {
        val length = values(from + i).length
        if (length > smallMax) {
          TF_TString_Copy(elements.position(i.toLong), staging.position(offset), length.toLong)
          offset += length
        }
        i += 1
      }
    }
  }

  /** The address of the element array behind `data`, through ndarray's public storage visitor. */
  private def elementArray(data: ByteDataBuffer, count: Int): Pointer = {
    val need = ElementBytes.toLong * count
    data.accept(new DataStorageVisitor[Pointer] {
      override def visit(address: Long, length: Long, scale: Long): Pointer =
        if (address != 0L && scale == 1L && length >= need) new At(address) else fallback()
      override def visit(buffer: ByteBuffer): Pointer =
        if (buffer.isDirect && buffer.remaining().toLong >= need) new At(new Pointer(buffer).address() + buffer.position())
        else fallback()
      override def fallback(): Pointer =
        throw new IllegalStateException(s"the TString tensor's data (${data.getClass.getName}) is not native memory of $need bytes")
    })
  }

  /** A JavaCPP pointer at a native address it does not own (nothing is freed with it). */
  private final class At(at: Long) extends Pointer { address = at }
}
