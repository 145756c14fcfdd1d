package tfspark.tensor

import org.apache.spark.sql.catalyst.util.GenericArrayData
import org.apache.spark.sql.types.{ArrayType, FloatType}
import org.scalatest.funsuite.AnyFunSuite
import org.tensorflow.Tensor

import tfspark.ErrorChecks
import tfspark.model.{Composite, TFDType, TensorSpec}

/**
 * [[RaggedInputFeeder]] without a model: the components it builds for any range of rows (what
 * [[BatchRunner]] asks for when it bisects a failed batch), and a rejected row leaving nothing.
 */
class RaggedInputFeederSuite extends AnyFunSuite with ErrorChecks {

  private val spec =
    TensorSpec("x", TFDType.Float32, Some(Seq(-1L, -1L, -1L)), Some(Composite.Ragged(2, TFDType.Int32, Seq("x", "x_1", "x_2"))))

  private def array(values: Any*): GenericArrayData = new GenericArrayData(values.toArray)

  /** ragged_rank 2 rows: [[1,2],[],[3]], [], [[4,5,6]], [[],[]] */
  private val rows = Seq(
    array(array(1f, 2f), array(), array(3f)),
    array(),
    array(array(4f, 5f, 6f)),
    array(array(), array())
  )

  private def read(tensors: Seq[(String, Tensor)]): Map[String, Seq[Any]] =
    try
      tensors.map { case (k, t) =>
        val n = t.shape().size().toInt
        val data = t.asRawTensor().data()
        k -> (if (k == "x") { val a = new Array[Float](n); data.asFloats().read(a); a.toSeq }
              else { val a = new Array[Int](n); data.asInts().read(a); a.toSeq })
      }.toMap
    finally tensors.foreach(_._2.close())

  private def feeder(elementsNullable: Boolean = false): BatchFeeder =
    BatchFeeder.create(
      "m",
      "serving_default",
      spec,
      ArrayType(ArrayType(FloatType, elementsNullable), containsNull = false),
      fillNulls = false
    )

  test("flat_values and row_splits (outermost first) for the whole batch and for any range of rows") {
    val f = feeder()
    rows.foreach(r => f.add(r, "row"))
    assert(f.size === 4)
    assert(
      read(f.tensors(0, 4)) === Map("x" -> Seq(1f, 2f, 3f, 4f, 5f, 6f), "x_1" -> Seq(0, 3, 3, 4, 6), "x_2" -> Seq(0, 2, 2, 3, 6, 6, 6))
    )
    assert(read(f.tensors(1, 3)) === Map("x" -> Seq(4f, 5f, 6f), "x_1" -> Seq(0, 0, 1), "x_2" -> Seq(0, 3)))
    assert(read(f.tensors(3, 4)) === Map("x" -> Nil, "x_1" -> Seq(0, 2), "x_2" -> Seq(0, 0, 0)))
    f.truncate(1)
    assert(read(f.tensors(0, 1)) === Map("x" -> Seq(1f, 2f, 3f), "x_1" -> Seq(0, 3), "x_2" -> Seq(0, 2, 2, 3)))
  }

  test("a rejected row (a null element) is NULL_INPUT naming the row and element, and leaves the batch as it was") {
    val f = feeder(elementsNullable = true)
    f.add(rows.head, "row 0")
    val e = checkError("NULL_INPUT", Map("input" -> "x"))(f.add(array(array(7f), array(8f, null)), "row 1"))
    assert(e.getMessage.contains("row 1, element 1.1"), e.getMessage)
    assert(f.size === 1)
    f.add(rows(2), "row 2")
    assert(read(f.tensors(0, 2)) === Map("x" -> Seq(1f, 2f, 3f, 4f, 5f, 6f), "x_1" -> Seq(0, 3, 4), "x_2" -> Seq(0, 2, 2, 3, 6)))
  }

  test("a column that is not nested deep enough is INPUT_TYPE_MISMATCH at analysis") {
    checkError("INPUT_TYPE_MISMATCH", Map("input" -> "x")) {
      BatchFeeder.create("m", "serving_default", spec, ArrayType(FloatType, containsNull = false), fillNulls = false)
    }
  }
}
