package tfspark

import org.apache.spark.{SparkContext, TaskContext}
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.catalyst.CatalystTypeConverters
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData
import org.apache.spark.sql.types.{ArrayType, FloatType, StructField, StructType}

import tfspark.errors.TFSparkErrors
import tfspark.model.{ModelArchive, ModelCache, ModelLocation, ModelRepository, ShippedModel, SignatureSpec, TFDType}
import tfspark.rdd.BatchedPredictionIterator
import tfspark.conf.NullPolicy
import tfspark.tensor.{BatchRunner, ExternalValues, InputFeeder, OutputDecoder, SignatureBinding}

/**
 * The Scala API for batch inference on RDDs, DataFrames and the driver.
 *
 * {{{
 * val model = TFInference.ship(sc, ModelRepository("models").resolve("titanic"))
 * val scored = TFInference.predictDataFrame(passengers, model)          // raw columns in, struct out
 * val predictions: RDD[Array[Float]] = TFInference.predictRDD(features, linear, batchSize = 1024)
 * }}}
 *
 * Each executor JVM loads a model once ([[ModelCache]]), shared by its task threads; every batch
 * is one `Session.run`, and its tensors are closed before the next.
 */
object TFInference {

  val DefaultBatchSize: Int = 1024
  val DefaultSignature: String = "serving_default"

  /** Makes `location` available to `sc`'s executors (see [[ShippedModel]]). */
  def ship(sc: SparkContext, location: ModelLocation): ShippedModel = ShippedModel.ship(sc, location)

  /**
   * Predicts each array of `rdd` with a signature of one numeric input and one float32 output,
   * `batchSize` rows per `Session.run`. The result has the output's values for each input row,
   * in order.
   *
   * @throws tfspark.errors.TFSparkException UNSUPPORTED_SIGNATURE, SIGNATURE_NOT_FOUND or
   *   INVALID_ARGUMENT here; NULL_INPUT or INPUT_SHAPE_MISMATCH (naming the row and partition)
   *   from the job, as the cause of Spark's job failure
   */
  def predictRDD(rdd: RDD[Array[Float]], model: ShippedModel, batchSize: Int, signature: String): RDD[Array[Float]] = {
    checkBatchSize(batchSize)
    val spec = signatureOf(model, signature)
    if (spec.outputs.size != 1 || spec.outputs.head.dtype != TFDType.Float32) {
      throw TFSparkErrors.unsupportedSignature(
        model.name,
        signature,
        s"it has outputs ${spec.outputs.mkString(", ")}",
        "one float32 output for RDD[Array[Float]] (use the Map or DataFrame API otherwise)"
      )
    }
    val binding = SignatureBinding.bind(model.name, spec, ArrayType(FloatType, containsNull = false), unitDimAsArray = true)
    rdd.mapPartitions { rows =>
      val runner = new BatchRunner(ModelCache.acquire(model), binding, batchSize, fillNulls = false)
      new BatchedPredictionIterator[Array[Float], Array[Float]](
        rows,
        runner,
        argument = a => if (a == null) null else UnsafeArrayData.fromPrimitiveArray(a),
        emit = (_, result) => OutputDecoder.toFloatArray(result),
        nullGivesNull = false,
        label = s"partition ${TaskContext.getPartitionId()}"
      )
    }
  }

  def predictRDD(rdd: RDD[Array[Float]], model: ShippedModel, batchSize: Int = DefaultBatchSize): RDD[Array[Float]] =
    predictRDD(rdd, model, batchSize, DefaultSignature)

