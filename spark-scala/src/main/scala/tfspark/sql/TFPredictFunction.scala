package tfspark.sql

import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.catalyst.FunctionIdentifier
import org.apache.spark.sql.catalyst.expressions.{CreateNamedStruct, CreateStruct, Expression, ExpressionInfo}
import org.apache.spark.sql.internal.SQLConf
import org.apache.spark.sql.types.StringType

import tfspark.conf.TFSparkConf
import tfspark.errors.TFSparkErrors
import tfspark.model.{ModelReference, ModelSource, ShippedModel, SignatureSpec}
import tfspark.tensor.{BatchLimits, SignatureBinding}

/**
 * Builds [[TFPredict]] from SQL arguments at analysis time:
 *  - `tfpredict(features)` uses `spark.tfpredict.defaultModel`;
 *  - `tfpredict('name', features)`, `tfpredict('name@version', ...)`, `tfpredict('name:signature', ...)`
 *    and `tfpredict('name@version:signature', ...)` name the model ([[ModelReference]]); without a
 *    version, the highest version present when the query is analysed;
 *  - the argument is a struct whose fields feed the inputs by name (`struct(*)`), or the value of a
 *    single-input signature; several columns after the model, `tfpredict('m', usage, plan)`, are a
 *    struct of them (`struct(usage, plan)`), as in pyspark's `tfpredict("m", "usage", "plan")`;
 *  - string outputs named in `spark.tfpredict.binaryOutputs` are `binary`, the others UTF-8-checked `string`.
 * Models come only from the configured repository (`spark.tfpredict.repository`), by name.
 */
object TFPredictFunction {
  val Name = "tfpredict"
  val DefaultSignature: String = ModelReference.DefaultSignature

  val info: ExpressionInfo = new ExpressionInfo(
    classOf[TFPredict].getName,
    null,
    Name,
    "_FUNC_([model[@version][:signature],] input) - Runs a TensorFlow SavedModel signature on `input` (the value of " +
      "its single input, or a struct whose fields feed its inputs by name) and returns its output, typed from the signature. " +
      "_FUNC_(model, col1, col2, ...) feeds struct(col1, col2, ...).",
    "", // arguments
    "", // examples
    "", // note
    "misc_funcs",
    tfspark.Versions.tfspark, // since
    "", // deprecated
    "scala_udf"
  )

  val identifier: FunctionIdentifier = FunctionIdentifier(Name)

  /**
   * @throws tfspark.errors.TFSparkException DEFAULT_MODEL_NOT_SET, INVALID_ARGUMENT,
   *   MODEL_NOT_FOUND, MODEL_VERSION_NOT_FOUND, MODEL_LOAD_FAILED, SIGNATURE_NOT_FOUND,
   *   UNSUPPORTED_SIGNATURE, INPUT_TYPE_MISMATCH, INVALID_CONFIG
   */
  def build(args: Seq[Expression]): Expression = {
    TFSparkConf.validate(SparkSession.active)
    val (spec, features) = args match {
      case Seq() =>
        throw TFSparkErrors.invalidArgument(
          s"the arguments of $Name",
          "none",
          "(features), ('model', features) or ('model', col1, col2, ...)"
        )
      case Seq(f) =>
        (TFSparkConf.defaultModel().getOrElse(throw TFSparkErrors.defaultModelNotSet(TFSparkConf.DefaultModel, f.sql)), f)
      case m +: _ if !(m.foldable && m.dataType == StringType && m.eval() != null) =>
        throw TFSparkErrors.invalidArgument(s"the first argument of $Name", m.sql, "a string literal naming a model")
      case Seq(m, f) => (m.eval().toString, f)
      // Several columns after the model: a struct of them, fed by name, as pyspark's tfpredict("m", "a", "b").
      case m +: columns => (m.eval().toString, CreateStruct(columns))
    }
    val reference = ModelReference.parse(spec)
    val (name, signature) = (reference.name, reference.signature)
    val location = ModelSource.resolve(reference, TFSparkConf.repository())
    val shipped = ShippedModel.ship(SparkSession.active.sparkContext, location, TFSparkConf.precision(SQLConf.get))
    val sig = SignatureSpec.find(name, shipped.signatures, signature)
    val conf = SQLConf.get
    val binaryOutputs = TFSparkConf.binaryOutputsOf(name, conf)
    val (unknown, expected) = SignatureBinding.unknownBinaryOutputs(sig, binaryOutputs)
    if (unknown.nonEmpty) {
      throw TFSparkErrors.invalidConfig(TFSparkConf.BinaryOutputs, binaryOutputs.mkString(","), s"for model $name: $expected")
    }
    val binding =
      SignatureBinding.bind(
        name,
        sig,
        features.dataType,
        conf.caseSensitiveAnalysis,
        TFSparkConf.strictInputs(conf),
        TFSparkConf.unitOutputsAsArrays(conf),
        binaryOutputs = binaryOutputs,
        probe = Some(shipped)
      )
    val (argument, finalBinding) = usedFieldsOnly(features, binding)
    BatchLimits.check(TFSparkConf.batchSize(conf), Some(finalBinding), TFSparkConf.BatchSize, isConfig = true)
    TFPredict(argument, shipped, finalBinding, TFSparkConf.nullPolicy(conf), onError = TFSparkConf.onError(conf))
  }

  /**
   * `struct(*)` over a wide table names every column, but the model takes a few: the struct is cut
   * to the fields that feed an input ([[SignatureBinding.usedFieldsOnly]]), so the others are never
   * read for the model (and column pruning can drop them from the scan).
   */
  private def usedFieldsOnly(features: Expression, binding: SignatureBinding): (Expression, SignatureBinding) = features match {
    case struct: CreateNamedStruct =>
      binding.usedFieldsOnly match {
        case Some((projected, used)) if !(projected eq binding) =>
          (CreateNamedStruct(used.flatMap(i => Seq(struct.nameExprs(i), struct.valExprs(i)))), projected)
        case _ => (features, binding)
      }
    case _ => (features, binding)
  }
}
