package tfspark.tensor

import java.io.File

import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, GoldenRows, GoldenVectors, SparkSessionFixture, TFInference, TestModels}
import tfspark.conf.TFSparkConf
import tfspark.model.{ModelCache, ModelManifest, ModelRepository, NumericValues, TFDType}
import tfspark.model.warmup.ModelWarmup

/**
 * Every numeric dtype in and out (issue 17, docs/dtypes.md), over `dtypes/1`
 * (`make_test_models.py`: `DTypesModel`): exact values against Python TF's golden outputs,
 * the Spark types outputs widen to, range errors with their class and row, the binary → uint8
 * raw-bytes route, and float16/bfloat16 rounding equal to TF's own Cast kernel.
 */
class DTypesSuite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  override protected def repositoryRoot: String = TestModels.testModelsDir.getPath

  private lazy val golden = GoldenVectors.read(new File(TestModels.testModelsDir, "dtypes/1"))
  private def goldenCase(name: String) = golden.cases.find(_.name == name).get
  private lazy val shipped = TFInference.ship(spark.sparkContext, ModelRepository(TestModels.testModelsDir.getPath).resolve("dtypes"))

  private val integerInputs = Seq("int8", "int16", "uint8", "uint16", "uint32", "uint64")
  private val inputs = integerInputs ++ Seq("float16", "bfloat16")

  private def frame(schema: StructType, rows: Seq[Row], partitions: Int = 2): DataFrame =
    spark.createDataFrame(spark.sparkContext.parallelize(rows, partitions), schema)

  private def withConf[T](pairs: (String, String)*)(body: => T): T = {
    pairs.foreach { case (k, v) => spark.conf.set(k, v) }
    try body
    finally pairs.foreach { case (k, _) => spark.conf.unset(k) }
  }

  test("the SignatureDef's dtypes are read by their TF names, float16 included (the proto says DT_HALF)") {
    val spec = shipped.signatures("serving_default")
    assert(spec.inputs.map(i => i.key -> i.dtype.name).toMap === inputs.map(d => d -> d).toMap)
    assert(spec.outputs.find(_.key == "echo_float16").get.dtype === TFDType.Float16)
    assert(shipped.signatures("pixels").inputs.head.toString === "image: uint8[-1,4,4,3]")
  }

  test("outputs widen exactly: int8 tinyint, uint8/int16 smallint, uint16 int, uint32 bigint, uint64 decimal(20,0), halves float") {
    GoldenRows.dataFrame(spark, goldenCase("edges"), partitions = 1).createOrReplaceTempView("dtype_edges")
    val result = spark.sql(s"SELECT tfpredict('dtypes', struct(${inputs.mkString(", ")})) AS p FROM dtype_edges").schema("p").dataType
    val fields = result.asInstanceOf[StructType].fields.map(f => f.name -> f.dataType).toMap
    assert(
      fields === Map(
        "echo_int8" -> ByteType,
        "echo_uint8" -> ShortType,
        "echo_int16" -> ShortType,
        "echo_uint16" -> IntegerType,
        "echo_uint32" -> LongType,
        "echo_uint64" -> DecimalType(20, 0),
        "echo_float16" -> FloatType,
        "echo_bfloat16" -> FloatType,
        "total" -> DoubleType
      )
    )
    GoldenRows.dataFrame(spark, goldenCase("pixels"), partitions = 1).createOrReplaceTempView("dtype_pixels")
    val pixels = spark.sql("SELECT tfpredict('dtypes:pixels', image) AS p FROM dtype_pixels").schema("p").dataType.asInstanceOf[StructType]
    assert(pixels("inverted").dataType === ArrayType(ArrayType(ArrayType(ShortType, false), false), false))
  }

  test("edge values of every dtype round-trip exactly through SQL tfpredict and the DataFrame API (golden vectors)") {
    val c = goldenCase("edges")
    GoldenRows.dataFrame(spark, c, partitions = 2).createOrReplaceTempView("dtype_edges")
    val sql = spark
      .sql(s"SELECT id, tfpredict('dtypes', struct(${inputs.mkString(", ")})) AS p FROM dtype_edges ORDER BY id")
      .collect()
      .toSeq
      .map(_.getStruct(1))
    assert(GoldenRows.compare(golden, c, sql) === 0.0)
    assert(sql(1).getAs[java.math.BigDecimal]("echo_uint64") === new java.math.BigDecimal("18446744073709551615"))
    assert(sql(1).getAs[Short]("echo_uint8") === 255.toShort)
    assert(sql(1).getAs[Long]("echo_uint32") === 4294967295L)
    assert(sql(0).getAs[Float]("echo_float16") === 65504f)
    val api = TFInference
      .predictDataFrame(GoldenRows.dataFrame(spark, c, partitions = 3), shipped, "p", batchSize = 3)
      .orderBy("id")
      .collect()
      .toSeq
      .map(_.getAs[Row]("p"))
    assert(GoldenRows.compare(golden, c, api) === 0.0)
  }

  test("integer inputs take tinyint, smallint, int, bigint and decimal(p,0) columns (uint64 up to 2^64 - 1 from decimal(20,0))") {
    val schema = StructType(
      Seq(
        StructField("int8", IntegerType),
        StructField("int16", ByteType),
        StructField("uint8", LongType),
        StructField("uint16", DecimalType(10, 0)),
        StructField("uint32", LongType),
        StructField("uint64", DecimalType(20, 0)),
        StructField("float16", DoubleType),
        StructField("bfloat16", IntegerType)
      )
    )
    val max64 = new java.math.BigDecimal("18446744073709551615")
    val rows = Seq(
      Row(-128, -128.toByte, 255L, new java.math.BigDecimal(65535), 4294967295L, max64, 0.5, 3),
      Row(127, 127.toByte, 0L, java.math.BigDecimal.ZERO, 0L, java.math.BigDecimal.ONE, -2.25, -7)
    )
    val got = TFInference.predictDataFrame(frame(schema, rows, 1), shipped, "p").collect().map(_.getAs[Row]("p"))
    assert(got.map(_.getAs[Byte]("echo_int8")).toSeq === Seq(-128.toByte, 127.toByte))
    assert(got.map(_.getAs[Short]("echo_int16")).toSeq === Seq(-128.toShort, 127.toShort))
    assert(got.map(_.getAs[Short]("echo_uint8")).toSeq === Seq(255.toShort, 0.toShort))
    assert(got.map(_.getAs[Int]("echo_uint16")).toSeq === Seq(65535, 0))
    assert(got.map(_.getAs[java.math.BigDecimal]("echo_uint64")).toSeq === Seq(max64, java.math.BigDecimal.ONE))
    assert(got.map(_.getAs[Float]("echo_float16")).toSeq === Seq(0.5f, -2.25f))
    assert(got.map(_.getAs[Float]("echo_bfloat16")).toSeq === Seq(3f, -7f))
    // TF's own sum proves the model read the values, not just their bytes
    val expectedTotal = -128 - 128 + 255 + 65535 + 4294967295.0 + 18446744073709551615.0 + 0.5 + 3
    assert(got(0).getAs[Double]("total") === expectedTotal)
  }

  /** All inputs in bigint (uint64 decimal(20,0), halves double), row 0 valid, row 1 with `column` set to `value`. */
  private def oneBad(column: String, value: Any): DataFrame = {
    val schema = StructType(inputs.map {
      case "uint64" => StructField("uint64", DecimalType(20, 0))
      case h @ ("float16" | "bfloat16") => StructField(h, DoubleType)
      case other => StructField(other, LongType)
    })
    def row(bad: Boolean) = Row.fromSeq(inputs.map { k =>
      if (bad && k == column) value
      else if (k == "uint64") java.math.BigDecimal.ONE
      else if (k.startsWith("float") || k.startsWith("bfloat")) 1.0
      else 1L
    })
    frame(schema, Seq(row(false), row(true), row(false)), 1)
  }

  private val outOfRange = Seq(
    ("int8", 128L, "integers from -128 to 127"),
    ("int8", -129L, "integers from -128 to 127"),
    ("int16", 32768L, "integers from -32768 to 32767"),
    ("uint8", 256L, "integers from 0 to 255"),
    ("uint8", -1L, "integers from 0 to 255"),
    ("uint16", 65536L, "integers from 0 to 65535"),
    ("uint32", 4294967296L, "integers from 0 to 4294967295"),
    ("uint32", -1L, "integers from 0 to 4294967295")
  )

  test("an integer outside its dtype's range is INPUT_VALUE_OUT_OF_RANGE naming the input, the row, the value and the range") {
    for ((column, value, range) <- outOfRange) {
      val e = checkError(
        "INPUT_VALUE_OUT_OF_RANGE",
        Map("model" -> "dtypes", "input" -> column, "dtype" -> column, "value" -> value.toString, "range" -> range)
      ) {
        TFInference.predictDataFrame(oneBad(column, value), shipped, "p").collect()
      }
      assert(e.messageParameters("row").startsWith("row {int8: "), e.getMessage) // the engine's row label (its first fields)
      assert(e.getMessage.contains("onError=null"), e.getMessage)
    }
    for ((bad, text) <- Seq("18446744073709551616" -> "18446744073709551616", "-1" -> "-1")) {
      checkError(
        "INPUT_VALUE_OUT_OF_RANGE",
        Map("input" -> "uint64", "value" -> text, "range" -> "integers from 0 to 18446744073709551615")
      ) {
        TFInference.predictDataFrame(oneBad("uint64", new java.math.BigDecimal(bad)), shipped, "p").collect()
      }
    }
  }

  test("a finite value that rounds to infinity in float16/bfloat16 is out of range; the largest that rounds down, ±inf and NaN pass") {
    checkError("INPUT_VALUE_OUT_OF_RANGE", Map("input" -> "float16", "dtype" -> "float16", "value" -> "65520.0")) {
      TFInference.predictDataFrame(oneBad("float16", 65520.0), shipped, "p").collect()
    }
    checkError("INPUT_VALUE_OUT_OF_RANGE", Map("input" -> "bfloat16", "value" -> "1.0E39")) {
      TFInference.predictDataFrame(oneBad("bfloat16", 1e39), shipped, "p").collect()
    }
    checkError("INPUT_VALUE_OUT_OF_RANGE", Map("input" -> "bfloat16", "value" -> "3.4028234663852886E38")) {
      TFInference.predictDataFrame(oneBad("bfloat16", Float.MaxValue.toDouble), shipped, "p").collect()
    }
    for (
      (column, value, back) <- Seq(
        ("float16", 65519.99, 65504f),
        ("float16", Double.PositiveInfinity, Float.PositiveInfinity),
        ("bfloat16", Double.NegativeInfinity, Float.NegativeInfinity),
        ("float16", Double.NaN, Float.NaN)
      )
    ) {
      val got = TFInference.predictDataFrame(oneBad(column, value), shipped, "p").collect().map(_.getAs[Row]("p"))
      assert(java.lang.Float.compare(got(1).getAs[Float](s"echo_$column"), back) == 0, s"$column $value")
    }
  }

  test("an out-of-range element of an array input names its row-major position in the row") {
    val pixels = Seq.tabulate(4, 4, 3)((y, x, c) => if ((y, x, c) == (0, 1, 2)) 300 else y + x + c)
    val schema = StructType(Seq(StructField("id", IntegerType), StructField("image", ArrayType(ArrayType(ArrayType(IntegerType))))))
    val e = checkError("INPUT_VALUE_OUT_OF_RANGE", Map("input" -> "image", "dtype" -> "uint8", "value" -> "300")) {
      TFInference.predictDataFrame(frame(schema, Seq(Row(0, pixels), Row(1, pixels)), 1), shipped, "p", signature = "pixels").collect()
    }
    assert(e.messageParameters("row").endsWith("element 5 (row-major)"), e.getMessage)
  }

  test("range errors are per-row errors: under onError=null the row gets null and its error, the others their results (SQL)") {
    withConf(TFSparkConf.OnError -> "null") {
      oneBad("uint8", 300L).createOrReplaceTempView("dtype_bad")
      val got = spark.sql(s"SELECT tfpredict('dtypes', struct(${inputs.mkString(", ")})) AS p FROM dtype_bad").collect().map(_.getStruct(0))
      assert(got.map(r => Option(r.getStruct(1)).map(_.getString(0))).toSeq === Seq(None, Some("INPUT_VALUE_OUT_OF_RANGE"), None))
      assert(got(1).getStruct(1).getString(1).contains("uint8: 300"), got(1).getStruct(1).getString(1))
      assert(got(1).isNullAt(0))
      assert(got(0).getStruct(0).getAs[Short]("echo_uint8") === 1.toShort)
      assert(got(2).getStruct(0).getAs[Double]("total") === 8.0)
    }
  }

  test("uint8 from binary: each value is a fixed-shape image's raw bytes, through SQL and the DataFrame API") {
    val c = goldenCase("pixels")
    val image = c.inputs("image")
    val perRow = image.shape.tail.product
    val bytes = image.longs.map(_.toByte).grouped(perRow).toSeq
    val df = frame(
      StructType(Seq(StructField("id", IntegerType), StructField("image", BinaryType))),
      bytes.zipWithIndex.map { case (b, i) => Row(i, b) }
    )
    df.createOrReplaceTempView("dtype_binary_pixels")
    val sql = spark
      .sql("SELECT id, tfpredict('dtypes:pixels', image) AS p FROM dtype_binary_pixels ORDER BY id")
      .collect()
      .toSeq
      .map(_.getStruct(1))
    assert(GoldenRows.compare(golden, c, sql) === 0.0)
    val api = TFInference.predictDataFrame(df, shipped, "p", signature = "pixels").orderBy("id").collect().toSeq.map(_.getAs[Row]("p"))
    assert(GoldenRows.compare(golden, c, api) === 0.0)
  }

  test(
    "uint8 from binary: a value of the wrong length is INPUT_SHAPE_MISMATCH naming the row; a shape it cannot fill is refused at analysis"
  ) {
    val df = frame(
      StructType(Seq(StructField("id", IntegerType), StructField("image", BinaryType))),
      Seq(Row(0, new Array[Byte](48)), Row(1, Array.fill[Byte](47)(7)))
    )
    val e = checkError("INPUT_SHAPE_MISMATCH", Map("input" -> "image", "expected" -> "48", "got" -> "47")) {
      TFInference.predictDataFrame(df, shipped, "p", signature = "pixels").collect()
    }
    assert(e.messageParameters("row").contains("47 bytes"), e.getMessage)
    // a binary column cannot feed an integer input without a per-row shape (uint8 [-1])
    checkError("INPUT_TYPE_MISMATCH", Map("input" -> "uint8")) {
      TFInference.predictDataFrame(
        oneBad("uint8", 1L).withColumn("uint8", org.apache.spark.sql.functions.lit(Array[Byte](1))),
        shipped,
        "p"
      )
    }
  }

  test("uint8 [-1,-1] from binary: each row's bytes are its vector; the rows of a batch must agree in length") {
    val spec = tfspark.model.TensorSpec("bytes", TFDType.Uint8, Some(Seq(-1L, -1L)))
    val feeder = InputFeeder.create("m", "serving_default", spec, BinaryType, fillNulls = false)
    feeder.add(Array[Byte](1, 2, -1), "row 0")
    feeder.add(Array[Byte](4, 5, 6), "row 1")
    checkError("INPUT_SHAPE_MISMATCH", Map("expected" -> "3", "got" -> "4", "row" -> "row 2"))(feeder.add(new Array[Byte](4), "row 2"))
    val tensor = feeder.toTensor()
    try {
      assert(tensor.shape().asArray().toSeq === Seq(2L, 3L))
      val bytes = new Array[Byte](6)
      tensor.asRawTensor().data().read(bytes)
      assert(bytes.toSeq === Seq[Byte](1, 2, -1, 4, 5, 6))
    } finally tensor.close()
  }

  test("float16 and bfloat16 inputs round exactly as TF's Cast kernel does, on edge values and 60,000 float32 bit patterns") {
    val random = new scala.util.Random(17)
    val f16Max = 65520f // from here on, float16 rounds to infinity (out of range for tfspark)
    val bf16Limit = java.lang.Float.intBitsToFloat(0x7f7f8000)
    // ties and near-ties at both types' rounding bits, at every exponent, both signs; subnormals; random patterns
    val lows = Seq(0x0000, 0x0fff, 0x1000, 0x1001, 0x2000, 0x3000, 0x7fff, 0x8000, 0x8001, 0x18000, 0x1ffff)
    val structured = for {
      exponent <- 0 until 255 by 3
      high <- Seq(0, 1, 2, 0x2a, 0x3f)
      low <- lows
      sign <- Seq(0, 0x80000000)
    } yield java.lang.Float.intBitsToFloat(sign | (exponent << 23) | (high << 17) | low)
    val fits = (v: Float) => v.isNaN || v.isInfinite || (math.abs(v) < f16Max && math.abs(v) < bf16Limit)
    val edges = Seq(0f, -0f, Float.NaN, Float.PositiveInfinity, Float.NegativeInfinity, Float.MinPositiveValue, 65504f, 65519.996f)
    val fitting = structured.filter(fits) ++ edges
    val values = fitting ++ Iterator.continually(java.lang.Float.intBitsToFloat(random.nextInt())).filter(fits).take(60000 - fitting.size)
    val schema = StructType(Seq("x", "h", "b").map(StructField(_, FloatType)))
    val df = frame(schema, values.map(v => Row(v, v, v)), 4)
    val got = TFInference.predictDataFrame(df, shipped, "p", signature = "rounding", batchSize = 4096).collect().map(_.getAs[Row]("p"))
    assert(got.length === values.size)
    val f16 = got.count(r => r.getAs[Short]("tf_f16_bits") != r.getAs[Short]("fed_f16_bits"))
    val bf16 = got.count(r => r.getAs[Short]("tf_bf16_bits") != r.getAs[Short]("fed_bf16_bits"))
    val firstBad = got.find(r => r.getAs[Short]("tf_f16_bits") != r.getAs[Short]("fed_f16_bits"))
    assert(f16 === 0, s"float16 bits differ from TF's Cast on $f16 values, e.g. $firstBad")
    assert(bf16 === 0, s"bfloat16 bits differ from TF's Cast on $bf16 values")
    info(s"${values.size} float32 values: float16 and bfloat16 bits equal TF's Cast on every one")
  }

  test("half types widen exactly and every non-NaN half round-trips through float32") {
    for (bits <- 0 until 65536) {
      val h = bits.toShort
      val f16 = NumericValues.halfToFloat(h)
      if (!f16.isNaN) assert(NumericValues.floatToHalf(f16) === h, f"float16 0x$bits%04x")
      val bf16 = NumericValues.bfloat16ToFloat(h)
      if (!bf16.isNaN) assert(NumericValues.floatToBfloat16(bf16) === h, f"bfloat16 0x$bits%04x")
    }
    assert(NumericValues.halfToFloat(0x0001.toShort) === math.pow(2, -24).toFloat)
    assert(NumericValues.halfToFloat(0x7bff.toShort) === 65504f)
    assert(NumericValues.floatToHalf(Float.NaN) === 0x7e00.toShort)
  }

  test("the RDD Map API feeds and returns every dtype; an out-of-range value is INPUT_VALUE_OUT_OF_RANGE naming the row") {
    val c = goldenCase("edges")
    val got = TFInference.predictMaps(spark.sparkContext.parallelize(GoldenRows.maps(c), 2), shipped, batchSize = 3).collect().toSeq
    assert(GoldenRows.compare(golden, c, got) === 0.0)
    val bad = GoldenRows.maps(c).head.updated("uint16", 70000)
    val e = checkError("INPUT_VALUE_OUT_OF_RANGE", Map("input" -> "uint16", "value" -> "70000")) {
      TFInference.predictMaps(spark.sparkContext.parallelize(Seq(bad), 1), shipped).collect()
    }
    assert(e.messageParameters("row").startsWith("row 0 of partition 0"), e.getMessage)
    val huge = GoldenRows.maps(c).head.updated("bfloat16", 1e39) // beyond float32 too: out of range, not a silent inf
    checkError("INPUT_VALUE_OUT_OF_RANGE", Map("input" -> "bfloat16", "value" -> "1.0E39")) {
      TFInference.predictMaps(spark.sparkContext.parallelize(Seq(huge), 1), shipped).collect()
    }
  }

  test("the Transformer takes the new dtypes too (the one engine; GoldenAgreementSuite runs every entry point)") {
    val c = goldenCase("edges")
    val scorer = new tfspark.ml.TFModelTransformer().setModel("dtypes").setRepository(TestModels.testModelsDir.getPath).setOutputCol("p")
    val got = scorer.transform(GoldenRows.dataFrame(spark, c, partitions = 2)).orderBy("id").collect().toSeq.map(_.getAs[Row]("p"))
    assert(GoldenRows.compare(golden, c, got) === 0.0)
  }

  /** A protobuf message of length-delimited fields. */
  private def message(fields: (Int, Array[Byte])*): Array[Byte] = {
    val bytes = new java.io.ByteArrayOutputStream()
    val out = com.google.protobuf.CodedOutputStream.newInstance(bytes)
    fields.foreach { case (number, value) => out.writeByteArray(number, value) }
    out.flush()
    bytes.toByteArray
  }

  test("TF Serving warm-up requests feed the new dtypes from int_val, uint32_val, uint64_val, half_val and tensor_content") {
    import org.tensorflow.proto.{DataType, TensorProto, TensorShapeProto}
    def proto(dtype: DataType)(fill: TensorProto.Builder => Unit): TensorProto = {
      val b = TensorProto
        .newBuilder()
        .setDtype(dtype)
        .setTensorShape(TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dim.newBuilder().setSize(2)))
      fill(b)
      b.build()
    }
    val uint16Content = java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putShort(-1).putShort(1).array()
    val tensors = Map(
      "int8" -> proto(DataType.DT_INT8)(_.addIntVal(-128).addIntVal(127)),
      "int16" -> proto(DataType.DT_INT16)(_.addIntVal(-2).addIntVal(3)),
      "uint8" -> proto(DataType.DT_UINT8)(_.addIntVal(255).addIntVal(0)),
      "uint16" -> proto(DataType.DT_UINT16)(_.setTensorContent(com.google.protobuf.ByteString.copyFrom(uint16Content))),
      "uint32" -> proto(DataType.DT_UINT32)(_.addUint32Val(-1).addUint32Val(7)),
      "uint64" -> proto(DataType.DT_UINT64)(_.addUint64Val(-1L).addUint64Val(5L)),
      "float16" -> proto(DataType.DT_HALF)(_.addHalfVal(0x3c00).addHalfVal(0x7bff)),
      "bfloat16" -> proto(DataType.DT_BFLOAT16)(_.addHalfVal(0x3f80).addHalfVal(0xc000))
    )
    val modelSpec = 1 -> message(3 -> "serving_default".getBytes("UTF-8")) // PredictRequest.model_spec.signature_name
    val inputs = tensors.toSeq.map { case (k, t) => 2 -> message(1 -> k.getBytes("UTF-8"), 2 -> t.toByteArray) } // map<string, TensorProto>
    val request = message(modelSpec +: inputs: _*)
    val log = message(6 -> message(1 -> request))
    val record = java.nio.ByteBuffer.allocate(16 + log.length).order(java.nio.ByteOrder.LITTLE_ENDIAN)
    record.putLong(log.length.toLong).putInt(0).put(log).putInt(0) // tfspark's reader does not check the CRCs

    val root = TestModels.tempDir("dtypes-warmup")
    val version = new File(root, "dtypes/1")
    org.apache.commons.io.FileUtils.copyDirectory(new File(TestModels.testModelsDir, "dtypes/1"), version)
    java.nio.file.Files.write(new File(version, ModelManifest.WarmupFile).toPath, record.array())
    val location = ModelRepository(root.getPath).resolve("dtypes")
    val plan = ModelWarmup.sources(location.directory, shipped.signatures)
    assert(plan.find(_._1 == "serving_default").map(_._2) === Some(ModelWarmup.WarmupRequestsSource))
    val handle = ModelCache.acquire(s"dtypes-warmup:${version.getCanonicalPath}", location) // warms up from the file
    val input = plan.find(_._1 == "serving_default").get._3.head
    val fed = input.tensors()
    try {
      scala.util.Using.resource(handle.run("serving_default", fed)) { result =>
        def decoded(key: String): Seq[Any] = {
          val spec = shipped.signatures("serving_default").outputs.find(_.key == key).get
          new OutputDecoder("dtypes", "serving_default", spec, unitDimAsArray = false).decode(result.get(key).orElseThrow(), 2).toSeq
        }
        assert(decoded("echo_int8") === Seq(-128.toByte, 127.toByte))
        assert(decoded("echo_int16") === Seq(-2.toShort, 3.toShort))
        assert(decoded("echo_uint8") === Seq(255.toShort, 0.toShort))
        assert(decoded("echo_uint16") === Seq(65535, 1))
        assert(decoded("echo_uint32") === Seq(4294967295L, 7L))
        assert(decoded("echo_uint64").map(_.toString) === Seq("18446744073709551615", "5"))
        assert(decoded("echo_float16") === Seq(1f, 65504f))
        assert(decoded("echo_bfloat16") === Seq(1f, -2f))
      }
    } finally fed.values.foreach(_.close())
  }
}
