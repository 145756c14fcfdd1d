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
  // issue 17: every numeric dtype (docs/dtypes.md)
  val Int8: TFDType = TFDType("int8")
  val Int16: TFDType = TFDType("int16")
  val Uint8: TFDType = TFDType("uint8")
  val Uint16: TFDType = TFDType("uint16")
  val Uint32: TFDType = TFDType("uint32")
  val Uint64: TFDType = TFDType("uint64")
  val Float16: TFDType = TFDType("float16")
  val Bfloat16: TFDType = TFDType("bfloat16")

  /** The integer dtypes tfspark feeds and returns. */
  val Integers: Seq[TFDType] = Seq(Int8, Int16, Int32, Int64, Uint8, Uint16, Uint32, Uint64)

  /** The floating-point dtypes tfspark feeds and returns. */
  val Floats: Seq[TFDType] = Seq(Float16, Bfloat16, Float32, Float64)

  /** Every dtype tfspark feeds and returns (the others are refused with UNSUPPORTED_SIGNATURE). */
  val Served: Seq[TFDType] = Floats ++ Integers ++ Seq(Bool, String)

  /** What [[Served]] says, for error messages. */
  val ServedText: String = "float16/32/64, bfloat16, int8/16/32/64, uint8/16/32/64, bool or string"

  private val byProto: Map[org.tensorflow.proto.DataType, TFDType] = {
    import org.tensorflow.proto.DataType._
    Map(
      DT_FLOAT -> Float32,
      DT_DOUBLE -> Float64,
      DT_INT32 -> Int32,
      DT_INT64 -> Int64,
      DT_BOOL -> Bool,
      DT_STRING -> String,
      DT_INT8 -> Int8,
      DT_INT16 -> Int16,
      DT_UINT8 -> Uint8,
      DT_UINT16 -> Uint16,
      DT_UINT32 -> Uint32,
      DT_UINT64 -> Uint64,
      DT_HALF -> Float16, // TF's Python name; the proto says "half"
      DT_BFLOAT16 -> Bfloat16
    )
  }

  /** Maps a SignatureDef dtype (`DT_FLOAT`, `DT_HALF`, ...) to its TF (Python) name. */
  def fromProto(dt: org.tensorflow.proto.DataType): TFDType =
    byProto.getOrElse(dt, TFDType(dt.name().stripPrefix("DT_").toLowerCase))

  /** The SignatureDef dtype of a served dtype. */
  def toProto(dtype: TFDType): org.tensorflow.proto.DataType =
    byProto
      .collectFirst { case (proto, d) if d == dtype => proto }
      .getOrElse(throw new IllegalArgumentException(s"dtype $dtype is not served"))
}

/**
 * One input or output of a signature, read from the SignatureDef: its key, dtype and shape
 * (`-1` for an unknown dimension; `None` for unknown rank). Plain data: safe to serialize.
 *
 * @param composite set when the input is not one dense tensor but a composite argument (a
 *   `tf.RaggedTensorSpec` or `tf.SparseTensorSpec`) that the SignatureDef lists as several flat
 *   components ([[CompositeSignatures]]); `dtype` and `shape` are then the composite's own
 */
final case class TensorSpec(key: String, dtype: TFDType, shape: Option[Seq[Long]], composite: Option[Composite] = None) {
  def shapeString: String = shape.fold("<unknown rank>")(_.mkString("[", ",", "]")) + composite.fold("")(c => s" ($c)")
  override def toString: String = s"$key: $dtype$shapeString"
}

/** How a signature argument that is not one dense tensor is laid out in its SignatureDef. */
sealed trait Composite extends Serializable {

  /** "ragged" or "sparse", as TF users call it. */
  def kind: String

  /** The signature keys of its flat components (none for an [[Composite.Encoded]] TensorInfo). */
  def componentKeys: Seq[String]
}

object Composite {

  /**
   * A `tf.RaggedTensorSpec` argument: signature key `componentKeys(0)` takes the `flat_values`, the
   * next `raggedRank` keys the `row_splits` of each ragged dimension, outermost first (TF's
   * component order), of dtype `rowSplits` (int64 or int32).
   */
  final case class Ragged(raggedRank: Int, rowSplits: TFDType, componentKeys: Seq[String]) extends Composite {
    def kind = "ragged"
    override def toString: String = s"ragged, ragged_rank $raggedRank, row_splits $rowSplits, components ${componentKeys.mkString(", ")}"
  }

  /** A `tf.SparseTensorSpec` argument (components `indices`, `values`, `dense_shape`): tfspark does not feed it. */
  final case class Sparse(componentKeys: Seq[String]) extends Composite {
    def kind = "sparse"
    override def toString: String = s"sparse, components ${componentKeys.mkString(", ")}"
  }

  /**
   * A TensorInfo that is itself composite (`coo_sparse` or `composite_tensor` encoding: a TF1
   * `sparse_placeholder`, `build_tensor_info` of a ragged tensor, a TF2 ragged output): its
   * components have tensor names but no signature keys. `kind`: "sparse", "ragged" or TF's type
   * spec class name. Also a TF2 argument of another composite type (`componentKeys`).
   */
  final case class Encoded(kind: String, componentKeys: Seq[String] = Nil) extends Composite {
    override def toString: String = s"$kind, encoded as one composite TensorInfo"
  }
}

/** A signature's key and its inputs and outputs, sorted by key. Plain data: safe to serialize. */
final case class SignatureSpec(key: String, inputs: Seq[TensorSpec], outputs: Seq[TensorSpec]) {
  override def toString: String = s"$key(${inputs.mkString(", ")}) -> (${outputs.mkString(", ")})"
}

object SignatureSpec {

  /**
   * The one signature lookup: signature `key` of `model`'s `signatures` (a loaded handle's, or a
   * shipped model's).
   *
   * @throws tfspark.errors.TFSparkException SIGNATURE_NOT_FOUND naming the signatures there are, sorted
   */
  def find(model: String, signatures: Map[String, SignatureSpec], key: String): SignatureSpec =
    signatures.getOrElse(key, throw tfspark.errors.TFSparkErrors.signatureNotFound(model, key, signatures.keys.toSeq.sorted))
}
