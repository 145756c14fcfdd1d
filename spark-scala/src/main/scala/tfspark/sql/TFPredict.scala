package tfspark.sql

import org.apache.spark.TaskContext
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Expression, UnaryExpression}
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.types.DataType

import tfspark.errors.TFSparkErrors
import tfspark.model.{ModelCache, ShippedModel}
import tfspark.conf.NullPolicy
import tfspark.tensor.{BatchRunner, SignatureBinding}

/**
 * `tfpredict(...)`: `model`'s signature applied to one row's `argument` (a struct whose fields
 * feed the inputs by name, or the single input's value).
 *
 * Built by [[TFPredictFunction]], which resolves the model and checks types at analysis time. The
 * type is the single output's (`float` for `[-1,1]`, arrays for wider shapes) or a struct of all
 * outputs. This expression evaluates row by row (one `Session.run` per row on a model loaded once
 * per JVM through [[ModelCache]]); batched execution is the job of the SQL extension.
 *
 * @param nullPolicy `spark.tfpredict.nullPolicy` at analysis, or the API caller's
 * @param batchSize rows per `Session.run` when batched; `None`: `spark.tfpredict.batchSize`
 */
case class TFPredict(
    argument: Expression,
    model: ShippedModel,
    binding: SignatureBinding,
    nullPolicy: NullPolicy,
    batchSize: Option[Int] = None
) extends UnaryExpression
    with CodegenFallback {

  override def child: Expression = argument
  override def prettyName: String = TFPredictFunction.Name
  override def nullable: Boolean = true
  // Never constant-fold: a model runs in tasks, not in the driver's optimizer.
  override def foldable: Boolean = false
  override def dataType: DataType = binding.resultType
  override def toString: String = s"$prettyName(${model.name}/${model.version}:${binding.signature}, $argument)"
  override def sql: String = s"$prettyName('${model.name}:${binding.signature}', ${argument.sql})"

  @transient private lazy val runner =
    new BatchRunner(ModelCache.acquire(model), binding, 1, fillNulls = nullPolicy.fillNulls)
  @transient private var rowsEvaluated = 0L

  override def eval(row: InternalRow): Any = {
    val value = argument.eval(row)
    val position = rowsEvaluated
    rowsEvaluated += 1
    val nullGivesNull = nullPolicy.nullGivesNull
    if (value == null || (nullGivesNull && runner.hasNullInput(value))) {
      if (nullGivesNull) return null
      throw TFSparkErrors.nullInput(
        model.name,
        binding.inputKeys.mkString(", "),
        s"a non-null ${argument.dataType.simpleString}",
        describe(position)
      )
    }
    runner.add(value, describe(position))
    runner.run()(0)
  }

  private def describe(position: Long): String =
    s"input row $position of partition ${Option(TaskContext.get()).map(_.partitionId()).getOrElse(0)}"

  override protected def withNewChildInternal(newChild: Expression): TFPredict = copy(argument = newChild)
}
