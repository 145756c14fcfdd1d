package tfspark

import org.apache.spark.sql.{DataFrame, Row, SparkSession}
import org.apache.spark.sql.types._
import org.scalatest.Assertions._

/**
 * Golden cases as Spark data: each case's inputs become a DataFrame (an `id` column plus one
 * column per input, in the Spark type that naturally feeds it), and results read back from Spark
 * are compared with the golden outputs.
 */
object GoldenRows {

  /** The Spark type that naturally feeds a dtype: the narrowest that holds every value of it. */
  private def leafType(t: GoldenVectors.Tensor): DataType = t.dtype match {
    case "float32" | "float16" | "bfloat16" => FloatType
    case "float64" => DoubleType
    case "int32" => IntegerType
    case "int64" => LongType
    // issue 17: the other numeric dtypes, in the Spark types they decode to (docs/dtypes.md)
    case "int8" => ByteType
    case "uint8" | "int16" => ShortType
    case "uint16" => IntegerType
    case "uint32" => LongType
    case "uint64" => DecimalType(20, 0)
    case "float16" | "bfloat16" => FloatType
    case "bool" => BooleanType
    case "string" if t.encoding == "base64" => BinaryType
    case "string" => StringType
  }

  private def sparkType(t: GoldenVectors.Tensor): DataType =
    t.shape.drop(1).foldLeft(leafType(t))((inner, _) => ArrayType(inner, containsNull = false))

  private def leaves(t: GoldenVectors.Tensor): IndexedSeq[Any] = t.dtype match {
    case "float32" | "float16" | "bfloat16" => t.floats.toIndexedSeq
    case "float64" => t.doubles.toIndexedSeq
    case "int32" => t.longs.map(_.toInt).toIndexedSeq
    case "int64" => t.longs.toIndexedSeq
    case "int8" => t.longs.map(_.toByte).toIndexedSeq
    case "uint8" | "int16" => t.longs.map(_.toShort).toIndexedSeq
    case "uint16" => t.longs.map(_.toInt).toIndexedSeq
    case "uint32" => t.longs.toIndexedSeq
    case "uint64" => t.bigInts.map(b => new java.math.BigDecimal(b.bigInteger)).toIndexedSeq
    case "float16" | "bfloat16" => t.floats.toIndexedSeq
    case "bool" => t.booleans.toIndexedSeq
    case "string" if t.encoding == "base64" => t.bytes.toIndexedSeq
    case "string" => t.bytes.map(new String(_, "UTF-8")).toIndexedSeq
  }

  /**
   * Row `r` of tensor `t` as a Scala value: a leaf, or nested `Seq`s (of varying lengths along a
   * ragged tensor's ragged dimensions). A scalar-shaped tensor feeds every row.
   */
  private def rowValue(t: GoldenVectors.Tensor, r: Int): Any = {
    val all = leaves(t)
    if (t.shape.isEmpty) return all(0)
    val uniform = t.shape.drop(1 + t.rowSplits.size)
    def nest(offset: Int, dims: Seq[Int]): Any =
      if (dims.isEmpty) all(offset) else (0 until dims.head).map(i => nest(offset + i * dims.tail.product, dims.tail))
    // ragged dimension `level` (0: outermost) of row `i` of that level: its rows, then the uniform ones
    def ragged(level: Int, i: Int): Any =
      if (level == t.rowSplits.size) nest(i * uniform.product, uniform)
      else (t.rowSplits(level)(i) until t.rowSplits(level)(i + 1)).map(ragged(level + 1, _))
    if (t.rowSplits.nonEmpty) ragged(0, r) else nest(r * t.shape.tail.product, t.shape.tail)
  }

  /** Rows of a case: the batch dimension of its batched inputs, or 1 when every input is a scalar. */
  def rowCount(c: GoldenVectors.Case): Int = c.inputs.values.find(_.shape.nonEmpty).map(_.shape.head).getOrElse(1)

  /** The case's inputs as a DataFrame with an `id` column, inputs sorted by key, in `partitions`. */
  def dataFrame(spark: SparkSession, c: GoldenVectors.Case, partitions: Int): DataFrame = {
    val keys = c.inputs.keys.toSeq.sorted
    val schema = StructType(StructField("id", IntegerType) +: keys.map(k => StructField(k, sparkType(c.inputs(k)))))
    val rows = (0 until rowCount(c)).map(r => Row.fromSeq(r +: keys.map(k => rowValue(c.inputs(k), r))))
    spark.createDataFrame(spark.sparkContext.parallelize(rows, partitions), schema)
  }

  /** The case's inputs as the `Map` rows of `TFInference.predictMaps`. */
  def maps(c: GoldenVectors.Case): Seq[Map[String, Any]] =
    (0 until rowCount(c)).map(r => c.inputs.map { case (k, t) => k -> rowValue(t, r) })

  private def flatten(v: Any): Seq[Any] = v match {
    case s: scala.collection.Seq[_] => s.toSeq.flatMap(flatten)
    case other => Seq(other)
  }

  /**
   * Compares each row's result (a value, or a `Row`/`Map` of outputs) with the golden outputs;
   * returns the max |diff| of float outputs.
   */
  def compare(golden: GoldenVectors.File, c: GoldenVectors.Case, results: Seq[Any]): Double = {
    assert(results.size === rowCount(c), s"case ${c.name}: row count")
    var worst = 0.0
    for ((key, want) <- c.outputs) {
      val got = results.flatMap {
        case r: Row => flatten(r.getAs[Any](key))
        case m: Map[_, _] => flatten(m.asInstanceOf[Map[String, Any]](key))
        case single if c.outputs.size == 1 => flatten(single)
        case other => fail(s"case ${c.name}: a result of several outputs is $other")
      }
      assert(got.size === want.data.size, s"case ${c.name} output $key: value count")
      want.dtype match {
        case "float32" | "float64" | "float16" | "bfloat16" =>
          val expected = want.doubles
          got.zipWithIndex.foreach { case (g, i) =>
            val value = g.asInstanceOf[Number].doubleValue()
            assert(
              golden.withinTolerance(expected(i).toFloat, value.toFloat),
              s"case ${c.name} output $key[$i]: expected ${expected(i)}, got $value"
            )
            if (!value.isNaN && value != expected(i)) worst = worst max math.abs(value - expected(i)) // equal infinities: 0
          }
        case "uint64" =>
          assert(
            got.map(g => BigInt(new java.math.BigDecimal(g.toString).toBigIntegerExact)) === want.bigInts.toSeq,
            s"case ${c.name} output $key"
          )
        case "string" =>
          // a binary output (named in binaryOutputs) comes back as its bytes, a string output as text
          val bytes = got.map {
            case b: Array[Byte] => b.toSeq
            case s => s.toString.getBytes("UTF-8").toSeq
          }
          assert(bytes === want.bytes.map(_.toSeq).toSeq, s"case ${c.name} output $key")
        case _ => assert(got.map(_.asInstanceOf[Number].longValue()) === want.longs.toSeq, s"case ${c.name} output $key")
      }
    }
    worst
  }
}
