package tfspark.model

/** A TensorFlow dtype as seen by tfspark, by its TF name (`float32`, `int64`, `string`, ...). */
final case class TFDType(name: String) {
  override def toString: String = name
}

object TFDType {
  val Float32: TFDType = TFDType("float32")
  val Float64: TFDType = TFDType("float64")
  val Int32: TFDType = TFDType("int32")
  val Int64: TFDType = TFDType("int64")
  val Bool: TFDType = TFDType("bool")
  val String: TFDType = TFDType("string")

  /** Maps a SignatureDef dtype (`DT_FLOAT`, ...) to its TF name. */
  def fromProto(dt: org.tensorflow.proto.DataType): TFDType = dt match {
    case org.tensorflow.proto.DataType.DT_FLOAT => Float32
    case org.tensorflow.proto.DataType.DT_DOUBLE => Float64
    case org.tensorflow.proto.DataType.DT_INT32 => Int32
    case org.tensorflow.proto.DataType.DT_INT64 => Int64
    case org.tensorflow.proto.DataType.DT_BOOL => Bool
    case org.tensorflow.proto.DataType.DT_STRING => String
    case other => TFDType(other.name().stripPrefix("DT_").toLowerCase)
  }
}

/**
 * One input or output of a signature, read from the SignatureDef: its key, dtype and shape
 * (`-1` for an unknown dimension; `None` for unknown rank). Plain data: safe to serialize.
 */
final case class TensorSpec(key: String, dtype: TFDType, shape: Option[Seq[Long]]) {
  def shapeString: String = shape.fold("<unknown rank>")(_.mkString("[", ",", "]"))
  override def toString: String = s"$key: $dtype$shapeString"
}

/** A signature's key and its inputs and outputs, sorted by key. Plain data: safe to serialize. */
final case class SignatureSpec(key: String, inputs: Seq[TensorSpec], outputs: Seq[TensorSpec]) {
  override def toString: String = s"$key(${inputs.mkString(", ")}) -> (${outputs.mkString(", ")})"
}
