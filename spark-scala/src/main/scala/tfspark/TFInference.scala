package tfspark

import org.apache.spark.TaskContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.types.{ArrayType, FloatType, NumericType, StructField}

import tfspark.errors.TFSparkErrors
import tfspark.model.{ModelArchive, ModelCache, ModelLocation, ModelRepository, SavedModelHandle, ShippedModel}
import tfspark.rdd.{BatchedPredictionIterator, BatchedRowPredictionIterator}
import tfspark.tensor.{DenseFloatBinding, FloatBatchRunner}

/**
 * The Scala API for batch inference on RDDs and on the driver.
 *
 * {{{
 * val model = TFInference.ship(sc, ModelRepository("models").resolve("linear"))
 * val predictions: RDD[Array[Float]] = TFInference.predictRDD(features, model, batchSize = 1024)
 * }}}
 */
object TFInference {

  val DefaultBatchSize: Int = 1024
  val DefaultSignature: String = "serving_default"

  /** Makes `location` available to `sc`'s executors (see [[ShippedModel]]). */
  def ship(sc: org.apache.spark.SparkContext, location: ModelLocation): ShippedModel = ShippedModel.ship(sc, location)

  /**
   * Predicts each row of `rdd` with `model`'s `signature`, `batchSize` rows per `Session.run`.
   * The result has one array per input row, in order: the signature's output for that row.
   * Each executor JVM loads the model once, shared by its task threads.
   *
   * @throws tfspark.errors.TFSparkException UNSUPPORTED_SIGNATURE, SIGNATURE_NOT_FOUND or
   *   INVALID_ARGUMENT here; NULL_INPUT or INPUT_SHAPE_MISMATCH (naming the row and partition)
   *   from the job, as the cause of Spark's job failure
   */
  def predictRDD(
      rdd: RDD[Array[Float]],
      model: ShippedModel,
      batchSize: Int = DefaultBatchSize,
      signature: String = DefaultSignature
  ): RDD[Array[Float]] = {
    checkBatchSize(batchSize)
    val spec = model.signatures.getOrElse(signature, throw TFSparkErrors.signatureNotFound(model.name, signature, model.signatures.keys))
    val binding = DenseFloatBinding.bind(model.name, spec)
    rdd.mapPartitions { rows =>
      val runner = new FloatBatchRunner(ModelCache.acquire(model), binding)
      new BatchedPredictionIterator(rows, runner, batchSize, s"partition ${TaskContext.getPartitionId()}")
    }
  }

  /**
   * Appends `outputCol` with `model`'s prediction from the numeric `featureCols` (in the order the
   * signature expects them) to every row of `df`, `batchSize` rows per `Session.run`. The new
   * column is `float` for a `[-1,1]` output, else `array<float>`. Null features fail the job.
   *
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT for an unknown column,
   *   INPUT_TYPE_MISMATCH for a non-numeric one, INPUT_SHAPE_MISMATCH for the wrong number of
   *   columns, and the errors of [[predictRDD]]
   */
  def predictDataFrame(
      df: DataFrame,
      model: ShippedModel,
      featureCols: Seq[String],
      outputCol: String = "prediction",
      batchSize: Int = DefaultBatchSize,
      signature: String = DefaultSignature
  ): DataFrame = {
    checkBatchSize(batchSize)
    val spec = model.signatures.getOrElse(signature, throw TFSparkErrors.signatureNotFound(model.name, signature, model.signatures.keys))
    val binding = DenseFloatBinding.bind(model.name, spec)
    val schema = df.schema
    val caseSensitive = df.sparkSession.conf.get("spark.sql.caseSensitive", "false").toBoolean
    val indices: Array[Int] = featureCols.map { c =>
      val i = schema.fieldNames.indexWhere(f => if (caseSensitive) f == c else f.equalsIgnoreCase(c))
      if (i < 0) throw TFSparkErrors.invalidArgument("feature column", s"'$c'", s"one of ${schema.fieldNames.mkString(", ")}")
      if (!schema(i).dataType.isInstanceOf[NumericType]) {
        throw TFSparkErrors.inputTypeMismatch(
          model.name,
          binding.inputKey,
          "numeric feature columns",
          s"$c ${schema(i).dataType.simpleString}"
        )
      }
      i
    }.toArray
    if (indices.length != binding.width) {
      throw TFSparkErrors.inputShapeMismatch(
        model.name,
        binding.inputKey,
        binding.width.toLong,
        indices.length.toLong,
        "the feature columns"
      )
    }
    val outType = if (binding.scalarOutput) FloatType else ArrayType(FloatType, containsNull = false)
    val rows = df.rdd.mapPartitions { it =>
      val runner = new FloatBatchRunner(ModelCache.acquire(model), binding)
      new BatchedRowPredictionIterator(it, indices, runner, batchSize, s"partition ${TaskContext.getPartitionId()}")
    }
    df.sparkSession.createDataFrame(rows, schema.add(StructField(outputCol, outType, nullable = false)))
  }

  /** Resolves `name` in `repository`, ships it, and predicts `rdd` (see the other overload). */
  def predictRDD(rdd: RDD[Array[Float]], repository: ModelRepository, name: String, batchSize: Int): RDD[Array[Float]] =
    predictRDD(rdd, ship(rdd.sparkContext, repository.resolve(name)), batchSize)

  /**
   * Predicts `rows` on the driver, in batches of `batchSize`, with a model loaded through this
   * JVM's [[ModelCache]].
   */
  def predictLocal(
      location: ModelLocation,
      rows: Seq[Array[Float]],
      batchSize: Int = DefaultBatchSize,
      signature: String = DefaultSignature
  ): Seq[Array[Float]] = {
    checkBatchSize(batchSize)
    val handle: SavedModelHandle = ModelCache.acquire(ModelArchive.pack(location.directory)._2, location)
    val runner = new FloatBatchRunner(handle, DenseFloatBinding.bind(location.name, handle.signature(signature)))
    new BatchedPredictionIterator(rows.iterator, runner, batchSize, "the driver's input").toSeq
  }

  private def checkBatchSize(batchSize: Int): Unit =
    if (batchSize < 1) throw TFSparkErrors.invalidArgument("batchSize", batchSize.toString, "a positive number of rows")

}
