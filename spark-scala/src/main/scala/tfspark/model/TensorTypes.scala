package tfspark.model

import java.util.concurrent.atomic.AtomicReference

import org.tensorflow.{RawTensor, SparseTensor, Tensor, TensorMapper}
import org.tensorflow.internal.types.registry.TensorTypeRegistry
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.proto.DataType
import org.tensorflow.types.TInt64
import org.tensorflow.types.annotation.TensorType
import org.tensorflow.types.family.{TIntegral, TType}
import org.bytedeco.javacpp.PointerScope

/**
 * TF Java's tensor classes for every dtype tfspark serves, and tensors built from raw bytes.
 *
 * '''Why this file registers tensor types.''' TF Java 1.1.0 has tensor classes for uint8, uint16,
 * float16 and bfloat16 but none for int8, int16, uint32 and uint64: `RawTensor.fromHandle` looks
 * each dtype up in `org.tensorflow.internal.types.registry.TensorTypeRegistry` and throws
 * `IllegalArgumentException("No tensor type has been registered for data type DT_INT8")` for the
 * others, so a model *output* of those dtypes cannot even be fetched (`Session.run` maps every
 * output), and no input tensor of them can be allocated. The registry's only way in is its private
 * static `register(Class)`, which reads a `@TensorType(dataType, byteSize, mapperClass)`
 * annotation: tfspark declares [[TensorTypes.TInt8]], [[TensorTypes.TInt16]],
 * [[TensorTypes.TUint32]] and [[TensorTypes.TUint64]] with that annotation and a [[TensorMapper]]
 * each, and registers them by reflection once per JVM ([[ensureRegistered]], called before the
 * first model loads: the registry is a plain `HashMap`, so registering must not race with readers).
 * Rewriting the graph (casts around every such input and output) was the alternative; it would
 * change the model TF Serving serves, so it was not taken.
 *
 * tfspark never reads or writes elements through these classes: every dtype's values go through
 * the tensor's raw `ByteDataBuffer` ([[fromBytes]], `RawTensor.data()`), in the host's byte order
 * as TF lays them out, without boxing. A dtype that TF Java registers itself in a later version
 * is left to TF Java (the registry is asked first).
 *
 * If the registration ever fails (a TF Java whose registry changed), [[unavailable]] says why, and
 * signatures with those dtypes are refused with UNSUPPORTED_SIGNATURE naming it; other models are
 * unaffected.
 */
object TensorTypes {

  /** int8 elements (1 byte), registered by tfspark (TF Java 1.1.0 has no class for them). */
  @TensorType(dataType = DataType.DT_INT8, byteSize = 1, mapperClass = classOf[Int8Mapper])
  trait TInt8 extends TIntegral

  /** int16 elements (2 bytes), registered by tfspark. */
  @TensorType(dataType = DataType.DT_INT16, byteSize = 2, mapperClass = classOf[Int16Mapper])
  trait TInt16 extends TIntegral

  /** uint32 elements (4 bytes), registered by tfspark. */
  @TensorType(dataType = DataType.DT_UINT32, byteSize = 4, mapperClass = classOf[Uint32Mapper])
  trait TUint32 extends TIntegral

  /** uint64 elements (8 bytes), registered by tfspark. */
  @TensorType(dataType = DataType.DT_UINT64, byteSize = 8, mapperClass = classOf[Uint64Mapper])
  trait TUint64 extends TIntegral

  /** A dense tensor of a tfspark-registered type: its raw tensor only (values are read as bytes). */
  abstract class RawBacked(raw: RawTensor) extends TType {
    override def dataType(): DataType = raw.dataType()
    override def numBytes(): Long = raw.numBytes()
    override def shape(): Shape = raw.shape()
    override def asRawTensor(): RawTensor = raw
    override def close(): Unit = raw.close()
  }

  /** Maps raw tensors of a tfspark-registered type; sparse tensors are not supported. */
  abstract class RawMapper[T <: TType] extends TensorMapper[T] {
    override protected def mapSparse(indices: TInt64, values: T, denseShape: TInt64, scope: PointerScope): SparseTensor[T] =
      throw new UnsupportedOperationException(s"tfspark does not map sparse ${values.dataType()} tensors")
  }

