package tfspark.tensor

import org.apache.spark.sql.types.{DataType, StructField, StructType}

import tfspark.errors.TFSparkErrors
import tfspark.model.{Composite, CompositeSignatures, ShippedModel, SignatureSpec, TFDType, TensorSpec}

/**
 * How one Spark argument value per row feeds a signature, decided at analysis time.
 *
 * A struct argument maps its fields to the signature's inputs by name (case-insensitive unless
 * `caseSensitive`); fields that feed no input are ignored unless `strict`. Any other argument
 * feeds a single-input signature whole. With `byName` a struct always maps by name (a table's rows). The result is the single output's type, or a struct of
 * all outputs named by their keys (sorted).
 *
 * Signatures whose inputs are all scalar-shaped (`()`, as `tf.Module` examples export) run once
 * per row ([[perRow]]), and their outputs have no batch dimension. A scalar input beside batched
 * inputs takes one value per `Session.run`: [[BatchRunner]] cuts batches wherever its value
 * changes. Every other input needs a batch dimension of -1.
 *
 * @param inputs each input's spec, the Spark type that feeds it, and the struct ordinal it comes
 *   from (`None`: the whole argument)
 * @param binaryOutputs the string outputs given as `binary` (keys, or `*` for all); the others are
 *   UTF-8-checked `string` ([[OutputDecoder]])
 */
final case class SignatureBinding(
    model: String,
    signature: String,
    argumentType: DataType,
    inputs: Seq[(TensorSpec, DataType, Option[Int])],
    outputs: Seq[TensorSpec],
    unitDimAsArray: Boolean,
    binaryOutputs: Set[String] = Set.empty
) {

  /** Every input is a scalar: one `Session.run` per row, outputs without a batch dimension. */
  def perRow: Boolean = inputs.nonEmpty && inputs.forall { case (spec, _, _) => !InputFeeder.isBatched(spec) }

  def decoders: Seq[OutputDecoder] = outputs.map { o =>
    val binary = o.dtype == TFDType.String && (binaryOutputs.contains(SignatureBinding.AllOutputs) || binaryOutputs.contains(o.key))
    new OutputDecoder(model, signature, o, unitDimAsArray, batched = !perRow, binary = binary)
  }

  /** The Spark type of one row's result. */
  def resultType: DataType = decoders match {
    case Seq(single) => single.sparkType
    case several => StructType(several.map(d => StructField(d.spec.key, d.sparkType, nullable = false)))
  }

  def inputKeys: Seq[String] = inputs.map(_._1.key)

  /**
   * This binding projected to the fields of its struct argument that feed an input: the argument
   * type keeps only those fields (in their order), and each input reads its field's new ordinal.
   * Returns the projection and the kept fields' ordinals in the old argument (itself and every
   * ordinal when all fields are used); `None` when the argument is not a struct read by field.
   * `struct(*)` over a wide table names every column but the model takes a few: a plan whose
   * argument keeps only these never reads the others (and column pruning can drop them from the
   * scan). Nothing is bound again: the inputs, their types and the outputs are this binding's.
   */
  def usedFieldsOnly: Option[(SignatureBinding, IndexedSeq[Int])] = argumentType match {
    case struct: StructType if inputs.forall(_._3.isDefined) =>
      val used = inputs.flatMap(_._3).distinct.sorted.toIndexedSeq
      if (used.size == struct.size) Some((this, used))
      else {
        val position = used.zipWithIndex.toMap
        val projected = copy(
          argumentType = StructType(used.map(struct.fields(_))),
          inputs = inputs.map { case (spec, t, ordinal) => (spec, t, ordinal.map(position)) }
        )
        Some((projected, used))
      }
    case _ => None
  }
}

object SignatureBinding {

  /** In binaryOutputs: every string output. */
  val AllOutputs = "*"

  /**
   * The entries of `binaryOutputs` that name no string output of `spec` (`*` always fits), and
   * what they may be, for the caller's INVALID_CONFIG or INVALID_ARGUMENT.
   */
  def unknownBinaryOutputs(spec: SignatureSpec, binaryOutputs: Seq[String]): (Seq[String], String) = {
    val strings = spec.outputs.filter(_.dtype == TFDType.String).map(_.key)
    val unknown = binaryOutputs.filterNot(k => k == AllOutputs || strings.contains(k))
    val expected =
      if (strings.isEmpty) s"no key: signature ${spec.key} has no string output (outputs: ${spec.outputs.map(_.key).mkString(", ")})"
      else s"string outputs of signature ${spec.key}, comma-separated (${strings.mkString(", ")}), or $AllOutputs"
    (unknown, expected)
  }

