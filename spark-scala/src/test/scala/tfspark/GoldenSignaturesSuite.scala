package tfspark

import scala.jdk.CollectionConverters._
import scala.util.Using

import org.scalatest.funsuite.AnyFunSuite
import org.tensorflow.Tensor
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.{TBool, TFloat32, TFloat64, TInt32, TInt64, TString}

import tfspark.model.{ModelCache, ModelRepository, NumericValues, TFDType, TensorTypes}

/**
 * Every committed model's golden vectors, for every signature and dtype, through TF Java alone
 * (no Spark): the JVM runs the exact SavedModel that Python exported and gets Python's numbers.
 * Tensors are built straight from the golden file, so this covers what the Spark paths cannot
 * feed yet (strings, int64, rank-3 and rank-4 inputs).
 */
class GoldenSignaturesSuite extends AnyFunSuite {

  private def toTensor(t: GoldenVectors.Tensor): Tensor = {
    val shape = Shape.of(t.shape.map(_.toLong): _*)
    t.dtype match {
      case "float32" => TFloat32.tensorOf(shape, DataBuffers.of(t.floats, true, false))
      case "float64" => TFloat64.tensorOf(shape, DataBuffers.of(t.doubles, true, false))
      case "int32" => TInt32.tensorOf(shape, DataBuffers.of(t.longs.map(_.toInt), true, false))
      case "int64" => TInt64.tensorOf(shape, DataBuffers.of(t.longs, true, false))
      case "bool" => TBool.tensorOf(shape, DataBuffers.of(t.booleans, true, false))
      case "string" => TString.tensorOfBytes(shape, DataBuffers.ofObjects(t.bytes: _*))
      case other => // issue 17: the other numeric dtypes, as raw bytes in the host's order
        val dtype = TFDType(other)
        val width = TensorTypes.byteWidth(dtype)
        val raw = java.nio.ByteBuffer.allocate(width * t.data.size).order(java.nio.ByteOrder.nativeOrder())
        if (TFDType.Floats.contains(dtype)) t.floats.foreach(f => raw.putShort(NumericValues.toHalf(dtype, f)))
        else
          t.bigInts.foreach(v =>
            width match {
              case 1 => raw.put(v.toByte); case 2 => raw.putShort(v.toShort); case 4 => raw.putInt(v.toInt); case _ => raw.putLong(v.toLong)
            }
          )
        TensorTypes.fromBytes(dtype, shape, raw.array(), 0, raw.capacity())
    }
  }

  /** Compares one output tensor with its golden values; returns the max |diff| of numeric outputs. */
  private def compare(golden: GoldenVectors.File, caseName: String, key: String, want: GoldenVectors.Tensor, got: Tensor): Double = {
    assert(got.shape().asArray().toSeq.map(_.toInt) === want.shape, s"$caseName/$key shape")
    want.dtype match {
      case "float32" =>
        val values = new Array[Float](got.size().toInt)
        got.asRawTensor().data().asFloats().read(values)
        val expected = want.floats
        expected.indices.foreach { i =>
          assert(golden.withinTolerance(expected(i), values(i)), s"$caseName/$key[$i]: expected ${expected(i)}, got ${values(i)}")
        }
        expected.indices.map(i => math.abs(expected(i).toDouble - values(i))).filterNot(_.isNaN).maxOption.getOrElse(0.0)
      case "int64" =>
        val values = new Array[Long](got.size().toInt)
        got.asRawTensor().data().asLongs().read(values)
        assert(values.toSeq === want.longs.toSeq, s"$caseName/$key")
        0.0
      case "int32" =>
        val values = new Array[Int](got.size().toInt)
        got.asRawTensor().data().asInts().read(values)
        assert(values.toSeq.map(_.toLong) === want.longs.toSeq, s"$caseName/$key")
        0.0
      case "float64" =>
        val values = new Array[Double](got.size().toInt)
        got.asRawTensor().data().asDoubles().read(values)
        want.doubles.indices.foreach(i =>
          assert(math.abs(values(i) - want.doubles(i)) <= golden.atol + golden.rtol * math.abs(want.doubles(i)), s"$caseName/$key[$i]")
        )
        0.0
      case "string" =>
        val values = got.asInstanceOf[TString].asBytes().scalars().asScala.map(s => new String(s.getObject(), "UTF-8")).toSeq
        assert(values === want.bytes.map(new String(_, "UTF-8")).toSeq, s"$caseName/$key")
        0.0
      case other => // issue 17: the other numeric dtypes, exactly
        val dtype = TFDType(other)
        val raw = java.nio.ByteBuffer.allocate(got.numBytes().toInt).order(java.nio.ByteOrder.nativeOrder())
        got.asRawTensor().data().read(raw.array())
        val width = TensorTypes.byteWidth(dtype)
        val unsigned = other.startsWith("uint")
        def bits(i: Int): Long = width match {
          case 1 => raw.get(i).toLong; case 2 => raw.getShort(2 * i).toLong; case 4 => raw.getInt(4 * i).toLong;
          case _ => raw.getLong(8 * i)
        }
        val n = got.size().toInt
        if (TFDType.Floats.contains(dtype)) { // exact, NaN equal to NaN
          val values = (0 until n).map(i => NumericValues.fromHalf(dtype, bits(i).toShort))
          assert(
            values.zip(want.floats).forall { case (g, w) => java.lang.Float.compare(g, w) == 0 },
            s"$caseName/$key: $values vs ${want.floats.toSeq}"
          )
        } else {
          val values = (0 until n).map { i =>
            if (unsigned && width == 8) BigInt(java.lang.Long.toUnsignedString(bits(i)))
            else if (unsigned) BigInt(bits(i) & ((1L << (8 * width)) - 1))
            else BigInt(bits(i))
          }
          assert(values === want.bigInts.toSeq, s"$caseName/$key")
        }
        0.0
    }
  }

  for ((root, name, version) <- TestModels.allWithGoldenVectors) {
    test(s"$name/$version: every signature's golden vectors reproduce through TF Java") {
      val location = ModelRepository(root.getPath).resolve(name, Some(version))
      val handle = ModelCache.acquire(s"golden-signatures:${location.directory.getCanonicalPath}", location)
      val golden = GoldenVectors.read(location.directory)
      var worst = 0.0
      for (c <- golden.cases) {
        val spec = handle.signature(c.signature)
        assert(c.inputs.keySet === spec.inputs.map(_.key).toSet, s"case ${c.name}: golden inputs vs signature ${spec.key}")
        val inputs = c.inputs.map { case (k, t) => k -> toTensor(t) }
        try {
          Using.resource(handle.run(c.signature, inputs)) { result =>
            for ((key, want) <- c.outputs) {
              val got = result.get(key).orElseThrow(() => new AssertionError(s"case ${c.name}: no output $key"))
              worst = worst max compare(golden, c.name, key, want, got)
            }
          }
        } finally inputs.values.foreach(_.close())
      }
      val signatures = golden.cases.map(_.signature).distinct.sorted.mkString(", ")
      info(s"${golden.cases.size} cases over signatures $signatures; max |diff| = $worst")
    }
  }
}
