package tfspark.model

import java.io.File
import java.nio.file.Files

import scala.jdk.CollectionConverters._
import scala.util.Using

import org.tensorflow.proto.{MetaGraphDef, NodeDef, SavedModel, SignatureDef, TensorInfo}
import org.tensorflow.proto.Struct.{StructuredValue, TypeSpecProto}

import tfspark.errors.TFSparkErrors

/**
 * Finds the composite arguments (`tf.RaggedTensorSpec`, `tf.SparseTensorSpec`) behind a TF2
 * SignatureDef, whose TensorInfos only list their flat components (a ragged `x` appears as `x`
 * for the `flat_values` and `x_1`, `x_2`... for the `row_splits`).
 *
 * What TF 2.18 records, and what this reads: the SignatureDef's input `k` names a placeholder
 * (`serving_default_x:0`) that feeds, at some position, the graph's call of the signature
 * wrapper function; inside the wrapper, the wrapper's argument at that position feeds, at
 * position `q`, the call of the exported `tf.function`, whose `canonicalized_input_signature`
 * (object graph, `SavedConcreteFunction`) holds the argument's `TypeSpecProto`. Component `q` of
 * that signature, flattened as `tf.nest.flatten(..., expand_composites=True)` does (dicts by
 * sorted key; a composite spans its `num_flat_components`), is the input's place in its
 * composite. A model without an object graph (TF1) or whose wrapper calls no such function has
 * no composite inputs here.
 */