  /**
   * @param probe the model, loaded on the driver, to run once on a synthetic batch when an output
   *   has unknown rank ([[OutputRankProbe]]); without it such an output is UNSUPPORTED_SIGNATURE
   * @throws tfspark.errors.TFSparkException MISSING_INPUT, AMBIGUOUS_INPUT, UNEXPECTED_INPUT,
   *   INPUT_TYPE_MISMATCH, UNSUPPORTED_SIGNATURE
   */
  def bind(
      model: String,
      spec: SignatureSpec,
      argumentType: DataType,
      caseSensitive: Boolean = false,
      strict: Boolean = false,
      unitDimAsArray: Boolean = false,
      byName: Boolean = false,
      binaryOutputs: Seq[String] = Nil,
      probe: Option[ShippedModel] = None
  ): SignatureBinding = {
    checkShapes(model, spec)
    def same(a: String, b: String) = if (caseSensitive) a == b else a.equalsIgnoreCase(b)
    val inputs = argumentType match {
      case struct: StructType if byName || spec.inputs.size > 1 || spec.inputs.exists(i => struct.fieldNames.exists(same(_, i.key))) =>
        val mapped = spec.inputs.map { input =>
          struct.fields.zipWithIndex.filter { case (f, _) => same(f.name, input.key) } match {
            case Array((field, ordinal)) => (input, field.dataType, Some(ordinal))
            case Array() => throw TFSparkErrors.missingInput(model, spec.key, input.key, struct.fieldNames)
            case several => throw TFSparkErrors.ambiguousInput(model, input.key, several.map(_._1.name))
          }
        }
        if (strict) {
          struct.fieldNames.find(f => !spec.inputs.exists(i => same(f, i.key))).foreach { f =>
            throw TFSparkErrors.unexpectedInput(model, spec.key, f, spec.inputs.map(_.key))
          }
        }
        mapped
      case other if spec.inputs.size == 1 => Seq((spec.inputs.head, other, None))
      case other =>
        throw TFSparkErrors.inputTypeMismatch(
          model,
          spec.inputs.map(_.key).mkString(", "),
          s"a struct with fields ${spec.inputs.map(_.key).mkString(", ")}",
          other.simpleString
        )
    }
    // Fail at analysis, not in a task: creating the feeders and decoders checks every type.
    inputs.foreach { case (s, t, _) => BatchFeeder.create(model, spec.key, s, t, fillNulls = false) }
    val bound = SignatureBinding(model, spec.key, argumentType, inputs, spec.outputs, unitDimAsArray, binaryOutputs.toSet)
    // An output of unknown rank (a TF1 placeholder without a shape) takes the rank the model returns.
    val binding = probe match {
      case Some(shipped) if spec.outputs.exists(_.shape.isEmpty) && !bound.perRow =>
        bound.copy(outputs = OutputRankProbe.resolve(bound, shipped))
      case _ => bound
    }
    binding.decoders
    binding
  }

  /**
   * The shapes tfspark can feed: batched inputs (`[-1,...]` or unknown rank), and scalar inputs
   * (`()`); outputs with a batch dimension, except in a signature of scalar inputs only.
   *
   * @throws tfspark.errors.TFSparkException UNSUPPORTED_SIGNATURE naming the input or output
   */
  private def checkShapes(model: String, spec: SignatureSpec): Unit = {
    def unsupported(reason: String, expected: String) = TFSparkErrors.unsupportedSignature(model, spec.key, reason, expected)
    if (spec.inputs.isEmpty) throw unsupported("it has no inputs", "at least one input")
    spec.inputs.foreach { i =>
      i.composite.filterNot(_.isInstanceOf[Composite.Ragged]).foreach { c =>
        throw CompositeSignatures.refusal(model, spec.key, i.key, c.kind, tf1 = false)
      }
    }
    spec.outputs.foreach { o =>
      o.composite.foreach { c =>
        throw unsupported(
          s"output ${o.key} is ${c.kind} (a composite TensorInfo whose components tfspark does not fetch)",
          s"dense outputs; return ${if (c.kind == "ragged") "x.to_tensor() (padded) or x.flat_values and x.row_splits" else "a dense tensor"} from the serving function"
        )
      }
    }
    spec.inputs.foreach { i =>
      i.shape.filter(s => s.nonEmpty && s.head != -1L).foreach { s =>
        throw unsupported(
          s"input ${i.key} has the fixed first dimension ${s.head} (shape ${i.shapeString})",
          "a batch dimension of -1 (None) as the first dimension of every non-scalar input, or a scalar input of shape ()"
        )
      }
    }
    val scalarInputsOnly = spec.inputs.forall(i => !InputFeeder.isBatched(i))
    if (!scalarInputsOnly) {
      spec.outputs.foreach { o =>
        o.shape.filter(s => s.isEmpty || s.head != -1L).foreach { s =>
          throw unsupported(
            s"output ${o.key} has shape ${o.shapeString}, without a batch dimension, while inputs are batched",
            "outputs whose first dimension is the batch (-1)"
          )
        }
      }
    }
  }
}
