package tfspark.ml

import scala.jdk.CollectionConverters._

import org.apache.spark.ml.Transformer
import org.apache.spark.ml.param.{BooleanParam, IntParam, Param, ParamMap, StringArrayParam}
import org.apache.spark.ml.util.{DefaultParamsReadable, DefaultParamsWritable, Identifiable}
import org.apache.spark.sql.{DataFrame, Dataset, SparkSession}
import org.apache.spark.sql.types.{StructField, StructType}

import tfspark.TFInference
import tfspark.errors.TFSparkErrors
import tfspark.model.{ModelReference, ModelSource, ShippedModel}
import tfspark.conf.{NullPolicy, OnError, Setting, TFSparkConf}
import tfspark.sql.{DataFramePredictions, TFPredict}

/**
 * A Spark ML `Transformer` that appends a TensorFlow SavedModel's output to each row, batched
 * ([[TFInference.predictDataFrame]]).
 *
 * {{{
 * val scorer = new TFModelTransformer().setModel("titanic").setOutputCol("survival")
 * new Pipeline().setStages(Array(cleaner, scorer)).fit(train).write.save("pipeline")
 * }}}
 *
 * Inputs come from the columns named like the signature's inputs, or from [[setInputCol]] (a
 * single-input signature) or [[setInputMapping]]. It saves and loads with the pipeline
 * (`MLWritable`/`MLReadable`): the params are saved, and the model is found again by name in the
 * repository when the pipeline is loaded.
 *
 * `batchSize`, `nullPolicy`, `onError`, `unitOutputsAsArrays` and `binaryOutputs` stand for the
 * `spark.tfpredict.*` settings of the same names: a param left unset takes the session's
 * setting, a param set wins, and a value is checked as the setting's is (INVALID_CONFIG).
 */
class TFModelTransformer(override val uid: String) extends Transformer with DefaultParamsWritable {

  def this() = this(Identifiable.randomUID("tfModel"))

  final val model: Param[String] =
    new Param[String](
      this,
      "model",
      "model in the repository: NAME, NAME@VERSION (default: the latest) or NAME[@VERSION]:SIGNATURE; or models:/NAME[/VERSION|@ALIAS][:SIGNATURE] (MLflow)"
    )
  final val repository: Param[String] =
    new Param[String](this, "repository", s"model repository root (default: ${TFSparkConf.Repository} or 'models')")
  final val signature: Param[String] = new Param[String](this, "signature", "signature key")
  final val inputMapping: StringArrayParam =
    new StringArrayParam(this, "inputMapping", "entries INPUT=COLUMN: the column that feeds each signature input")
  final val outputCol: Param[String] = new Param[String](this, "outputCol", "the appended column")
  final val batchSize: IntParam =
    new IntParam(
      this,
      "batchSize",
      s"rows per Session.run: 1 to ${TFSparkConf.MaxBatchSize}",
      asConf[Int]("batchSize", TFSparkConf.BatchSize)
    )
  final val unitOutputsAsArrays: BooleanParam =
    new BooleanParam(this, "unitOutputsAsArrays", "give a [-1,1] output as a one-element array instead of a scalar")
  final val binaryOutputs: StringArrayParam =
    new StringArrayParam(
      this,
      "binaryOutputs",
      "string outputs (keys, or * for all) given as binary, their bytes as they are; other string outputs must be UTF-8 text"
    )
  final val nullPolicy: Param[String] =
    new Param[String](this, "nullPolicy", "error, null or fill", asConf[String]("nullPolicy", TFSparkConf.NullPolicy))

  final val onError: Param[String] =
    new Param[String](
      this,
      "onError",
      "fail (a row the model cannot score fails the job) or null (a null output and the error in errorCol)",
      asConf[String]("onError", TFSparkConf.OnError)
    )
  final val precision: Param[String] =
    new Param[String](
      this,
      "precision",
      "float32, or bfloat16 (matmuls and convolutions in bfloat16 on CPUs that have it; spark.tfpredict.precision.maxDeviation applies)",
      asConf[String]("precision", TFSparkConf.PrecisionKey)
    )
  final val errorCol: Param[String] = new Param[String](this, "errorCol", "with onError=null, the column of each row's error")
  final val rowLabelCols: StringArrayParam =
    new StringArrayParam(this, "rowLabelCols", "columns that name a row in error messages (default: the first columns)")

  /**
   * A param validator that checks a value as the `spark.tfpredict.*` key it stands for: the same
   * values and range, and the same error class (INVALID_CONFIG naming the param and the key),
   * thrown when the param is set, not Spark's bare `IllegalArgumentException`.
   */
  private def asConf[T](param: String, key: String): T => Boolean = { value =>
    TFSparkConf.entry(key).parseAs(s"TFModelTransformer.$param", value.toString)
    true
  }

  setDefault(
    onError -> "fail",
    rowLabelCols -> Array.empty[String],
    signature -> TFInference.DefaultSignature,
    inputMapping -> Array.empty[String],
    outputCol -> "prediction",
    batchSize -> TFInference.DefaultBatchSize,
    nullPolicy -> "error",
    precision -> "float32",
    unitOutputsAsArrays -> false,
    binaryOutputs -> Array.empty[String]
  )

  def setModel(value: String): this.type = set(model, value)
  def setRepository(value: String): this.type = set(repository, value)
  def setSignature(value: String): this.type = set(signature, value)
  def setOutputCol(value: String): this.type = set(outputCol, value)
  def setBatchSize(value: Int): this.type = set(batchSize, value)
  def setNullPolicy(value: String): this.type = set(nullPolicy, value)
  def setUnitOutputsAsArrays(value: Boolean): this.type = set(unitOutputsAsArrays, value)
  def setBinaryOutputs(value: Array[String]): this.type = set(binaryOutputs, value)
  def setOnError(value: String): this.type = set(onError, value)
  def setErrorCol(value: String): this.type = set(errorCol, value)
  def setRowLabelCols(value: Array[String]): this.type = set(rowLabelCols, value)
  def setPrecision(value: String): this.type = set(precision, value)

