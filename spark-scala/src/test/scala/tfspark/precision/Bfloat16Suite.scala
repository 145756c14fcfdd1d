package tfspark.precision

import java.io.File
import java.nio.file.Files

import org.apache.spark.sql.DataFrame
import org.scalatest.funsuite.AnyFunSuite

import tfspark.{ErrorChecks, SparkSessionFixture, TFInference, TestModels}
import tfspark.conf.{Precision, TFSparkConf}
import tfspark.jobs.{BatchScore, BatchScoreOptions, Inspect, JobArguments}
import tfspark.ml.TFModelTransformer
import tfspark.model.{Bfloat16Support, ModelCache, ModelManifest, ModelRepository}

/**
 * Opt-in bfloat16 (`spark.tfpredict.precision`): float32 stays the default and untouched; bfloat16
 * is measured against float32 at load, shown in EXPLAIN, refused beyond
 * `spark.tfpredict.precision.maxDeviation` and on CPUs without bfloat16 instructions; and it is
 * reached through SQL, the Scala API, the Transformer, BatchScore and Inspect.
 *
 * The tests that run bfloat16 need a CPU with it: on another they are canceled, and the refusal
 * test covers that CPU.
 */
class Bfloat16Suite extends AnyFunSuite with SparkSessionFixture with ErrorChecks {

  private val models = ModelRepository(TestModels.modelsDir.getPath)
  private val Default = Precision.DefaultMaxDeviation

  private def requireBfloat16(): Unit =
    Bfloat16Support.unsupportedReason.foreach(reason => cancel(s"this machine cannot run bfloat16: $reason"))

  private def withConf[T](pairs: (String, String)*)(body: => T): T = {
    pairs.foreach { case (k, v) => spark.conf.set(k, v) }
    try body
    finally pairs.foreach { case (k, _) => spark.conf.unset(k) }
  }

  private def explained(df: DataFrame): String = df.queryExecution.executedPlan.toString

  /** `|a - b| / max(1, |b|)`, the deviation the limit applies to. */
  private def deviation(a: Double, b: Double): Double = math.abs(a - b) / math.max(1.0, math.abs(b))

  private def linearQuery: DataFrame =
    spark.range(0, 64, 1, 2).selectExpr("id", "tfpredict('linear', array(CAST(id AS FLOAT) / 8, CAST(-id AS FLOAT) / 16)) AS p")

