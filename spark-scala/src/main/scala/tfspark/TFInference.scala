package tfspark

import org.apache.spark.SparkContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{Column, DataFrame}

import tfspark.conf.{NullPolicy, OnError, Precision, Setting, TFSparkConf}
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
 * Settings: `batchSize`, `nullPolicy`, `onError`, `unitOutputsAsArrays`, `binaryOutputs` and
 * `rowLabel` stand for the `spark.tfpredict.*` settings of the same names, as in SQL's
 * `tfpredict`, the Transformer and BatchScore. A setting the caller leaves out
 * ([[Setting.FromSession]], the default; for `rowLabel`, none given) is the session's, read when
 * the call is made: the DataFrame's session, or for RDDs the session that runs on their
 * SparkContext (else the configuration the application started with). A value given wins
 * (`batchSize = 64` converts to [[Setting.Given]]). A malformed setting is INVALID_CONFIG naming
 * its key; a bad value given is INVALID_ARGUMENT. The RDD calls have no `nullPolicy` or `onError`:
 * a null row or a row the model cannot score fails the job there (NULL_INPUT, ...), whatever the
 * session's settings.
 *
 * Each executor JVM loads a model once (`model.ModelCache`), shared by its task threads; every
 * batch is one `Session.run`, and its tensors are closed before the next.
 */
object TFInference {

  /** `spark.tfpredict.batchSize`'s default, and [[predictLocal]]'s (which reads no session). */
  val DefaultBatchSize: Int = TFSparkConf.DefaultBatchSize
  val DefaultSignature: String = ModelReference.DefaultSignature

  /**
   * Makes `location` available to `sc`'s executors (see [[ShippedModel]]), to run in `precision`
   * (default: `spark.tfpredict.precision` and `spark.tfpredict.precision.maxDeviation` of the
   * session that runs on `sc`, else of the configuration the application started with), e.g.
   * `precision = Precision.BFloat16(maxDeviation = 0.01)`.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED, INVALID_CONFIG, BFLOAT16_NOT_SUPPORTED,
   *   BFLOAT16_DEVIATION_EXCEEDED
   */
  def ship(sc: SparkContext, location: ModelLocation, precision: Setting[Precision] = Setting.FromSession): ShippedModel = {
    val chosen = precision.orSession(TFSparkConf.sessionOf(sc).fold(TFSparkConf.precision(sc.getConf))(s => TFSparkConf.precision(s, None)))
    ShippedModel.ship(sc, location, chosen)
  }

  /**
   * Predicts each array of `rdd` with a signature of one numeric input and one float32 output
   * (see [[RDDPredictions.predictArrays]]).
   *
   * @param batchSize rows per `Session.run` (default: `spark.tfpredict.batchSize`)
   */
  def predictRDD(
      rdd: RDD[Array[Float]],
      model: ShippedModel,
      batchSize: Setting[Int] = Setting.FromSession,
      signature: String = DefaultSignature
  ): RDD[Array[Float]] =
    RDDPredictions.predictArrays(rdd, model, batchSize, signature)

  /** Resolves `name` in `repository`, ships it, and predicts `rdd` (see the other overload). */
  def predictRDD(rdd: RDD[Array[Float]], repository: ModelRepository, name: String, batchSize: Setting[Int]): RDD[Array[Float]] =
    predictRDD(rdd, ship(rdd.sparkContext, repository.resolve(name)), batchSize)

  /**
   * Predicts rows given as maps from input key to plain Scala value (numbers, `Seq`s, `String`s,
   * `Array[Byte]`); returns, per row, a map from output key to value (`Array[Byte]` for the string
   * outputs in `binaryOutputs`). See [[RDDPredictions.predictMaps]].
   *
   * @param batchSize rows per `Session.run` (default: `spark.tfpredict.batchSize`)
   * @param binaryOutputs string outputs (keys, or `*`) given as bytes (default:
   *   `spark.tfpredict.binaryOutputs`, its entries for this model)
   */
  def predictMaps(
      rdd: RDD[Map[String, Any]],
      model: ShippedModel,
      batchSize: Setting[Int] = Setting.FromSession,
      signature: String = DefaultSignature,
      binaryOutputs: Setting[Seq[String]] = Setting.FromSession
  ): RDD[Map[String, Any]] = RDDPredictions.predictMaps(rdd, model, batchSize, signature, binaryOutputs)