  /** The error column under onError=null: errorCol, else `<outputCol>_error`. */
  def getErrorCol: String = get(errorCol).getOrElse(s"${$(outputCol)}_error")

  /** Feeds the signature's only input from `column`. */
  def setInputCol(column: String): this.type = set(inputMapping, Array(s"${TFModelTransformer.SingleInput}=$column"))

  /** Feeds each signature input (key) from a column (value). */
  def setInputMapping(mapping: Map[String, String]): this.type = set(inputMapping, mapping.map { case (k, v) => s"$k=$v" }.toArray.sorted)

  /** Java and py4j friendly [[setInputMapping]]. */
  def setInputMapping(mapping: java.util.Map[String, String]): this.type = setInputMapping(mapping.asScala.toMap)

  def getInputMapping: Map[String, String] = $(inputMapping).map(_.split("=", 2)).collect { case Array(k, v) => k -> v }.toMap

  private def shipped(dataset: Dataset[_]): ShippedModel = {
    if (!isDefined(model)) throw TFSparkErrors.invalidArgument("TFModelTransformer.model", "unset", "setModel(name)")
    val root = get(repository).getOrElse(dataset.sparkSession.conf.get(TFSparkConf.Repository, TFSparkConf.DefaultRepository))
    val reference = ModelReference.parse($(model))
    val session = dataset.sparkSession
    val chosen = TFSparkConf.precision(session, get(precision).map("TFModelTransformer.precision" -> _))
    TFInference.ship(session.sparkContext, ModelSource.resolve(reference, root, session.sessionState.conf), chosen)
  }

  /** The signature param, else the one named in the model reference (`name:signature`), else `serving_default`. */
  private def signatureKey: String = get(signature).getOrElse(ModelReference.parse($(model)).signature)

  /** The mapping with the single-input shorthand resolved to the signature's input key. */
  private def mapping(m: ShippedModel): Map[String, String] = getInputMapping.map {
    case (TFModelTransformer.SingleInput, col) =>
      val inputs = m.signatures.get(signatureKey).map(_.inputs.map(_.key)).getOrElse(Nil)
      if (inputs.size != 1) {
        throw TFSparkErrors.invalidArgument(
          "setInputCol",
          col,
          s"a single-input signature; ${m.name}:${signatureKey} has inputs ${inputs.mkString(", ")}"
        )
      }
      inputs.head -> col
    case other => other
  }

  override def transform(dataset: Dataset[_]): DataFrame = {
    transformSchema(dataset.schema, logging = true)
    val m = shipped(dataset)
    TFInference.predictDataFrame(
      dataset.toDF(),
      m,
      $(outputCol),
      mapping(m),
      Setting.of(get(batchSize)),
      signatureKey,
      Setting.of(get(nullPolicy).map(NullPolicy.parse(_).get)), // checked when set (asConf)
      Setting.of(get(unitOutputsAsArrays)),
      effectiveOnError(dataset.sparkSession),
      Some(getErrorCol),
      $(rowLabelCols).toSeq,
      Setting.of(get(binaryOutputs).map(_.toSeq))
    )
  }

  // A param the user set wins; one left unset is the session's `spark.tfpredict.*` setting it
  // stands for (read by the DataFrame API), so that a SET of it is never silently ignored. The
  // defaults above (the settings' own) are what `explainParams` and pyspark show; `get`, not `$`,
  // tells a param set from a default.
  private def effectiveOnError(spark: SparkSession): OnError = get(onError).flatMap(OnError.parse).getOrElse(TFSparkConf.onError(spark))

  /** The columns the transformer adds under `spark`'s settings, with the param that names each. */
  private def addedColumns(spark: SparkSession): Seq[(String, String)] =
    Seq("TFModelTransformer.outputCol" -> $(outputCol)) ++
      (if (effectiveOnError(spark).isolates) Seq("TFModelTransformer.errorCol" -> getErrorCol) else Nil)

  /**
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT when outputCol or (with onError=null)
   *   errorCol names an existing column, INVALID_CONFIG for a malformed session setting, and the
   *   binding's errors
   */
  override def transformSchema(schema: StructType): StructType = {
    val spark = SparkSession.active
    DataFramePredictions.checkOutputColumns(
      schema,
      addedColumns(spark),
      spark.conf.get("spark.sql.caseSensitive", "false").toBoolean,
      c => s"a new name (setOutputCol / setErrorCol), or drop column '$c' before the transformer"
    )
    val empty = spark.createDataFrame(spark.sparkContext.emptyRDD[org.apache.spark.sql.Row], schema)
    val m = shipped(empty)
    val (binding, _, _) = DataFramePredictions.bindColumns(
      empty,
      m,
      mapping(m),
      signatureKey,
      Setting.of(get(unitOutputsAsArrays)),
      Setting.of(get(binaryOutputs).map(_.toSeq))
    )
    val scored = schema.add(StructField($(outputCol), binding.resultType, nullable = true))
    if (effectiveOnError(spark).isolates) scored.add(StructField(getErrorCol, TFPredict.ErrorType, nullable = true)) else scored
  }

  override def copy(extra: ParamMap): TFModelTransformer = defaultCopy(extra)
}

object TFModelTransformer extends DefaultParamsReadable[TFModelTransformer] {
  private val SingleInput = "*"
}
