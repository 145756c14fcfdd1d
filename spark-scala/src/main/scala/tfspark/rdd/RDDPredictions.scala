package tfspark.rdd

import org.apache.spark.{SparkContext, TaskContext}
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.Row
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.sql.types.{ArrayType, DataType, FloatType, StructField, StructType}

import tfspark.conf.{NullPolicy, Setting, TFSparkConf}
import tfspark.errors.TFSparkErrors
import tfspark.model.{ModelCache, ModelLocation, ModelManifest, ShippedModel, SignatureSpec, TFDType}
import tfspark.tensor.{BatchLimits, BatchRunner, BatchingIterator, ExternalValues, OutputDecoder, SignatureBinding, SparkTypes, ValueText}

/**
 * Batched inference on RDDs and on the driver, through tfspark's one batching loop
 * ([[BatchingIterator]]). Float arrays go straight into the batch buffers, without Catalyst
 * values. Each executor JVM loads a model once ([[ModelCache]]). Internal: users call
 * `tfspark.TFInference`, the one Scala API.
 */
private[tfspark] object RDDPredictions {

  /**
   * Predicts each array of `rdd` with a signature of one numeric input and one float32 output.
   * A `batchSize` not given is the session's `spark.tfpredict.batchSize` ([[settings]]).
   *
   * @throws tfspark.errors.TFSparkException UNSUPPORTED_SIGNATURE, SIGNATURE_NOT_FOUND,
   *   INVALID_ARGUMENT or INVALID_CONFIG here; NULL_INPUT or INPUT_SHAPE_MISMATCH (naming the row
   *   and partition) from the job, as the cause of Spark's job failure
   */
  def predictArrays(rdd: RDD[Array[Float]], model: ShippedModel, batchSize: Setting[Int], signature: String): RDD[Array[Float]] = {
    val binding = floatArrayBinding(model.name, SignatureSpec.find(model.name, model.signatures, signature))
    val capacity = batchRows(settings(rdd.sparkContext), batchSize, binding)
    rdd.mapPartitions { rows =>
      arrays(
        rows,
        new BatchRunner(ModelCache.acquire(model), binding, capacity, fillNulls = false),
        s"partition ${TaskContext.getPartitionId()}"
      )
    }
  }

  /**
   * Predicts rows given as maps from input key to plain Scala value; returns, per row, a map from
   * output key to value. String outputs are `String`s (UTF-8 checked: OUTPUT_NOT_UTF8), or
   * `Array[Byte]` for those named in `binaryOutputs` (keys, or `*`). A `batchSize` or
   * `binaryOutputs` not given is the session's setting ([[settings]]).
   *
   * @throws tfspark.errors.TFSparkException as [[predictArrays]], and INPUT_TYPE_MISMATCH or
   *   MISSING_INPUT for a value of the wrong kind or a missing key (in the job), INVALID_ARGUMENT
   *   for a binaryOutputs key given that is not a string output (INVALID_CONFIG for such a key of
   *   `spark.tfpredict.binaryOutputs`)
   */
  def predictMaps(
      rdd: RDD[Map[String, Any]],
      model: ShippedModel,
      batchSize: Setting[Int],
      signature: String,
      binaryOutputs: Setting[Seq[String]]
  ): RDD[Map[String, Any]] = {
    val spec = SignatureSpec.find(model.name, model.signatures, signature)
    val session = settings(rdd.sparkContext)
    val binary = binaryOutputs.orSession(session.binaryOutputsOf(model.name))
    val (unknown, expected) = SignatureBinding.unknownBinaryOutputs(spec, binary)
    if (unknown.nonEmpty) {
      throw (if (binaryOutputs.isGiven)
               TFSparkErrors.invalidArgument(s"binaryOutputs of model ${model.name}", unknown.mkString(", "), expected)
             else TFSparkErrors.invalidConfig(TFSparkConf.BinaryOutputs, binary.mkString(","), s"for model ${model.name}: $expected"))
    }
    // Plain Scala values may hold null elements: the arrays say so, so the feeders check for them.
    def nullableElements(t: DataType): DataType = t match {
      case ArrayType(e, _) => ArrayType(nullableElements(e), containsNull = true)
      case other => other
    }
    val struct = StructType(spec.inputs.map(i => StructField(i.key, nullableElements(SparkTypes.external(i)))))
    val binding = SignatureBinding.bind(model.name, spec, struct, binaryOutputs = binary, probe = Some(model))
    val capacity = batchRows(session, batchSize, binding)
    val keys = spec.outputs.map(_.key)
    rdd.mapPartitions { rows =>
      val runner = new BatchRunner(ModelCache.acquire(model), binding, capacity, fillNulls = false)
      val toScala = ExternalValues.toScala(binding.resultType)
      val partition = TaskContext.getPartitionId()
      val argument = (m: Map[String, Any]) =>
        if (m == null) null
        else
          new GenericInternalRow(
            struct.fields
              .map { f =>
                val value = m.getOrElse(f.name, throw TFSparkErrors.missingInput(model.name, signature, f.name, m.keys))
                ExternalValues.toCatalyst(model.name, f.name, value, f.dataType)
              }
              .toArray[Any]
          )
      new BatchingIterator[Map[String, Any], Map[String, Any]](
        rows,
        IndexedSeq(BatchingIterator.Call(runner, argument, NullPolicy.Error, "a non-null row")),
        capacity,
        keep = identity,
        emit = (_, results) =>
          toScala(results(0)) match {
            case r: Row if keys.size > 1 => keys.zip(r.toSeq).toMap
            case single => Map(keys.head -> single)
          },
        label = (m, index) => s"row $index of partition $partition (${ValueText.of(argument(m), struct)})"
      )
    }
  }

  /**
   * The `spark.tfpredict.*` settings that apply to a call on `sc`'s RDDs: those of the session
   * that runs on `sc` (the thread's active one, else the default one; its settings are checked
   * as at every use of tfspark in a session), else those the application started with.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG
   */
  private def settings(sc: SparkContext): RDDSettings = TFSparkConf.sessionOf(sc) match {
    case Some(spark) =>
      TFSparkConf.validate(spark)
      RDDSettings(() => TFSparkConf.batchSize(spark), TFSparkConf.binaryOutputsOf(_, spark))
    case None => RDDSettings(() => TFSparkConf.batchSize(sc.getConf), TFSparkConf.binaryOutputsOf(_, sc.getConf))
  }

  /** The readers of the settings an RDD call leaves to its session (read only when not given). */
  private final case class RDDSettings(batchSize: () => Int, binaryOutputsOf: String => Seq[String])

  /**
   * The rows per batch: the `batchSize` given (INVALID_ARGUMENT if out of range for `binding`),
   * else `spark.tfpredict.batchSize` (INVALID_CONFIG).
   */
  private def batchRows(session: RDDSettings, batchSize: Setting[Int], binding: SignatureBinding): Int = {
    val rows = batchSize.orSession(session.batchSize())
    if (batchSize.isGiven) BatchLimits.check(rows, Some(binding), "batchSize", isConfig = false)
    else BatchLimits.check(rows, Some(binding), TFSparkConf.BatchSize, isConfig = true)
    rows
  }

  /**
   * Predicts `rows` on the driver, in batches of `batchSize`, with a model loaded through this
   * JVM's [[ModelCache]] (held while it runs): the same contract as [[predictArrays]].
   */
  def predictLocal(location: ModelLocation, rows: Seq[Array[Float]], batchSize: Int, signature: String): Seq[Array[Float]] = {
    ModelCache.withHandle(ModelManifest.sha256(location.directory), location) { handle =>
      val binding = floatArrayBinding(location.name, handle.signature(signature))
      BatchLimits.check(batchSize, Some(binding), "batchSize", isConfig = false)
      arrays(rows.iterator, new BatchRunner(handle, binding, batchSize, fillNulls = false), "the driver's input").toList
    }
  }

  private def arrays(rows: Iterator[Array[Float]], runner: BatchRunner, where: String): Iterator[Array[Float]] =
    new BatchingIterator[Array[Float], Array[Float]](
      rows,
      IndexedSeq(BatchingIterator.Call[Array[Float]](runner, identity, NullPolicy.Error, "a non-null row")),
      runner.capacity,
      keep = identity,
      emit = (_, results) => OutputDecoder.toFloatArray(results(0)),
      label = (features, index) => s"row $index of $where (${ValueText.of(features, ArrayType(FloatType))})"
    )

  /** @throws tfspark.errors.TFSparkException UNSUPPORTED_SIGNATURE unless one float32 output */
  private def floatArrayBinding(model: String, spec: SignatureSpec): SignatureBinding = {
    if (spec.outputs.size != 1 || spec.outputs.head.dtype != TFDType.Float32) {
      throw TFSparkErrors.unsupportedSignature(
        model,
        spec.key,
        s"it has outputs ${spec.outputs.mkString(", ")}",
        "one float32 output for RDD[Array[Float]] (use the Map or DataFrame API otherwise)"
      )
    }
    SignatureBinding.bind(model, spec, ArrayType(FloatType, containsNull = false), unitDimAsArray = true)
  }
}
