package tfspark.model.warmup

import java.nio.{ByteBuffer, ByteOrder}
import java.nio.file.{Files, Path}

import scala.collection.mutable
import scala.jdk.CollectionConverters._

import com.google.protobuf.CodedInputStream
import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape
import org.tensorflow.proto.{DataType, TensorProto}

import tfspark.model.{NumericValues, TFDType, TensorTypes}

/**
 * Reads TF Serving's warm-up file, `assets.extra/tf_serving_warmup_requests`: a TFRecord file of
 * `tensorflow.serving.PredictionLog` protos. Only `predict_log` records are used (field 6:
 * `PredictLog.request` = `PredictRequest{model_spec{signature_name}, map inputs}`); classify,
 * regress and multi-inference records are skipped, as tfspark only runs signatures. TF Serving's
 * protos are not on the classpath, so the few fields needed are read with protobuf's wire format.
 */
private[warmup] object WarmupRequests {

  /** @throws IllegalArgumentException for a file that is not TFRecords of PredictionLogs */
  def read(file: Path): Seq[ModelWarmup.WarmupInput] =
    try parse(file)
    catch {
      case e: java.io.IOException => throw new IllegalArgumentException(s"$file is not TFRecords of PredictionLogs: ${e.getMessage}", e)
    }

  private def parse(file: Path): Seq[ModelWarmup.WarmupInput] = {
    val bytes = Files.readAllBytes(file)
    val buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)
    val records = mutable.ArrayBuffer.empty[Array[Byte]]
    while (buffer.remaining() > 0) {
      require(buffer.remaining() >= 12, s"$file is not a TFRecord file: a record header is truncated")
      val length = buffer.getLong()
      buffer.getInt() // masked CRC of the length
      require(length >= 0 && length <= buffer.remaining() - 4, s"$file is not a TFRecord file: a record of $length bytes is truncated")
      val record = new Array[Byte](length.toInt)
      buffer.get(record)
      buffer.getInt() // masked CRC of the data
      records += record
    }
    records.toSeq.flatMap(predictRequest).map { case (signature, inputs) =>
      val key = if (signature.isEmpty) "serving_default" else signature
      ModelWarmup.WarmupInput(
        key,
        () => {
          val built = mutable.LinkedHashMap.empty[String, Tensor]
          try { inputs.foreach { case (k, proto) => built(k) = toTensor(proto) }; built.toMap }
          catch { case e: Throwable => built.values.foreach(_.close()); throw e }
        }
      )
    }
  }

  /** The signature and inputs of a PredictionLog's predict request; `None` for other log types. */
  private def predictRequest(record: Array[Byte]): Option[(String, Map[String, TensorProto])] =
    field(record, 6).flatMap(log => field(log, 1)).map { request =>
      val signature = field(request, 1).flatMap(spec => field(spec, 3)).map(new String(_, "UTF-8")).getOrElse("")
      val inputs = fields(request, 2).map { entry =>
        new String(field(entry, 1).getOrElse(Array.emptyByteArray), "UTF-8") ->
          TensorProto.parseFrom(field(entry, 2).getOrElse(Array.emptyByteArray))
      }
      (signature, inputs.toMap)
    }

  private def field(message: Array[Byte], number: Int): Option[Array[Byte]] = fields(message, number).headOption

  /** The length-delimited values of field `number` in `message`. */
  private def fields(message: Array[Byte], number: Int): Seq[Array[Byte]] = {
    val in = CodedInputStream.newInstance(message)
    val found = mutable.ArrayBuffer.empty[Array[Byte]]
    var tag = in.readTag()
    while (tag != 0) {
      if ((tag >>> 3) == number && (tag & 7) == 2) found += in.readByteArray()
      else in.skipField(tag)
      tag = in.readTag()
    }
    found.toSeq
  }

  /**
   * A TensorProto as a tensor (the caller closes it): `tensor_content` (TF's raw layout, copied as
   * it is for every fixed-width dtype), else the typed `*_val` fields, as TF Serving reads them:
   * `int_val` for int8/16/32 and uint8/16, `int64_val`, `uint32_val`, `uint64_val`, `half_val`
   * (the bits of float16 and bfloat16 values), `float_val`, `double_val`, `bool_val`, `string_val`.
   * A field with fewer values than the shape repeats its last one, as TF does.
   */
  private def toTensor(proto: TensorProto): Tensor = {
    val shape = proto.getTensorShape.getDimList.asScala.map(_.getSize).toArray
    val count = shape.product.toInt
    val content = proto.getTensorContent
    def filled(values: IndexedSeq[Any]): IndexedSeq[Any] =
      if (values.size == count || values.isEmpty) values else values ++ IndexedSeq.fill(count - values.size)(values.last)
    val dtype = TFDType.fromProto(proto.getDtype)
    if (!TFDType.Served.contains(dtype)) throw new IllegalArgumentException(s"a warm-up request holds a ${proto.getDtype} tensor")
    if (!content.isEmpty && dtype != TFDType.String && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
      val bytes = content.toByteArray // TF writes tensor_content little-endian, as this host lays tensors out
      return TensorTypes.fromBytes(dtype, Shape.of(shape: _*), bytes, 0, bytes.length)
    }
    val values: IndexedSeq[Any] = proto.getDtype match {
      case DataType.DT_FLOAT => proto.getFloatValList.asScala.toIndexedSeq.map(_.floatValue())
      case DataType.DT_DOUBLE => proto.getDoubleValList.asScala.toIndexedSeq.map(_.doubleValue())
      case DataType.DT_INT32 | DataType.DT_INT16 | DataType.DT_INT8 | DataType.DT_UINT8 | DataType.DT_UINT16 =>
        proto.getIntValList.asScala.toIndexedSeq.map(_.longValue())
      case DataType.DT_INT64 => proto.getInt64ValList.asScala.toIndexedSeq.map(_.longValue())
      case DataType.DT_UINT32 => proto.getUint32ValList.asScala.toIndexedSeq.map(_.intValue() & 0xffffffffL)
      case DataType.DT_UINT64 =>
        proto.getUint64ValList.asScala.toIndexedSeq.map(v => BigInt(java.lang.Long.toUnsignedString(v.longValue())))
      case DataType.DT_HALF | DataType.DT_BFLOAT16 =>
        proto.getHalfValList.asScala.toIndexedSeq.map(bits => NumericValues.fromHalf(dtype, bits.intValue().toShort))
      case DataType.DT_BOOL => proto.getBoolValList.asScala.toIndexedSeq.map(_.booleanValue())
      case _ => proto.getStringValList.asScala.toIndexedSeq.map(_.toByteArray)
    }
    WarmupTensors.of(dtype, shape, filled(values))
  }
}
