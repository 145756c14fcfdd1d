package tfspark

import org.apache.spark.SparkContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{Column, DataFrame}

import tfspark.conf.{NullPolicy, OnError}
import tfspark.model.{ModelLocation, ModelReference, ModelRepository, ShippedModel}
import tfspark.rdd.RDDPredictions
import tfspark.sql.DataFramePredictions

/**
 * The Scala API for batch inference: the one public entry point of the library for Scala code
 * (the engine behind it, `sql.DataFramePredictions` and `rdd.RDDPredictions`, is
 * `private[tfspark]`). Every path runs through the one batching loop (`tensor.BatchingIterator`).
 *
 * {{{
 * val model = TFInference.ship(sc, ModelRepository("models").resolve("titanic"))
 * val scored = TFInference.predictDataFrame(passengers, model)          // raw columns in, struct out
 * val predictions: RDD[Array[Float]] = TFInference.predictRDD(features, linear, batchSize = 1024)
 * }}}
 *
 * Each executor JVM loads a model once (`model.ModelCache`), shared by its task threads; every
 * batch is one `Session.run`, and its tensors are closed before the next.
 */
object TFInference {

  val DefaultBatchSize: Int = 1024
  val DefaultSignature: String = ModelReference.DefaultSignature

  /** Makes `location` available to `sc`'s executors (see [[ShippedModel]]). */
  def ship(sc: SparkContext, location: ModelLocation): ShippedModel = ShippedModel.ship(sc, location)

  /** See [[RDDPredictions.predictArrays]]. */
  def predictRDD(rdd: RDD[Array[Float]], model: ShippedModel, batchSize: Int, signature: String): RDD[Array[Float]] =
    RDDPredictions.predictArrays(rdd, model, batchSize, signature)

  def predictRDD(rdd: RDD[Array[Float]], model: ShippedModel, batchSize: Int = DefaultBatchSize): RDD[Array[Float]] =
    predictRDD(rdd, model, batchSize, DefaultSignature)

  /** Resolves `name` in `repository`, ships it, and predicts `rdd` (see the other overload). */
  def predictRDD(rdd: RDD[Array[Float]], repository: ModelRepository, name: String, batchSize: Int): RDD[Array[Float]] =
    predictRDD(rdd, ship(rdd.sparkContext, repository.resolve(name)), batchSize)

  /**
   * Predicts rows given as maps from input key to plain Scala value (numbers, `Seq`s, `String`s,
   * `Array[Byte]`); returns, per row, a map from output key to value (`Array[Byte]` for the string
   * outputs in `binaryOutputs`). See [[RDDPredictions.predictMaps]].
   */
  def predictMaps(
      rdd: RDD[Map[String, Any]],
      model: ShippedModel,
      batchSize: Int = DefaultBatchSize,
      signature: String = DefaultSignature,
      binaryOutputs: Seq[String] = Nil
  ): RDD[Map[String, Any]] = RDDPredictions.predictMaps(rdd, model, batchSize, signature, binaryOutputs)

  /**
   * Appends `outputCol` with `model`'s result to every row of `df` as a `tfpredict` column: a
   * Spark plan that the optimizer batches (`explain()` shows `BatchEvalTF`). See
   * [[DataFramePredictions.predict]].
   *
   * @param nullPolicy what a null input does: fail (NULL_INPUT), give a null result, or feed NaN/""
   * @param unitOutputsAsArrays a `[-1,1]` output gives a one-element array instead of a scalar
   * @param onError what a row the model cannot score does: fail the job, or a null result and its
   *   error in `errorCol` (default `<outputCol>_error`)
   * @param rowLabel columns that name a row in errors (default: `spark.tfpredict.rowLabel`)
   * @param binaryOutputs string outputs (keys, or `*` for all) given as `binary`, their bytes as
   *   they are; other string outputs are `string` and must be UTF-8 (OUTPUT_NOT_UTF8 otherwise)
   * @param replaceColumns whether `outputCol` and `errorCol` may replace existing columns of `df`
   *   (default: such a clash is INVALID_ARGUMENT)
   */
  def predictDataFrame(
      df: DataFrame,
      model: ShippedModel,
      outputCol: String = "prediction",
      inputCols: Map[String, String] = Map.empty,
      batchSize: Int = DefaultBatchSize,
      signature: String = DefaultSignature,
      nullPolicy: NullPolicy = NullPolicy.Error,
      unitOutputsAsArrays: Boolean = false,
      onError: OnError = OnError.Fail,
      errorCol: Option[String] = None,
      rowLabel: Seq[String] = Nil,
      binaryOutputs: Seq[String] = Nil,
      replaceColumns: Boolean = false
  ): DataFrame =
    DataFramePredictions.predict(
      df,
      model,
      outputCol,
      inputCols,
      batchSize,
      signature,
      nullPolicy,
      unitOutputsAsArrays,
      onError,
      errorCol,
      rowLabel,
      binaryOutputs,
      replaceColumns
    )

  /** The `tfpredict` Column that [[predictDataFrame]] appends, for any projection of `df`. */
  def predictColumn(
      df: DataFrame,
      model: ShippedModel,
      inputCols: Map[String, String] = Map.empty,
      batchSize: Int = DefaultBatchSize,
      signature: String = DefaultSignature,
      nullPolicy: NullPolicy = NullPolicy.Error,
      unitOutputsAsArrays: Boolean = false,
      onError: OnError = OnError.Fail,
      binaryOutputs: Seq[String] = Nil
  ): Column =
    DataFramePredictions.column(df, model, inputCols, batchSize, signature, nullPolicy, unitOutputsAsArrays, onError, Nil, binaryOutputs)

  /** Predicts `rows` on the driver, in batches: see [[RDDPredictions.predictLocal]]. */
  def predictLocal(
      location: ModelLocation,
      rows: Seq[Array[Float]],
      batchSize: Int = DefaultBatchSize,
      signature: String = DefaultSignature
  ): Seq[Array[Float]] = RDDPredictions.predictLocal(location, rows, batchSize, signature)
}