  /**
   * Appends `outputCol` with `model`'s result to every row of `df` as a `tfpredict` column: a
   * Spark plan that the optimizer batches (`explain()` shows `BatchEvalTF`). See
   * [[DataFramePredictions.predict]]. Settings left out are `df`'s session's (see above).
   *
   * @param batchSize rows per `Session.run` (default: `spark.tfpredict.batchSize`)
   * @param nullPolicy what a null input does: fail (NULL_INPUT), give a null result, or feed NaN/""
   *   (default: `spark.tfpredict.nullPolicy`)
   * @param unitOutputsAsArrays a `[-1,1]` output gives a one-element array instead of a scalar
   *   (default: `spark.tfpredict.unitOutputsAsArrays`)
   * @param onError what a row the model cannot score does: fail the job, or a null result and its
   *   error in `errorCol` (default `<outputCol>_error`) (default: `spark.tfpredict.onError`)
   * @param rowLabel columns that name a row in errors (none given: `spark.tfpredict.rowLabel`)
   * @param binaryOutputs string outputs (keys, or `*` for all) given as `binary`, their bytes as
   *   they are; other string outputs are `string` and must be UTF-8 (OUTPUT_NOT_UTF8 otherwise)
   *   (default: `spark.tfpredict.binaryOutputs`, its entries for this model)
   * @param replaceColumns whether `outputCol` and `errorCol` may replace existing columns of `df`
   *   (default: such a clash is INVALID_ARGUMENT)
   */
  def predictDataFrame(
      df: DataFrame,
      model: ShippedModel,
      outputCol: String = "prediction",
      inputCols: Map[String, String] = Map.empty,
      batchSize: Setting[Int] = Setting.FromSession,
      signature: String = DefaultSignature,
      nullPolicy: Setting[NullPolicy] = Setting.FromSession,
      unitOutputsAsArrays: Setting[Boolean] = Setting.FromSession,
      onError: Setting[OnError] = Setting.FromSession,
      errorCol: Option[String] = None,
      rowLabel: Seq[String] = Nil,
      binaryOutputs: Setting[Seq[String]] = Setting.FromSession,
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

  /**
   * The `tfpredict` Column that [[predictDataFrame]] appends, for any projection of `df`, with the
   * same settings (left out: `df`'s session's; errors name rows by `spark.tfpredict.rowLabel`).
   */
  def predictColumn(
      df: DataFrame,
      model: ShippedModel,
      inputCols: Map[String, String] = Map.empty,
      batchSize: Setting[Int] = Setting.FromSession,
      signature: String = DefaultSignature,
      nullPolicy: Setting[NullPolicy] = Setting.FromSession,
      unitOutputsAsArrays: Setting[Boolean] = Setting.FromSession,
      onError: Setting[OnError] = Setting.FromSession,
      binaryOutputs: Setting[Seq[String]] = Setting.FromSession
  ): Column =
    DataFramePredictions.column(df, model, inputCols, batchSize, signature, nullPolicy, unitOutputsAsArrays, onError, Nil, binaryOutputs)

  /**
   * Predicts `rows` on the driver, in batches of `batchSize` (no session is read: this runs
   * without Spark): see [[RDDPredictions.predictLocal]].
   */
  def predictLocal(
      location: ModelLocation,
      rows: Seq[Array[Float]],
      batchSize: Int = DefaultBatchSize,
      signature: String = DefaultSignature
  ): Seq[Array[Float]] = RDDPredictions.predictLocal(location, rows, batchSize, signature)
}
