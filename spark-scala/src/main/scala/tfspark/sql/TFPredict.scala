package tfspark.sql

import org.apache.spark.TaskContext
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Expression, UnaryExpression}
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.catalyst.util.{ArrayData, GenericArrayData}
import org.apache.spark.sql.types.{ArrayType, DataType, FloatType}

import tfspark.errors.TFSparkErrors
import tfspark.model.{ModelCache, ShippedModel}
import tfspark.tensor.{DenseFloatBinding, FloatBatchRunner, FloatMatrixBatcher}

/**
 * `tfpredict(...)`: the prediction of `model`'s signature for the `input` array of one row.
 *
 * Built by [[TFPredictFunction]], which resolves the model and checks types at analysis time.
 * Its type comes from the signature: `float` for a `[-1,1]` output, else `array<float>`.
 * This expression evaluates row by row (one `Session.run` per row, on a model loaded once per
 * JVM through [[ModelCache]]); batched execution is the job of the SQL extension.
 *
 * @param nullIsError `spark.tfpredict.nullPolicy` at analysis: fail on a null input, or return null
 */
case class TFPredict(input: Expression, model: ShippedModel, binding: DenseFloatBinding, nullIsError: Boolean)
    extends UnaryExpression
    with CodegenFallback {

  override def child: Expression = input
  override def prettyName: String = TFPredictFunction.Name
  override def nullable: Boolean = !nullIsError || input.nullable
  override def dataType: DataType = if (binding.scalarOutput) FloatType else ArrayType(FloatType, containsNull = false)
  override def toString: String = s"$prettyName(${model.name}/${model.version}:${binding.signature}, $input)"
  override def sql: String = s"$prettyName('${model.name}:${binding.signature}', ${input.sql})"

  private val elementType: DataType = input.dataType.asInstanceOf[ArrayType].elementType

  @transient private lazy val runner = new FloatBatchRunner(ModelCache.acquire(model), binding)
  @transient private lazy val batcher = new FloatMatrixBatcher(binding, 1)
  @transient private var rowsEvaluated = 0L

  override def eval(row: InternalRow): Any = {
    val value = input.eval(row)
    val position = rowsEvaluated
    rowsEvaluated += 1
    if (value == null) {
      if (nullIsError) {
        throw TFSparkErrors.nullInput(model.name, binding.inputKey, s"an array of ${binding.width} numbers", describe(position))
      }
      return null
    }
    batcher.clear()
    batcher.add(value.asInstanceOf[ArrayData], elementType, describe(position))
    val out = runner.run(batcher)
    if (binding.scalarOutput) out(0) else new GenericArrayData(out)
  }

  private def describe(position: Long): String =
    s"input row $position of partition ${Option(TaskContext.get()).map(_.partitionId()).getOrElse(0)}"

  override protected def withNewChildInternal(newChild: Expression): TFPredict = copy(input = newChild)
}
