package tfspark.sql

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Expression, UnaryExpression}
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.types.{DataType, StringType, StructField, StructType}

import tfspark.conf.{NullPolicy, OnError}
import tfspark.model.{ModelCache, ShippedModel}
import tfspark.tensor.{BatchRunner, BatchingIterator, SignatureBinding, ValueText}

/**
 * `tfpredict(...)`: `model`'s signature applied to one row's `argument` (a struct whose fields
 * feed the inputs by name, or the single input's value).
 *
 * Built by [[TFPredictFunction]], which resolves the model and checks types at analysis time. The
 * type is the single output's (`float` for `[-1,1]`, arrays for wider shapes) or a struct of all
 * outputs. This expression evaluates row by row (one `Session.run` per row on a model loaded once
 * per JVM through [[ModelCache]], through [[BatchingIterator]] with a batch of one); batched
 * execution is the job of the SQL extension.
 *
 * With `onError=null` the type is `struct<result: T, error: struct<errorClass, message>>`: a row
 * the model cannot score gets a null `result` and its error; the others a null `error`.
 *
 * @param nullPolicy `spark.tfpredict.nullPolicy` at analysis, or the API caller's
 * @param batchSize rows per `Session.run` when batched; `None`: `spark.tfpredict.batchSize`
 * @param onError `spark.tfpredict.onError` at analysis, or the API caller's
 * @param rowLabel columns that name a row in errors; empty: `spark.tfpredict.rowLabel`
 */
case class TFPredict(
    argument: Expression,
    model: ShippedModel,
    binding: SignatureBinding,
    nullPolicy: NullPolicy,
    batchSize: Option[Int] = None,
    onError: OnError = OnError.Fail,
    rowLabel: Seq[String] = Nil
) extends UnaryExpression
    with CodegenFallback {

  override def child: Expression = argument
  override def prettyName: String = TFPredictFunction.Name
  override def nullable: Boolean = true
  // Never constant-fold: a model runs in tasks, not in the driver's optimizer.
  override def foldable: Boolean = false
  override def dataType: DataType = if (onError.isolates) TFPredict.withErrorType(binding.resultType) else binding.resultType
  override def toString: String = s"$prettyName(${model.name}/${model.version}:${binding.signature}, $argument)"
  override def sql: String = s"$prettyName('${model.name}:${binding.signature}', ${argument.sql})"

  /**
   * The row-by-row path runs each row through the one batching loop, as a batch of one: the null
   * and error policies are [[BatchingIterator]]'s, not restated here.
   */
  @transient private lazy val call = BatchingIterator.Call[Any](
    new BatchRunner(ModelCache.acquire(model), binding, 1, fillNulls = nullPolicy.fillNulls),
    identity,
    nullPolicy,
    s"a non-null ${argument.dataType.simpleString}",
    onError
  )

  /** One row's result, one `Session.run`. @throws tfspark.errors.TFSparkException for a row it cannot score */
  override def eval(row: InternalRow): Any =
    new BatchingIterator[Any, Any](
      Iterator.single(argument.eval(row)),
      IndexedSeq(call),
      capacity = 1,
      keep = identity, // emitted before the row is read again
      emit = (_, results) => results(0),
      label = (value, _) => describe(value)
    ).next()

  /** The row, by its argument (this path sees no column names). */
  private def describe(value: Any): String = s"the row whose argument is ${ValueText.of(value, argument.dataType)}"

  override protected def withNewChildInternal(newChild: Expression): TFPredict = copy(argument = newChild)
}

object TFPredict {

  /** What each row's error is under `onError=null`. */
  val ErrorType: StructType = StructType(Seq(StructField("errorClass", StringType), StructField("message", StringType)))

  /** The type of `tfpredict` under `onError=null`: the result beside its error. */
  def withErrorType(resultType: DataType): StructType =
    StructType(Seq(StructField("result", resultType), StructField("error", ErrorType)))
}