  /**
   * Predicts rows given as maps from input key to plain Scala value (numbers, `Seq`s, `String`s,
   * `Array[Byte]`); returns, per row, a map from output key to value (`Float`, `Long`, `String`,
   * `Seq` for per-row arrays). A `[-1,1]` output gives a scalar.
   *
   * @throws tfspark.errors.TFSparkException as [[predictRDD]], and INPUT_TYPE_MISMATCH for a value
   *   of the wrong kind (in the job)
   */
  def predictMaps(
      rdd: RDD[Map[String, Any]],
      model: ShippedModel,
      batchSize: Int = DefaultBatchSize,
      signature: String = DefaultSignature
  ): RDD[Map[String, Any]] = {
    checkBatchSize(batchSize)
    val spec = signatureOf(model, signature)
    val struct = StructType(spec.inputs.map(i => StructField(i.key, InputFeeder.naturalType(i))))
    val binding = SignatureBinding.bind(model.name, spec, struct)
    val keys = spec.outputs.map(_.key)
    rdd.mapPartitions { rows =>
      val runner = new BatchRunner(ModelCache.acquire(model), binding, batchSize, fillNulls = false)
      val toScala = ExternalValues.toScala(binding.resultType)
      new BatchedPredictionIterator[Map[String, Any], Map[String, Any]](
        rows,
        runner,
        argument = m =>
          if (m == null) null
          else
            new org.apache.spark.sql.catalyst.expressions.GenericInternalRow(
              struct.fields
                .map { f =>
                  ExternalValues.toCatalyst(
                    model.name,
                    f.name,
                    m.getOrElse(f.name, throw TFSparkErrors.missingInput(model.name, signature, f.name, m.keys)),
                    f.dataType
                  )
                }
                .toArray[Any]
            ),
        emit = (_, result) =>
          toScala(result) match {
            case r: Row if keys.size > 1 => keys.zip(r.toSeq).toMap
            case single => Map(keys.head -> single)
          },
        nullGivesNull = false,
        label = s"partition ${TaskContext.getPartitionId()}"
      )
    }
  }

  /**
   * Appends `outputCol` with `model`'s result to every row of `df`, `batchSize` rows per
   * `Session.run`. The signature's inputs are fed from the columns of the same name (as Spark
   * matches names: case-insensitive unless `spark.sql.caseSensitive`), or from the column that
   * `inputCols` names for an input; other columns pass through. A single-input signature may also
   * be fed by one column named in `inputCols`. The new column has the output's type, or a struct
   * of every output.
   *
   * @param nullPolicy what a null input does: fail (NULL_INPUT), give a null result, or feed NaN/""
   * @param unitOutputsAsArrays a `[-1,1]` output gives a one-element array instead of a scalar
   * @throws tfspark.errors.TFSparkException MISSING_INPUT, AMBIGUOUS_INPUT, INPUT_TYPE_MISMATCH here,
   *   and the row errors of [[predictRDD]] from the job
   */
  def predictDataFrame(
      df: DataFrame,
      model: ShippedModel,
      outputCol: String = "prediction",
      inputCols: Map[String, String] = Map.empty,
      batchSize: Int = DefaultBatchSize,
      signature: String = DefaultSignature,
      nullPolicy: NullPolicy = NullPolicy.Error,
      unitOutputsAsArrays: Boolean = false
  ): DataFrame = {
    checkBatchSize(batchSize)
    val schema = df.schema
    val (binding, argumentType, ordinals) = bindColumns(df, model, inputCols, signature, unitOutputsAsArrays)
    val outputSchema = schema.add(StructField(outputCol, binding.resultType, nullable = true))
    val rows = df.rdd.mapPartitions { it =>
      val runner = new BatchRunner(ModelCache.acquire(model), binding, batchSize, nullPolicy.fillNulls)
      val toCatalyst = CatalystTypeConverters.createToCatalystConverter(argumentType)
      val toScala = ExternalValues.toScala(binding.resultType)
      new BatchedPredictionIterator[Row, Row](
        it,
        runner,
        argument = r => toCatalyst(Row.fromSeq(ordinals.toSeq.map(r.get))),
        emit = (r, result) => Row.fromSeq(r.toSeq :+ (if (result == null) null else toScala(result))),
        nullGivesNull = nullPolicy.nullGivesNull,
        label = s"partition ${TaskContext.getPartitionId()}"
      )
    }
    df.sparkSession.createDataFrame(rows, outputSchema)
  }