  final class Int8Mapper extends RawMapper[TInt8] {
    override protected def mapDense(raw: RawTensor): TInt8 = new RawBacked(raw) with TInt8 { override def `type`() = classOf[TInt8] }
  }
  final class Int16Mapper extends RawMapper[TInt16] {
    override protected def mapDense(raw: RawTensor): TInt16 = new RawBacked(raw) with TInt16 { override def `type`() = classOf[TInt16] }
  }
  final class Uint32Mapper extends RawMapper[TUint32] {
    override protected def mapDense(raw: RawTensor): TUint32 = new RawBacked(raw) with TUint32 { override def `type`() = classOf[TUint32] }
  }
  final class Uint64Mapper extends RawMapper[TUint64] {
    override protected def mapDense(raw: RawTensor): TUint64 = new RawBacked(raw) with TUint64 { override def `type`() = classOf[TUint64] }
  }

  private val own: Seq[Class[_ <: TType]] = Seq(classOf[TInt8], classOf[TInt16], classOf[TUint32], classOf[TUint64])

  /** None once registered; Some(reason) if registering failed; null before the first try. */
  private val state = new AtomicReference[Option[String]](null)

  /**
   * Registers tfspark's tensor types with TF Java's registry, once per JVM (idempotent,
   * thread-safe). Never throws: a failure is kept for [[unavailable]].
   */
  def ensureRegistered(): Unit = if (state.get() == null) synchronized {
    if (state.get() == null) state.set(register())
  }

  private def register(): Option[String] =
    try {
      val method = classOf[TensorTypeRegistry].getDeclaredMethod("register", classOf[Class[_]])
      method.setAccessible(true)
      own.foreach { c =>
        val dataType = c.getAnnotation(classOf[TensorType]).dataType()
        if (!registered(dataType)) method.invoke(null, c)
        require(registered(dataType), s"$dataType is still unregistered after registering ${c.getName}")
      }
      None
    } catch {
      case e: java.lang.reflect.InvocationTargetException => Some(String.valueOf(e.getCause))
      case e: Exception => Some(e.toString)
      case e: LinkageError => Some(e.toString)
    }

  private def registered(dataType: DataType): Boolean =
    try { TensorTypeRegistry.find(dataType); true }
    catch { case _: IllegalArgumentException => false }

  /**
   * Why TF Java cannot hold `dtype` in this JVM (tfspark's registration failed), or `None` when
   * it can. Registers first if needed.
   */
  def unavailable(dtype: TFDType): Option[String] = {
    ensureRegistered()
    if (registered(TFDType.toProto(dtype))) None
    else
      Some(
        s"TF Java ${classOf[Tensor].getPackage.getImplementationVersion} has no tensor class for $dtype and tfspark could not " +
          s"register its own (${state.get().getOrElse("unknown reason")}); please report this with your TF Java version"
      )
  }

  /** Bytes per element of a fixed-width (numeric or bool) dtype. */
  def byteWidth(dtype: TFDType): Int = dtype match {
    case TFDType.Int8 | TFDType.Uint8 | TFDType.Bool => 1
    case TFDType.Int16 | TFDType.Uint16 | TFDType.Float16 | TFDType.Bfloat16 => 2
    case TFDType.Int32 | TFDType.Uint32 | TFDType.Float32 => 4
    case TFDType.Int64 | TFDType.Uint64 | TFDType.Float64 => 8
    case other => throw new IllegalArgumentException(s"dtype $other has no fixed width")
  }

  /**
   * A tensor of `dtype` and `shape` whose elements are `length` bytes of `bytes` from `offset`, in
   * TF's layout (row-major, host byte order): one copy into native memory. The caller owns and
   * closes it.
   *
   * @throws IllegalArgumentException if `length` does not fill `shape`, or TF Java cannot hold `dtype`
   */
  def fromBytes(dtype: TFDType, shape: Shape, bytes: Array[Byte], offset: Int, length: Int): Tensor = {
    require(shape.size() * byteWidth(dtype) == length, s"$length bytes do not fill a $dtype tensor of shape $shape")
    unavailable(dtype).foreach(reason => throw new IllegalArgumentException(reason))
    val cls = TensorTypeRegistry.find[TType](TFDType.toProto(dtype)).`type`()
    Tensor.of(cls, shape, DataBuffers.of(bytes, true, false).slice(offset.toLong, length.toLong))
  }
}
