package tfspark.model

import scala.jdk.CollectionConverters._

import org.scalatest.funsuite.AnyFunSuite
import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.{TFloat32, TInt64, TString}

import tfspark.{GoldenVectors, TestModels}

/**
 * The bulk string path (SMALL elements in one copy, long ones through `TF_TString_Copy`) builds
 * the same tensors as TF Java's `TString.tensorOfBytes`: element by element, bit for bit, and
 * the string-input models (Titanic, IMDB) give the same outputs from either.
 */
class StringTensorsBulkSuite extends AnyFunSuite {

  NativeLibrary.ensureConfigured()

  private val ElementBytes = 24

  /** Short, empty, 22/23-byte, long, non-ASCII and (unless `binary` is false) binary strings with NULs, by `seed`. */
  private def mixed(n: Int, seed: Long, binary: Boolean = true): Array[Array[Byte]] = {
    val random = new scala.util.Random(seed)
    Array.tabulate(n) { i =>
      val kind = (i + random.nextInt(9)) % 9
      (if (!binary && (kind == 6 || kind == 7)) 4 else kind) match {
        case 0 => Array.emptyByteArray
        case 1 => "S".getBytes("UTF-8")
        case 2 => ("x" * 22).getBytes("UTF-8")
        case 3 => ("y" * 23).getBytes("UTF-8")
        case 4 => Array.fill(24 + random.nextInt(300))(random.nextPrintableChar()).mkString.getBytes("UTF-8")
        case 5 => ("ünïcödé ✓ " * (1 + random.nextInt(12))).getBytes("UTF-8")
        case 6 => Array.fill(1 + random.nextInt(60))(random.nextInt(256).toByte).updated(0, 0.toByte) // binary, NUL first
        case 7 => Array.fill(3000 + random.nextInt(3000))(random.nextInt(256).toByte)
        case _ => s"Braund, Mr. Owen Harris #$i".getBytes("UTF-8")
      }
    }
  }

  private def elementBytes(t: Tensor): Array[Byte] = if (t.shape().size() == 0) Array.emptyByteArray
  else {
    val raw = t.asRawTensor().data()
    val out = new Array[Byte](raw.size().toInt)
    raw.read(out)
    out
  }

  /**
   * The two tensors hold the same strings (read back through TF Java), and the same element bytes:
   * a SMALL element's 24 bytes; a LARGE element's size-and-type and capacity words (its third word
   * is the address of its own copy of the bytes).
   */
  private def assertSameElements(bulk: Tensor, reference: Tensor, values: Array[Array[Byte]], from: Int): Unit = {
    assert(bulk.shape() === reference.shape())
    val (a, b) = (elementBytes(bulk), elementBytes(reference))
    assert(a.length === b.length)
    val n = a.length / ElementBytes
    val (backA, backB) = (bulk.asInstanceOf[TString].asBytes(), reference.asInstanceOf[TString].asBytes())
    val flatA = backA.scalars().asScala.map(_.getObject()).toIndexedSeq
    val flatB = backB.scalars().asScala.map(_.getObject()).toIndexedSeq
    (0 until n).foreach { i =>
      val v = values(from + i)
      val compared = if (v.length <= StringTensors.SmallMax) ElementBytes else 16
      val (ea, eb) = (a.slice(i * ElementBytes, i * ElementBytes + compared), b.slice(i * ElementBytes, i * ElementBytes + compared))
      assert(ea.sameElements(eb), s"element $i (${v.length} bytes): ${ea.mkString(",")} vs ${eb.mkString(",")}")
      assert(java.util.Arrays.equals(flatA(i), v), s"element $i read back from the bulk tensor")
      assert(java.util.Arrays.equals(flatB(i), v), s"element $i read back from TString's tensor")
    }
  }

  private def bothWays(shape: Shape, values: Array[Array[Byte]], from: Int, count: Int): Unit = {
    val bulk = StringTensors.bulk(shape, values, from, count)
    try {
      val reference = StringTensors.viaTString(shape, values, from, count)
      try assertSameElements(bulk, reference, values, from)
      finally reference.close()
    } finally bulk.close()
  }

  test("the bulk path passes its self-check on this TF build, so StringTensors.of uses it") {
    assert(StringTensors.selfCheckFailure() === None)
    assert(StringTensors.bulkPathWorks)
    val values = StringTensors.selfCheckValues
    bothWays(Shape.of(values.length.toLong), values, 0, values.length)
  }

  test("batches of 1, 77 and 20,001 mixed strings: the same elements as TString.tensorOfBytes") {
    Seq(1 -> 1L, 77 -> 2L, 20001 -> 3L).foreach { case (n, seed) =>
      val values = mixed(n, seed)
      bothWays(Shape.of(n.toLong), values, 0, n)
    }
    Seq(23, 4096).foreach(n => bothWays(Shape.of(n.toLong), Array.fill(n)(("z" * 23).getBytes("UTF-8")), 0, n)) // all long
    val short = mixed(999, 4).filter(_.length <= StringTensors.SmallMax)
    bothWays(Shape.of(short.length.toLong), short, 0, short.length) // all SMALL
  }