  /**
   * How [[predictDataFrame]] feeds `model` from `df`'s columns: the binding, the argument struct
   * type, and the ordinals of its fields in `df`. Also gives the output column's type
   * (`binding.resultType`) without running anything.
   *
   * @throws tfspark.errors.TFSparkException MISSING_INPUT, AMBIGUOUS_INPUT, INPUT_TYPE_MISMATCH,
   *   INVALID_ARGUMENT, SIGNATURE_NOT_FOUND
   */
  def bindColumns(
      df: DataFrame,
      model: ShippedModel,
      inputCols: Map[String, String],
      signature: String,
      unitOutputsAsArrays: Boolean = false
  ): (SignatureBinding, StructType, Array[Int]) = {
    val spec = signatureOf(model, signature)
    val caseSensitive = df.sparkSession.conf.get("spark.sql.caseSensitive", "false").toBoolean
    val schema = df.schema
    def column(name: String): Int = {
      val i = schema.fieldNames.indexWhere(f => if (caseSensitive) f == name else f.equalsIgnoreCase(name))
      if (i < 0) throw TFSparkErrors.invalidArgument("input column", s"'$name'", s"one of ${schema.fieldNames.mkString(", ")}")
      i
    }
    inputCols.keys.filterNot(k => spec.inputs.exists(_.key == k)).foreach { k =>
      throw TFSparkErrors.missingInput(model.name, signature, k, spec.inputs.map(_.key))
    }
    // The argument: a struct of the mapped columns named by input key, or of all columns by name.
    val fields: Seq[(String, Int)] =
      if (inputCols.nonEmpty) inputCols.toSeq.map { case (input, col) => input -> column(col) }
      else schema.fieldNames.toSeq.zipWithIndex
    val argumentType = StructType(fields.map { case (name, i) => StructField(name, schema(i).dataType) })
    val binding = SignatureBinding.bind(model.name, spec, argumentType, caseSensitive, unitDimAsArray = unitOutputsAsArrays, byName = true)
    (binding, argumentType, fields.map(_._2).toArray)
  }

  /** Resolves `name` in `repository`, ships it, and predicts `rdd` (see the other overload). */
  def predictRDD(rdd: RDD[Array[Float]], repository: ModelRepository, name: String, batchSize: Int): RDD[Array[Float]] =
    predictRDD(rdd, ship(rdd.sparkContext, repository.resolve(name)), batchSize)

  /**
   * Predicts `rows` on the driver, in batches of `batchSize`, with a model loaded through this
   * JVM's [[ModelCache]]: the same contract as [[predictRDD]].
   */
  def predictLocal(
      location: ModelLocation,
      rows: Seq[Array[Float]],
      batchSize: Int = DefaultBatchSize,
      signature: String = DefaultSignature
  ): Seq[Array[Float]] = {
    checkBatchSize(batchSize)
    ModelCache.withHandle(ModelArchive.sha256(location.directory), location) { handle =>
      val binding =
        SignatureBinding.bind(location.name, handle.signature(signature), ArrayType(FloatType, containsNull = false), unitDimAsArray = true)
      val runner = new BatchRunner(handle, binding, batchSize, fillNulls = false)
      new BatchedPredictionIterator[Array[Float], Array[Float]](
        rows.iterator,
        runner,
        argument = a => if (a == null) null else UnsafeArrayData.fromPrimitiveArray(a),
        emit = (_, result) => OutputDecoder.toFloatArray(result),
        nullGivesNull = false,
        label = "the driver's input"
      ).toList
    }
  }

  private def signatureOf(model: ShippedModel, signature: String): SignatureSpec =
    model.signatures.getOrElse(signature, throw TFSparkErrors.signatureNotFound(model.name, signature, model.signatures.keys.toSeq.sorted))

  private def checkBatchSize(batchSize: Int): Unit =
    if (batchSize < 1) throw TFSparkErrors.invalidArgument("batchSize", batchSize.toString, "a positive number of rows")
}
