package tfspark.model

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
 * '''Native memory of its own.''' Each [[write]] call stages the long strings one by one in one
 * native block the size of the longest (`Pointer.malloc`), frees it before returning, and keeps
 * nothing between calls: it is thread-safe, and an exception leaves nothing allocated but the
 * tensor's own elements (which the caller closes with the tensor). Gathering the strings in a Java
 * array first, to put them into native memory with one JNI call per batch, measured no faster on a
 * 2-core machine (within run-to-run noise for 25-200-byte strings, ~25% slower for reviews).
 */
private[model] object LargeTStrings {

  /** The bytes of a `TF_TString` element (SMALL, LARGE, OFFSET and VIEW layouts alike). */
  val ElementBytes = 24

  /**
   * Copies `values(from + i)` into element `i` of `data` (the raw buffer of a TString tensor of at
   * least `count` elements, all zero or `TF_TString_Init`ed) for every `i` whose string is longer
   * than `smallMax` bytes; the others are left as they are. Per long string: its bytes put into
   * the staging block (one JNI call), then `TF_TString_Copy` (one more).
   *
   * @throws IllegalStateException if `data` is not native memory holding `count` elements
   * @throws OutOfMemoryError if the staging block cannot be allocated
   */
  def write(data: ByteDataBuffer, values: Array[Array[Byte]], from: Int, count: Int, smallMax: Int): Unit = {
    var longest = 0
    var i = 0
    while (i < count) { longest = math.max(longest, values(from + i).length); i += 1 }
    if (longest > smallMax) {
      val elements = new TF_TString(elementArray(data, count))
      val block = Pointer.malloc(longest.toLong)
      if (block == null || block.isNull) throw new OutOfMemoryError(s"cannot allocate $longest native bytes to stage a string")
      try {
        val staging = new BytePointer(block)
        i = 0
        while (i < count) {
          val v = values(from + i)
          if (v.length > smallMax) {
            staging.put(v, 0, v.length)
            TF_TString_Copy(elements.position(i.toLong), staging, v.length.toLong)
          }
          i += 1
        }
      } finally Pointer.free(block)
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