  test("a slice of the values, in a 2-d shape, and an empty batch") {
    val values = mixed(300, 5)
    bothWays(Shape.of(40L, 3L), values, 17, 120)
    bothWays(Shape.of(0L), values, 0, 0)
    bothWays(Shape.of(0L, 3L), values, 5, 0)
  }

  test("20,001 strings of many lengths (8 MB of long strings), and one of 6 MB") {
    val big = Array.tabulate(6 * 1024 * 1024)(i => (i % 251).toByte)
    val values = Array.tabulate(20000) { i =>
      i % 5 match {
        case 0 => Array.fill(300 + i % 200)((i % 256).toByte)
        case 1 => Array.fill(511 + i % 2)((i % 256).toByte)
        case 2 => Array.fill(9000)((i % 256).toByte)
        case 3 => s"row $i".getBytes("UTF-8")
        case _ => Array.fill(23 + i % 40)((i % 256).toByte)
      }
    } :+ big
    bothWays(Shape.of(values.length.toLong), values, 0, values.length)
  }

  test("a shape that the values do not fill is refused") {
    intercept[IllegalArgumentException](StringTensors.of(Shape.of(3L), mixed(2, 6), 2))
  }

  // --- models with string inputs: the same outputs from either path -------------------------------

  private lazy val repository = ModelRepository(TestModels.modelsDir.getPath)

  /** The output tensors' bytes (every output of these models is numeric), by key. */
  private def outputs(handle: SavedModelHandle, signature: String, inputs: Map[String, Tensor]): Map[String, Seq[Byte]] = {
    val result = handle.run(signature, inputs)
    try result.asScala.map(e => e.getKey -> elementBytes(e.getValue).toSeq).toMap
    finally result.close()
  }

  /** Runs `signature` with its string inputs built both ways; the outputs must be equal, byte for byte. */
  private def sameOutputs(
      handle: SavedModelHandle,
      signature: String,
      strings: Map[String, (Shape, Array[Array[Byte]])],
      others: () => Map[String, Tensor]
  ): Map[String, Seq[Byte]] = {
    def run(build: (Shape, Array[Array[Byte]]) => Tensor): Map[String, Seq[Byte]] = {
      val inputs = others() ++ strings.map { case (k, (shape, v)) => k -> build(shape, v) }
      try outputs(handle, signature, inputs)
      finally inputs.values.foreach(_.close())
    }
    val bulk = run((s, v) => StringTensors.bulk(s, v, 0, v.length))
    val reference = run((s, v) => StringTensors.viaTString(s, v, 0, v.length))
    assert(bulk.keySet === reference.keySet)
    bulk.keys.foreach(k => assert(bulk(k) === reference(k), s"output $k"))
    bulk
  }

  private def numericTensor(t: GoldenVectors.Tensor): Tensor = {
    val shape = Shape.of(t.shape.map(_.toLong): _*)
    t.dtype match {
      case "int64" => TInt64.tensorOf(shape, DataBuffers.of(t.longs, true, false))
      case "float32" => TFloat32.tensorOf(shape, DataBuffers.of(t.floats, true, false))
      case other => fail(s"dtype $other in a golden case")
    }
  }

  Seq("titanic", "imdb").foreach { model =>
    test(s"$model: every golden case gives the same outputs from both string paths, and Python TF's") {
      val handle = SavedModelHandle.load(repository.resolve(model))
      try {
        val golden = GoldenVectors.read(repository.resolve(model).directory)
        var longStrings = 0
        golden.cases.foreach { c =>
          val (stringInputs, numeric) = c.inputs.partition(_._2.dtype == "string")
          val strings = stringInputs.map { case (k, t) => k -> (Shape.of(t.shape.map(_.toLong): _*), t.bytes) }
          longStrings += strings.values.map(_._2.count(_.length > StringTensors.SmallMax)).sum
          val got = sameOutputs(handle, c.signature, strings, () => numeric.map { case (k, t) => k -> numericTensor(t) })
          c.outputs.foreach { case (k, expected) =>
            if (expected.dtype == "float32") {
              val values = java.nio.ByteBuffer.wrap(got(k).toArray).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer()
              expected.floats.indices.foreach { i =>
                assert(golden.withinTolerance(expected.floats(i), values.get(i)), s"${c.name}: $k($i)")
              }
            }
          }
        }
        assert(longStrings > 0, s"$model's golden cases hold strings over ${StringTensors.SmallMax} bytes")
      } finally handle.close()
    }
  }

  test("imdb: a batch of 513 mixed UTF-8 reviews (empty, short, long, non-ASCII) gives the same outputs from both paths") {
    val handle = SavedModelHandle.load(repository.resolve("imdb"))
    try {
      val key = handle.signature("serving_default").inputs.head.key
      val reviews = mixed(513, 7, binary = false)
      val got = sameOutputs(handle, "serving_default", Map(key -> (Shape.of(513L), reviews)), () => Map.empty)
      assert(got.values.forall(_.nonEmpty))
    } finally handle.close()
  }
}
