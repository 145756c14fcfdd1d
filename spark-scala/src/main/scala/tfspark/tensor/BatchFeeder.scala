package tfspark.tensor

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.types.DataType
import org.tensorflow.Tensor

import tfspark.model.{Composite, TensorSpec}

/**
 * The buffer of one input as the user sees it, for a batch of rows: a dense [[InputFeeder]] (one
 * tensor), or a [[RaggedInputFeeder]] (a ragged argument's `flat_values` and `row_splits`
 * tensors). [[BatchRunner]] drives both the same way. Not thread-safe: one per task.
 */
trait BatchFeeder {

  def spec: TensorSpec

  /** Whether the input has a batch dimension (every shape but `()`). */
  def batched: Boolean

  /** Rows buffered. */
  def size: Int

  def clear(): Unit

  /** Keeps the first `n` rows (at most [[size]]) and drops any part of a row added after them. */
  def truncate(n: Int): Unit

  /**
   * Adds one row's value (not null: the caller applies the null policy to whole rows).
   *
   * @throws tfspark.errors.TFSparkException INPUT_SHAPE_MISMATCH, NULL_INPUT (a null element)
   */
  def add(value: Any, row: => String): Unit

  /** Adds one row's value read from field `ordinal` of `struct` (not null there). */
  def addField(struct: InternalRow, ordinal: Int, row: => String): Unit

  /**
   * Rows `from` until `until` as the signature's input tensors, by signature key. The caller owns
   * and closes them.
   */
  def tensors(from: Int, until: Int): Seq[(String, Tensor)]
}

object BatchFeeder {

  /**
   * Checks at analysis time that `sparkType` can feed `spec`, then creates its feeder.
   *
   * @throws tfspark.errors.TFSparkException INPUT_TYPE_MISMATCH, UNSUPPORTED_SIGNATURE
   */
  def create(model: String, signature: String, spec: TensorSpec, sparkType: DataType, fillNulls: Boolean): BatchFeeder =
    spec.composite match {
      case Some(ragged: Composite.Ragged) => RaggedInputFeeder.create(model, signature, spec, ragged, sparkType, fillNulls)
      case _ => InputFeeder.create(model, signature, spec, sparkType, fillNulls)
    }
}
