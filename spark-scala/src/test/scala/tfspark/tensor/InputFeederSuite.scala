package tfspark.tensor

import org.apache.spark.sql.catalyst.expressions.{GenericInternalRow, UnsafeArrayData}
import org.apache.spark.sql.catalyst.util.GenericArrayData
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String
import org.scalatest.funsuite.AnyFunSuite
import org.tensorflow.Tensor
import org.tensorflow.types.{TFloat32, TInt64, TString}

import tfspark.ErrorChecks
import tfspark.model.{NativeLibrary, TFDType, TensorSpec}

/** Spark values into one input's batch tensor: shapes, conversions, the fast paths and the errors. */
class InputFeederSuite extends AnyFunSuite with ErrorChecks {

  NativeLibrary.ensureConfigured()

  private def feeder(dtype: TFDType, shape: Option[Seq[Long]], sparkType: DataType, fill: Boolean = false) =
    InputFeeder.create("m", "serving_default", TensorSpec("x", dtype, shape), sparkType, fillNulls = fill)

  private def floats(t: Tensor): Seq[Float] = {
    val a = new Array[Float](t.shape().size().toInt); t.asRawTensor().data().asFloats().read(a); a.toSeq
  }

  test("float arrays: Catalyst arrays and primitive arrays fill the same [rows, k] tensor") {
    val viaCatalyst = feeder(TFDType.Float32, Some(Seq(-1L, 2L)), ArrayType(FloatType, containsNull = false))
    val viaPrimitive = feeder(TFDType.Float32, Some(Seq(-1L, 2L)), ArrayType(FloatType, containsNull = false))
    Seq(Array(1f, 2f), Array(3f, 4f)).foreach { a =>
      viaCatalyst.add(UnsafeArrayData.fromPrimitiveArray(a), "row")
      viaPrimitive.add(a, "row")
    }
    val (t1, t2) = (viaCatalyst.toTensor(), viaPrimitive.toTensor())
    try {
      assert(t1.shape().asArray().toSeq === Seq(2L, 2L))
      assert(floats(t1) === Seq(1f, 2f, 3f, 4f) && floats(t2) === floats(t1))
    } finally { t1.close(); t2.close() }
  }

  test("a row of the wrong width is INPUT_SHAPE_MISMATCH naming the row, from either path") {
    val f = feeder(TFDType.Float32, Some(Seq(-1L, 2L)), ArrayType(FloatType, containsNull = false))
    checkError("INPUT_SHAPE_MISMATCH", Map("expected" -> "2", "got" -> "3", "row" -> "row 7"))(f.add(Array(1f, 2f, 3f), "row 7"))
    checkError("INPUT_SHAPE_MISMATCH", Map("got" -> "1"))(f.add(UnsafeArrayData.fromPrimitiveArray(Array(1f)), "row 8"))
  }

  test("a variable dimension takes the first row's size; the batch's other rows must agree") {
    val f = feeder(TFDType.Float32, Some(Seq(-1L, -1L)), ArrayType(FloatType, containsNull = false))
    f.add(Array(1f, 2f, 3f), "row 0")
    checkError("INPUT_SHAPE_MISMATCH", Map("expected" -> "3", "got" -> "2"))(f.add(Array(1f, 2f), "row 1"))
  }

  test("numbers widen to the input's dtype: int and decimal to float32, int to int64") {
    val f = feeder(TFDType.Float32, Some(Seq(-1L)), DecimalType(10, 2))
    f.add(Decimal(1.25), "r")
    val i = feeder(TFDType.Int64, Some(Seq(-1L)), IntegerType)
    i.add(7, "r")
    val (tf, ti) = (f.toTensor(), i.toTensor())
    try {
      assert(floats(tf) === Seq(1.25f))
      assert(ti.asInstanceOf[TInt64].getLong(0) === 7L)
    } finally { tf.close(); ti.close() }
  }

  test("struct fields are read with typed getters, equal to the boxed path") {
    val struct = new GenericInternalRow(Array[Any](2.5d, UTF8String.fromString("male")))
    val d = feeder(TFDType.Float32, Some(Seq(-1L)), DoubleType)
    d.addField(struct, 0, "r")
    d.add(2.5d, "r")
    val s = feeder(TFDType.String, Some(Seq(-1L)), StringType)
    s.addField(struct, 1, "r")
    val (td, ts) = (d.toTensor(), s.toTensor())
    try {
      assert(floats(td) === Seq(2.5f, 2.5f))
      assert(new String(ts.asInstanceOf[TString].asBytes().getObject(0L), "UTF-8") === "male")
    } finally { td.close(); ts.close() }
  }

  test("plain Scala values (predictMaps): bytes and text for strings, alone, in arrays and in structs, feed the same bytes") {
    val notUtf8 = Array[Byte](-1, 0, 'a')
    def strings(t: Tensor): Seq[Seq[Byte]] = {
      val n = t.shape().size()
      (0L until n).map(i => t.asInstanceOf[TString].asBytes().getObject(i / t.shape().size(1), i % t.shape().size(1)).toSeq)
    }
    val arrayType = ArrayType(StringType, containsNull = false)
    val asArray = feeder(TFDType.String, Some(Seq(-1L, 2L)), arrayType)
    asArray.add(ExternalValues.toCatalyst("m", "x", Seq(notUtf8, "café".getBytes("UTF-8")), arrayType), "row 0")
    asArray.add(ExternalValues.toCatalyst("m", "x", Array("b", "c"), arrayType), "row 1")
    val struct = new GenericInternalRow(
      Array[Any](ExternalValues.toCatalyst("m", "x", notUtf8, StringType), ExternalValues.toCatalyst("m", "x", "café", StringType))
    )
    val fields = feeder(TFDType.String, Some(Seq(-1L, 1L)), StringType)
    fields.addField(struct, 0, "row 0")
    fields.addField(struct, 1, "row 1")
    val (ta, tf) = (asArray.toTensor(), fields.toTensor())
    try {
      val cafe = "café".getBytes("UTF-8").toSeq
      assert(strings(ta) === Seq(notUtf8.toSeq, cafe, "b".getBytes.toSeq, "c".getBytes.toSeq))
      assert(strings(tf) === Seq(notUtf8.toSeq, cafe))
    } finally { ta.close(); tf.close() }
  }