  test("the precision settings: float32 by default, two words, a positive limit; anything else is INVALID_CONFIG") {
    assert(TFSparkConf.precision(spark.sessionState.conf) === Precision.Float32)
    withConf(TFSparkConf.PrecisionKey -> "BFloat16", TFSparkConf.PrecisionMaxDeviation -> "0.5") {
      assert(TFSparkConf.precision(spark.sessionState.conf) === Precision.BFloat16(0.5))
    }
    withConf(TFSparkConf.PrecisionKey -> "bf16") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.PrecisionKey, "got" -> "bf16"))(linearQuery.collect())
    }
    withConf(TFSparkConf.PrecisionMaxDeviation -> "-1") {
      checkError("INVALID_CONFIG", Map("key" -> TFSparkConf.PrecisionMaxDeviation))(linearQuery.collect())
    }
    withConf("spark.tfpredict.precison" -> "bfloat16") {
      val e = checkError("INVALID_CONFIG", Map("key" -> "spark.tfpredict.precison"))(linearQuery.collect())
      assert(e.getMessage.contains(s"did you mean ${TFSparkConf.PrecisionKey}?"))
    }
  }

  test("float32 is the model as it was: the same cached load, no precision in EXPLAIN, the same numbers") {
    val location = models.resolve("linear")
    val sha = ModelManifest.sha256(location.directory)
    val plain = linearQuery.collect().map(_.getFloat(1))
    val explicit = withConf(TFSparkConf.PrecisionKey -> "float32") {
      assert(!explained(linearQuery).contains("precision="), explained(linearQuery))
      linearQuery.collect().map(_.getFloat(1))
    }
    assert(explicit.sameElements(plain), "float32 given and float32 by default are bit-identical")
    assert(ModelCache.loadCount(sha) === 1)
    val expected = TFInference.predictLocal(location, (0 until 64).map(i => Array(i / 8f, -i / 16f))).map(_.head)
    assert(plain.toSeq === expected, "the batched SQL path and the local path agree exactly in float32")
  }

  test("every committed model in bfloat16 stays within the default limit, measured on its golden vectors") {
    requireBfloat16()
    val all = TestModels.allWithGoldenVectors.map { case (root, name, _) => (root, name) }.distinct
    val measured = all.map { case (root, name) =>
      val location = ModelRepository(root.getPath).resolve(name)
      val sha = ModelManifest.sha256(location.directory)
      name -> ModelCache.withHandle(sha, location, Precision.BFloat16(Default)) { handle =>
        assert(handle.precision === Precision.BFloat16(Default))
        handle.deviation.get
      }
    }
    measured.foreach { case (name, d) =>
      info(s"$name: ${d.summary}")
      assert(d.outputs.nonEmpty, s"$name: something was measured")
      assert(d.unmeasured.isEmpty, s"$name: every signature was measured")
      assert(d.maxDeviation <= Default, s"$name: ${d.summary}")
      assert(d.source.values.forall(_ == "golden vectors"), s"$name: ${d.source}")
    }
    // bfloat16 really ran: the models with matmuls or convolutions moved, and the stated tolerances hold.
    val byName = measured.toMap
    Seq("titanic" -> 1e-2, "imdb" -> 1e-2, "cifar2" -> 1e-2).foreach { case (name, tolerance) =>
      assert(byName(name).maxDeviation > 0, s"$name in bfloat16 is not float32")
      assert(byName(name).maxDeviation <= tolerance, s"$name: ${byName(name).summary}")
    }
    assert(byName("cifar2").outputs.find(_.output == "label").get.maxDeviation === 0, "CIFAR2's labels do not change")
  }

  test("SQL: SET spark.tfpredict.precision=bfloat16 runs a bfloat16 load, shows its deviation in EXPLAIN, and SET back returns float32") {
    requireBfloat16()
    val sha = ModelManifest.sha256(models.resolve("linear").directory)
    val float32 = linearQuery.collect().map(_.getFloat(1).toDouble)
    val bfloat16 = withConf(TFSparkConf.PrecisionKey -> "bfloat16") {
      val plan = explained(linearQuery)
      assert(plan.contains("precision=bfloat16 for linear (deviation from float32: prediction "), plan)
      linearQuery.collect().map(_.getFloat(1).toDouble)
    }
    assert(ModelCache.loadCount(sha, Precision.BFloat16(Default)) === 1, "one bfloat16 load, beside the float32 one")
    assert(!bfloat16.sameElements(float32), "bfloat16 changed the numbers")
    val worst = bfloat16.zip(float32).map { case (a, b) => deviation(a, b) }.max
    assert(worst <= Default, s"worst deviation on the query's rows: $worst")
    val again = linearQuery.collect().map(_.getFloat(1).toDouble)
    assert(again.sameElements(float32), "after the SET is undone, float32 again, bit for bit")
  }

  test("a limit the model exceeds refuses it with BFLOAT16_DEVIATION_EXCEEDED, naming the outputs") {
    requireBfloat16()
    withConf(TFSparkConf.PrecisionKey -> "bfloat16", TFSparkConf.PrecisionMaxDeviation -> "1e-9") {
      val e = checkError("BFLOAT16_DEVIATION_EXCEEDED", Map("model" -> "linear", "limit" -> "1.0E-9", "source" -> "golden vectors")) {
        linearQuery.collect()
      }
      assert(e.messageParameters("outputs").startsWith("prediction "), e.getMessage)
      assert(e.getMessage.contains("larger spark.tfpredict.precision.maxDeviation"))
    }
  }

  test("a model whose warm-up has no real inputs (only a synthetic row) is refused: zeros measure nothing") {
    requireBfloat16()
    // linear without its golden vectors: its warm-up is a synthetic row of zeros. A file in assets/
    // makes it another content than linear (assets.extra/ is not part of a model's identity).
    val repo = TestModels.tempDir("no-golden")
    val version = new File(repo, "bare/1")
    val source = new File(TestModels.modelsDir, "linear/1").toPath
    Files.walk(source).filter(p => !p.toString.contains("assets.extra")).forEach { p =>
      val target = version.toPath.resolve(source.relativize(p).toString)
      if (Files.isDirectory(p)) Files.createDirectories(target) else Files.copy(p, target)
    }
    Files.createDirectories(version.toPath.resolve("assets"))
    Files.writeString(version.toPath.resolve("assets/origin.txt"), "a copy of linear/1 without golden vectors\n")
    val location = ModelRepository(repo.getPath).resolve("bare")
    val e = checkError("BFLOAT16_DEVIATION_EXCEEDED", Map("model" -> "bare", "source" -> "no inputs")) {
      TFInference.ship(spark.sparkContext, location, precision = Precision.BFloat16(Default))
    }
    assert(
      e.messageParameters("outputs").startsWith("nothing measured signature serving_default (only a synthetic warm-up row)"),
      e.getMessage
    )
    assert(e.getMessage.contains("golden vectors"), e.getMessage)
    assert(TFInference.ship(spark.sparkContext, location).precision === Precision.Float32, "float32 runs it as before")
  }

  test("a CPU without bfloat16 instructions is refused with BFLOAT16_NOT_SUPPORTED, naming the reason") {
    val dir = TestModels.tempDir("cpuinfo")
    val noBf16 =
      Files.writeString(new File(dir, "cpuinfo").toPath, "processor\t: 0\nmodel name\t: Old Xeon\nflags\t\t: fpu sse2 avx2 avx512f\n")
    val withBf16 = Files.writeString(new File(dir, "cpuinfo-bf16").toPath, "processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n")
    assert(Bfloat16Support.reason(withBf16, None) === None)
    assert(Bfloat16Support.reason(noBf16, None).get.contains("(Old Xeon) has none of the flags avx512_bf16, amx_bf16, bf16"))
    assert(Bfloat16Support.reason(withBf16, Some("0")).get.contains("TF_ENABLE_ONEDNN_OPTS=0 turns oneDNN off"))
    val saved = Bfloat16Support.cpuinfo
    Bfloat16Support.cpuinfo = noBf16
    try {
      ModelCache.clear() // a handle already loaded in bfloat16 would be served without a new check
      val e = checkError("BFLOAT16_NOT_SUPPORTED", Map("model" -> "linear")) {
        withConf(TFSparkConf.PrecisionKey -> "bfloat16")(linearQuery.collect())
      }
      assert(e.messageParameters("reason").contains("bfloat16 would be emulated, slower than float32"))
      assert(linearQuery.collect().length === 64, "float32 still runs on that CPU")
    } finally Bfloat16Support.cpuinfo = saved
  }

  test("the Scala API ships a model in the precision given, else the session's") {
    requireBfloat16()
    val location = models.resolve("linear")
    val shipped = TFInference.ship(spark.sparkContext, location, precision = Precision.BFloat16(0.05))
    assert(shipped.precision === Precision.BFloat16(0.05) && shipped.deviation.exists(_.outputs.nonEmpty))
    val frame = spark.range(0, 8, 1, 1).selectExpr("array(CAST(id AS FLOAT), 1f) AS features")
    assert(explained(TFInference.predictDataFrame(frame, shipped)).contains("precision=bfloat16 for linear"))
    assert(TFInference.ship(spark.sparkContext, location).precision === Precision.Float32)
    withConf(TFSparkConf.PrecisionKey -> "bfloat16") {
      assert(TFInference.ship(spark.sparkContext, location).precision === Precision.BFloat16(Default))
    }
  }

  test("the Transformer: precision param, checked when set; unset, the session's setting") {
    requireBfloat16()
    val frame = spark.range(0, 8, 1, 1).selectExpr("array(CAST(id AS FLOAT), 1f) AS features")
    val scorer = new TFModelTransformer().setModel("linear").setInputCol("features").setPrecision("bfloat16")
    assert(explained(scorer.transform(frame)).contains("precision=bfloat16 for linear"))
    val plain = new TFModelTransformer().setModel("linear").setInputCol("features")
    assert(!explained(plain.transform(frame)).contains("precision="))
    withConf(TFSparkConf.PrecisionKey -> "bfloat16") {
      assert(explained(plain.transform(frame)).contains("precision=bfloat16 for linear"))
      assert(
        !explained(plain.copy(org.apache.spark.ml.param.ParamMap.empty).setPrecision("float32").transform(frame)).contains("precision=")
      )
    }
    checkError("INVALID_CONFIG", Map("key" -> s"TFModelTransformer.precision (as ${TFSparkConf.PrecisionKey})", "got" -> "half")) {
      new TFModelTransformer().setPrecision("half")
    }
  }

  test("BatchScore --precision bfloat16 scores CIFAR2 JPEGs as float32 labels them, and says so in its summary") {
    requireBfloat16()
    def score(precision: Seq[String]): (String, Array[String]) = {
      val out = new File(TestModels.tempDir("batchscore-bf16"), "scored")
      val args = Seq("--repository", TestModels.modelsDir.getPath, "--model", "cifar2", "--input-format", "binaryFile") ++
        Seq("--input", new File(TestModels.dataDir, "cifar2/test/automobile").getPath, "--input-map", "image_bytes=content") ++
        Seq("--drop", "content", "--id-col", "path", "--output", out.getPath) ++ precision
      val summary = BatchScore.run(spark, BatchScoreOptions.parse(args))
      val labels = spark.read.parquet(out.getPath).orderBy("path").select("prediction.label").collect().map(_.getString(0))
      (summary.line, labels)
    }
    val (line, bf16) = score(Seq("--precision", "bfloat16"))
    assert(line.contains("with cifar2/1 (bfloat16, deviation from float32: "), line)
    val (plainLine, f32) = score(Nil)
    assert(plainLine.contains("with cifar2/1 -> "), plainLine)
    assert(bf16.count(_ == "automobile") > 900)
    val agree = bf16.zip(f32).count { case (a, b) => a == b }
    assert(agree >= 995, s"bfloat16 and float32 agree on $agree of 1000 labels")
    checkError("INVALID_ARGUMENT", Map("what" -> "--precision", "got" -> "bf16")) {
      BatchScoreOptions.parse(Seq("--model", "linear", "--input", "x", "--output", "y", "--precision", "bf16"))
    }
  }

  test("Inspect --precision bfloat16 prints each output's deviation and the default limit's verdict") {
    requireBfloat16()
    val keys = Set("repository", "model", "version", "precision")
    val lines = Inspect.render(
      JobArguments.parse(Seq("--repository", TestModels.modelsDir.getPath, "--model", "titanic", "--precision", "bfloat16"), keys)
    )
    val text = lines.mkString("\n")
    assert(text.contains("bfloat16 (CPU flags: ") && text.contains("against float32 on golden vectors:"), text)
    assert(
      lines.exists(_.matches("  serving_default\\.probability: deviation \\d\\.\\de-0\\d, \\|Δ\\| up to \\d\\.\\de-0\\d, over 34 values")),
      text
    )
    assert(text.contains(s"spark.tfpredict.precision.maxDeviation=$Default (the default) accepts it"), text)
  }
}
