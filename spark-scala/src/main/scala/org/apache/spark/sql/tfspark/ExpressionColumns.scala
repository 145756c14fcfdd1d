package org.apache.spark.sql.tfspark

import org.apache.spark.sql.Column
import org.apache.spark.sql.catalyst.expressions.Expression
import org.apache.spark.sql.classic.ExpressionUtils

/**
 * A [[Column]] from a Catalyst expression: Spark 4's `ExpressionUtils` is `private[sql]`, so
 * tfspark reaches it from this package (the one place for `private[sql]` APIs). Used to build the `tfpredict` column of
 * the DataFrame API, the Transformer and BatchScore.
 */
object ExpressionColumns {
  def column(expression: Expression): Column = ExpressionUtils.column(expression)
}