  test("a scalar-shaped input builds a scalar tensor from one row; fill turns a null into NaN") {
    val f = feeder(TFDType.Float32, Some(Seq.empty), FloatType, fill = true)
    assert(!f.batched)
    f.add(null, "r")
    val t = f.toTensor()
    try {
      assert(t.shape().numDimensions() === 0)
      assert(t.asInstanceOf[TFloat32].getFloat().isNaN)
    } finally t.close()
  }

  test("type and rank errors are INPUT_TYPE_MISMATCH at creation; unknown dtypes are UNSUPPORTED_SIGNATURE") {
    checkError("INPUT_TYPE_MISMATCH", Map("input" -> "x", "got" -> "string"))(feeder(TFDType.Float32, Some(Seq(-1L)), StringType))
    checkError("INPUT_TYPE_MISMATCH", Map("got" -> "array<float>"))(feeder(TFDType.Float32, Some(Seq.empty), ArrayType(FloatType)))
    checkError("UNSUPPORTED_SIGNATURE", Map("reason" -> "input x is complex64"))(feeder(TFDType("complex64"), Some(Seq(-1L)), IntegerType))
    // issue 17: uint8 is served now (DTypesSuite), but not from a string column
    checkError("INPUT_TYPE_MISMATCH", Map("got" -> "string"))(feeder(TFDType.Uint8, Some(Seq(-1L)), StringType))
  }

  test("a null element inside an array is NULL_INPUT naming the element") {
    val f = feeder(TFDType.Float32, Some(Seq(-1L, 2L)), ArrayType(FloatType, containsNull = true))
    checkError("NULL_INPUT", Map("row" -> "row 3, element 1"))(f.add(new GenericArrayData(Array[Any](1f, null)), "row 3"))
  }

  test("a failed add is truncated away, and any range of rows becomes its own tensor") {
    // [-1,2,2]: the second inner array of the third row has the wrong width, after its first went in.
    val f = feeder(TFDType.Float32, Some(Seq(-1L, 2L, 2L)), ArrayType(ArrayType(FloatType, containsNull = false), containsNull = false))
    def row(a: Float*) = new GenericArrayData(a.grouped(2).map(p => new GenericArrayData(p.toArray[Any])).toArray[Any])
    f.add(row(1f, 2f, 3f, 4f), "row 0")
    f.add(row(5f, 6f, 7f, 8f), "row 1")
    val bad = new GenericArrayData(Array[Any](new GenericArrayData(Array[Any](9f, 9f)), new GenericArrayData(Array[Any](9f))))
    checkError("INPUT_SHAPE_MISMATCH", Map("row" -> "row 2", "dim" -> "2"))(f.add(bad, "row 2"))
    f.truncate(2)
    f.add(row(10f, 11f, 12f, 13f), "row 3")
    val (all, middle) = (f.toTensor(), f.toTensor(1, 3))
    try {
      assert(all.shape().asArray().toSeq === Seq(3L, 2L, 2L))
      assert(floats(all) === Seq(1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 10f, 11f, 12f, 13f), "no trace of the failed row")
      assert(middle.shape().asArray().toSeq === Seq(2L, 2L, 2L) && floats(middle) === Seq(5f, 6f, 7f, 8f, 10f, 11f, 12f, 13f))
    } finally { all.close(); middle.close() }
    f.truncate(0)
    f.add(row(1f, 1f, 1f, 1f), "row 4")
    assert(f.size === 1)
  }

  test("fill feeds NaN for a null float element and \"\" for a null string element; ints still fail") {
    val f = feeder(TFDType.Float32, Some(Seq(-1L, 3L)), ArrayType(FloatType, containsNull = true), fill = true)
    f.add(new GenericArrayData(Array[Any](1f, null, 3f)), "row 0")
    val t = f.toTensor()
    try {
      val got = floats(t)
      assert(got(0) === 1f && got(1).isNaN && got(2) === 3f)
    } finally t.close()
    val s = feeder(TFDType.String, Some(Seq(-1L, 2L)), ArrayType(StringType, containsNull = true), fill = true)
    s.add(new GenericArrayData(Array[Any](UTF8String.fromString("a"), null)), "row 0")
    val st = s.toTensor()
    try assert(st.asInstanceOf[TString].asBytes().getObject(0L, 1L).isEmpty)
    finally st.close()
    val i = feeder(TFDType.Int64, Some(Seq(-1L, 2L)), ArrayType(LongType, containsNull = true), fill = true)
    checkError("NULL_INPUT", Map("row" -> "row 0, element 1"))(i.add(new GenericArrayData(Array[Any](1L, null)), "row 0"))
  }
}