private[tfspark] object CompositeSignatures {

  private val Calls = Set("PartitionedCall", "StatefulPartitionedCall")

  /** One flattened leaf of a function's input signature: a dense tensor, or component `index` of composite `id`. */
  private sealed trait Leaf
  private case object Dense extends Leaf
  private final case class Component(id: Int, index: Int, spec: TypeSpecProto) extends Leaf

  /**
   * The composite arguments of signature `definition`, each as one [[TensorSpec]] keyed by its
   * first component's signature key, with the keys of all its components.
   */
  def read(meta: MetaGraphDef, definition: SignatureDef): Seq[TensorSpec] = {
    val graph = meta.getGraphDef
    val keyOfPlaceholder = definition.getInputsMap.asScala.collect {
      case (k, info) if info.getEncodingCase == TensorInfo.EncodingCase.NAME => nodeName(info.getName) -> k
    }.toMap
    if (keyOfPlaceholder.isEmpty || !meta.hasObjectGraphDef) return Nil
    val functions = graph.getLibrary.getFunctionList.asScala.map(f => f.getSignature.getName -> f).toMap
    val concrete = meta.getObjectGraphDef.getConcreteFunctionsMap.asScala
    val outer =
      graph.getNodeList.asScala.find(n => Calls(n.getOp) && n.getInputList.asScala.exists(i => keyOfPlaceholder.contains(nodeName(i))))
    val found = for {
      call <- outer
      wrapper <- functions.get(callee(call))
      // the wrapper's argument names → signature keys
      argKeys = call.getInputList.asScala.zipWithIndex.flatMap { case (in, i) =>
        keyOfPlaceholder
          .get(nodeName(in))
          .filter(_ => i < wrapper.getSignature.getInputArgCount)
          .map(wrapper.getSignature.getInputArg(i).getName -> _)
      }.toMap
      inner <- wrapper.getNodeDefList.asScala.find(n => Calls(n.getOp) && concrete.get(callee(n)).exists(_.hasCanonicalizedInputSignature))
    } yield {
      val leaves = flatten(concrete(callee(inner)).getCanonicalizedInputSignature)
      val inputs = inner.getInputList.asScala.take(leaves.size).map(argKeys.get)
      if (inputs.size < leaves.size) Nil // not the function's own inputs: nothing known
      else
        leaves
          .zip(inputs)
          .collect { case (c: Component, Some(key)) => (c, key) }
          .groupBy(_._1.id)
          .toSeq
          .sortBy(_._1)
          .flatMap { case (_, parts) => composite(parts.sortBy(_._1.index)) }
    }
    found.getOrElse(Nil)
  }

  /**
   * The TF1 inputs that TF Java cannot load (their TensorInfo has components, not a name), so that
   * the load failure can say what they are.
   *
   * @throws tfspark.errors.TFSparkException UNSUPPORTED_SIGNATURE naming the first such input
   */
  def refuseEncodedInputs(model: String, directory: File): Unit = {
    val pb = new File(directory, "saved_model.pb")
    if (!pb.isFile) return
    val saved =
      try Using.resource(Files.newInputStream(pb.toPath))(SavedModel.parseFrom)
      catch { case _: Exception => return } // unreadable: the load's own error says so
    for {
      meta <- saved.getMetaGraphsList.asScala.find(_.getMetaInfoDef.getTagsList.asScala.contains(SavedModelHandle.ServeTag))
      (signature, definition) <- meta.getSignatureDefMap.asScala.toSeq.sortBy(_._1)
      (input, info) <- definition.getInputsMap.asScala.toSeq.sortBy(_._1)
    } encoded(info).foreach(kind => throw refusal(model, signature, input, kind, tf1 = true))
  }

  /** The kind of a TensorInfo that is one composite (TF1 `coo_sparse`, `composite_tensor`), if it is. */
  def encoded(info: TensorInfo): Option[String] = info.getEncodingCase match {
    case TensorInfo.EncodingCase.COO_SPARSE => Some("sparse")
    case TensorInfo.EncodingCase.COMPOSITE_TENSOR =>
      Some(kindOf(info.getCompositeTensor.getTypeSpec))
    case _ => None
  }

  /** UNSUPPORTED_SIGNATURE for a sparse (or otherwise unfeedable composite) input, saying what to re-export. */
  def refusal(model: String, signature: String, input: String, kind: String, tf1: Boolean): tfspark.errors.TFSparkException = {
    val (what, fix) = kind match {
      case "sparse" =>
        val source = if (tf1) "a tf.compat.v1.sparse_placeholder" else "a tf.SparseTensorSpec"
        (
          s"input $input is sparse ($source): tfspark feeds dense and ragged inputs only",
          "a dense input (tf.TensorSpec / tf.compat.v1.placeholder, then tf.sparse.from_dense inside the model) " +
            "or a ragged one (tf.RaggedTensorSpec); re-export the model with it"
        )
      case "ragged" =>
        (
          s"input $input is ragged, encoded as one composite TensorInfo (TF1 build_tensor_info of a RaggedTensor), which TF Java cannot feed",
          "a TF2 export whose tf.function takes a tf.RaggedTensorSpec (tfspark feeds it from an array column), " +
            "or separate dense values and row_splits inputs"
        )
      case other =>
        (
          s"input $input is a composite $other",
          "dense or ragged inputs; re-export the model with a tf.TensorSpec or tf.RaggedTensorSpec input"
        )
    }
    TFSparkErrors.unsupportedSignature(model, signature, what, fix)
  }

  private def kindOf(spec: TypeSpecProto): String = spec.getTypeSpecClass match {
    case TypeSpecProto.TypeSpecClass.RAGGED_TENSOR_SPEC => "ragged"
    case TypeSpecProto.TypeSpecClass.SPARSE_TENSOR_SPEC => "sparse"
    case _ => Option(spec.getTypeSpecClassName).filter(_.nonEmpty).getOrElse(spec.getTypeSpecClass.name())
  }

  /** One composite's components (in order) as a [[TensorSpec]]; `None` when they are not all signature inputs. */
  private def composite(parts: Seq[(Component, String)]): Option[TensorSpec] = {
    val spec = parts.head._1.spec
    val keys = parts.map(_._2)
    if (parts.size != spec.getNumFlatComponents) None
    else
      spec.getTypeSpecClass match {
        case TypeSpecProto.TypeSpecClass.RAGGED_TENSOR_SPEC =>
          // type_state: (shape, dtype, ragged_rank, row_splits_dtype[, flat_values_spec])
          val state = spec.getTypeState.getTupleValue.getValuesList.asScala
          val shapeProto = state.head.getTensorShapeValue
          val shape = if (shapeProto.getUnknownRank) None else Some(shapeProto.getDimList.asScala.map(_.getSize).toSeq)
          val raggedRank = state(2).getInt64Value.toInt
          Some(
            TensorSpec(
              keys.head,
              TFDType.fromProto(state(1).getTensorDtypeValue),
              shape,
              Some(Composite.Ragged(raggedRank, TFDType.fromProto(state(3).getTensorDtypeValue), keys))
            )
          )
        case TypeSpecProto.TypeSpecClass.SPARSE_TENSOR_SPEC =>
          // type_state: (shape, dtype)
          val state = spec.getTypeState.getTupleValue.getValuesList.asScala
          val shapeProto = state.head.getTensorShapeValue
          val shape = if (shapeProto.getUnknownRank) None else Some(shapeProto.getDimList.asScala.map(_.getSize).toSeq)
          Some(TensorSpec(keys.head, TFDType.fromProto(state(1).getTensorDtypeValue), shape, Some(Composite.Sparse(keys))))
        case _ =>
          Some(
            TensorSpec(
              keys.head,
              TFDType.fromProto(org.tensorflow.proto.DataType.DT_INVALID),
              None,
              Some(Composite.Encoded(kindOf(spec), keys))
            )
          )
      }
  }

  /** The leaves of an input signature in `tf.nest.flatten(expand_composites=True)` order; Python constants are not inputs. */
  private def flatten(value: StructuredValue): Seq[Leaf] = {
    var next = 0
    def walk(v: StructuredValue): Seq[Leaf] = v.getKindCase match {
      case StructuredValue.KindCase.TUPLE_VALUE => v.getTupleValue.getValuesList.asScala.toSeq.flatMap(walk)
      case StructuredValue.KindCase.LIST_VALUE => v.getListValue.getValuesList.asScala.toSeq.flatMap(walk)
      case StructuredValue.KindCase.DICT_VALUE => v.getDictValue.getFieldsMap.asScala.toSeq.sortBy(_._1).flatMap(f => walk(f._2))
      case StructuredValue.KindCase.NAMED_TUPLE_VALUE => v.getNamedTupleValue.getValuesList.asScala.toSeq.flatMap(p => walk(p.getValue))
      case StructuredValue.KindCase.TENSOR_SPEC_VALUE | StructuredValue.KindCase.BOUNDED_TENSOR_SPEC_VALUE => Seq(Dense)
      case StructuredValue.KindCase.TYPE_SPEC_VALUE =>
        val spec = v.getTypeSpecValue
        val id = next
        next += 1
        Seq.tabulate(spec.getNumFlatComponents)(i => Component(id, i, spec))
      case _ => Nil
    }
    walk(value)
  }

  private def callee(n: NodeDef): String = Option(n.getAttrMap.get("f")).map(_.getFunc.getName).getOrElse("")

  /** `"^a"`, `"a:0"`, `"a:output:0"` → `"a"`. */
  private def nodeName(input: String): String = input.stripPrefix("^").takeWhile(_ != ':')
}
