package tfspark.model

import org.scalatest.funsuite.AnyFunSuite
import org.tensorflow.ndarray.Shape
import org.tensorflow.types.TString

/** String tensors built in bulk (SMALL layout in one copy, longer strings through TF_TString_Copy) read back exactly. */
class StringTensorsSuite extends AnyFunSuite {

  NativeLibrary.ensureConfigured()

  private def roundTrip(values: Seq[String], shape: Shape): Seq[String] = {
    val bytes = values.map(_.getBytes("UTF-8")).toArray
    val tensor = StringTensors.of(shape, bytes, bytes.length)
    try {
      val back = tensor.asInstanceOf[TString].asBytes()
      (0 until values.size).map { i =>
        val dims = shape.asArray()
        val coords = dims.indices.reverse
          .foldLeft((i.toLong, List.empty[Long])) { case ((rest, acc), d) => (rest / dims(d), (rest % dims(d)) :: acc) }
          ._2
        new String(back.getObject(coords: _*), "UTF-8")
      }
    } finally tensor.close()
  }

  test("the bulk path passes its self-check on this TF build") {
    assert(StringTensors.selfCheckFailure() === None)
    assert(StringTensors.bulkPathWorks)
  }

  test("short, empty, non-ASCII, 22-, 23- and 300-byte strings round-trip, in 1-d and 2-d tensors") {
    val values = Seq("", "a", "female", "S", "C85", "ünïcödé ✓", "x" * 22, "y" * 23, "z" * 300, "tail")
    assert(roundTrip(values, Shape.of(values.size.toLong)) === values)
    val grid = values.take(6)
    assert(roundTrip(grid, Shape.of(2L, 3L)) === grid)
  }
}
