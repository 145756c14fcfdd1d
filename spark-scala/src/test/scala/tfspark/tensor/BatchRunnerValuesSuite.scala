package tfspark.tensor

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection
import org.apache.spark.sql.types.{DataType, StringType}
import org.apache.spark.unsafe.types.UTF8String
import org.scalatest.funsuite.AnyFunSuite

/** The scalar value that keeps a segment open must not change when the upstream row is reused. */
class BatchRunnerValuesSuite extends AnyFunSuite {

  test("a string read from a reused UnsafeRow is copied before it is kept for the segment") {
    val project = UnsafeProjection.create(Array[DataType](StringType))
    val first = project(InternalRow(UTF8String.fromString("threshold-a"))).getUTF8String(0)
    val kept = BatchRunner.owned(first)
    project(InternalRow(UTF8String.fromString("threshold-b"))) // the projection reuses its row's buffer
    assert(first.toString === "threshold-b", "the reference into the reused row sees the next row")
    assert(kept.toString === "threshold-a")
    assert(!BatchRunner.sameValue(kept, project(InternalRow(UTF8String.fromString("threshold-c"))).getUTF8String(0)))
  }
}
