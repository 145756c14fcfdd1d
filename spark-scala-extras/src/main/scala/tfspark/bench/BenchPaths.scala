package tfspark.bench

import scala.jdk.CollectionConverters._
import scala.util.Using

import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.functions.udf
import org.tensorflow.SavedModelBundle
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.{TFloat32, TInt64}

import tfspark.TFInference
import tfspark.model.{ModelRepository, NativeLibrary}

/**
 * JVM-side paths of the benchmark harness (`bench/run`), called from Python through py4j so that
 * every path runs in one session on the same data. Not part of the inference API.
 */
object BenchPaths {

  /**
   * (a) The limit: TF Java's batched `Session.run` on random float rows, outside Spark, on one thread.
   * Returns rows per second over `rows` rows (after one warm-up batch).
   */
  def rawSessionRun(modelDir: String, rows: Long, width: Int, batchSize: Int): Double = {
    NativeLibrary.ensureConfigured()
    Using.resource(SavedModelBundle.load(modelDir, SavedModelBundle.DEFAULT_TAG)) { bundle =>
      val fn = bundle.function("serving_default")
      val inputKey = fn.signature().inputNames().asScala.head
      val data = Array.fill(batchSize * width)(scala.util.Random.nextFloat())
      def runBatch(): Unit =
        Using.resource(TFloat32.tensorOf(Shape.of(batchSize.toLong, width.toLong), DataBuffers.of(data, true, false))) { t =>
          Using.resource(fn.call(Map[String, org.tensorflow.Tensor](inputKey -> t).asJava))(_ => ())
        }
      runBatch()
      val batches = math.max(1L, rows / batchSize)
      val start = System.nanoTime()
      var i = 0L
      while (i < batches) { runBatch(); i += 1 }
      batches * batchSize / ((System.nanoTime() - start) / 1e9)
    }
  }

  /**
   * (b) The RDD path as its users have it: an `RDD[Array[Float]]`, materialized and cached first
   * (not timed, see [[cachedArrays]]), through `TFInference.predictRDD`; returns the row count.
   */
  def rdd(arrays: org.apache.spark.rdd.RDD[Array[Float]], repository: String, model: String, batchSize: Int): Long = {
    val shipped = TFInference.ship(arrays.sparkContext, ModelRepository(repository).resolve(model))
    TFInference.predictRDD(arrays, shipped, batchSize).count()
  }

  /** The array column of `df` as a cached, materialized `RDD[Array[Float]]` for [[rdd]]. */
  def cachedArrays(df: DataFrame, column: String): org.apache.spark.rdd.RDD[Array[Float]] = {
    val arrays = df.select(column).rdd.map(_.getSeq[Float](0).toArray).cache()
    arrays.count()
    arrays
  }

  /**
   * (f) The book's chapter 6-7 pattern: a Scala UDF that opens a session runner per row and feeds a
   * one-row tensor by tensor name (read here from the signature, where the book hard-coded it).
   * The bundle is loaded once per JVM, as the book's broadcast effectively did in local mode.
   * Registers `book_predict(array<float>) -> float`.
   */
  def registerChapter67Udf(spark: SparkSession, repository: String, model: String): Unit = {
    val dir = ModelRepository(repository).resolve(model).directory.getAbsolutePath
    val predict = udf { (features: Seq[Float]) =>
      val bundle = Chapter67.bundle(dir)
      val sig = bundle.function("serving_default").signature()
      val in = sig.getInputs.asScala.head._2.name
      val out = sig.getOutputs.asScala.head._2.name
      Using.resource(TFloat32.tensorOf(Shape.of(1L, features.size.toLong), DataBuffers.of(features.toArray, true, false))) { t =>
        Using.resource(bundle.session().runner().feed(in, t).fetch(out).run()) { r =>
          r.get(0).asInstanceOf[TFloat32].getFloat(0, 0)
        }
      }
    }
    spark.udf.register("book_predict", predict)
  }

  private object Chapter67 {
    private val bundles = new java.util.concurrent.ConcurrentHashMap[String, SavedModelBundle]()
    def bundle(dir: String): SavedModelBundle = {
      NativeLibrary.ensureConfigured()
      bundles.computeIfAbsent(dir, d => SavedModelBundle.load(d, SavedModelBundle.DEFAULT_TAG))
    }
  }

  /**
   * (i) BatchScore in this session (JVM start-up excluded): `args` as on the command line, for
   * example Parquet in and Parquet out. Returns the rows written.
   */
  def batchScore(spark: SparkSession, args: Array[String]): Long =
    tfspark.jobs.BatchScore.run(spark, tfspark.jobs.BatchScoreOptions.parse(args.toSeq)).rows

  /** The Titanic signature's raw inputs, in the order of [[titanicRaw]]'s arrays. */
  private val TitanicColumns =
    Seq(
      "pclass" -> "Pclass",
      "name" -> "Name",
      "sex" -> "Sex",
      "age" -> "Age",
      "sibsp" -> "SibSp",
      "parch" -> "Parch",
      "fare" -> "Fare",
      "cabin" -> "Cabin",
      "embarked" -> "Embarked"
    )

  /**
   * (a) for Titanic: TF Java's batched `Session.run` outside Spark on the same raw columns Spark
   * feeds (the rows of `df`, collected to the driver first and not timed), building each batch's
   * tensors from primitive arrays and byte strings as tfspark does. Returns rows per second.
   */
  def titanicRaw(modelDir: String, df: DataFrame, batchSize: Int): Double = {
    NativeLibrary.ensureConfigured()
    val rows = df.selectExpr(TitanicColumns.map(_._2): _*).collect()
    val n = rows.length
    def longs(i: Int) = rows.map(r => if (r.isNullAt(i)) 0L else r.getAs[Number](i).longValue())
    def floats(i: Int) = rows.map(r => if (r.isNullAt(i)) Float.NaN else r.getAs[Number](i).floatValue())
    def strings(i: Int) = rows.map(r => if (r.isNullAt(i)) Array.emptyByteArray else r.getString(i).getBytes("UTF-8"))
    val (pclass, name, sex, age, sibsp, parch, fare, cabin, embarked) =
      (longs(0), strings(1), strings(2), floats(3), longs(4), longs(5), floats(6), strings(7), strings(8))
    Using.resource(SavedModelBundle.load(modelDir, SavedModelBundle.DEFAULT_TAG)) { bundle =>
      val fn = bundle.function("serving_default")
      def runBatch(from: Int): Unit = {
        val m = math.min(batchSize, n - from)
        val shape = Shape.of(m.toLong)
        def l(a: Array[Long]) = TInt64.tensorOf(shape, DataBuffers.of(java.util.Arrays.copyOfRange(a, from, from + m), true, false))
        def f(a: Array[Float]) = TFloat32.tensorOf(shape, DataBuffers.of(java.util.Arrays.copyOfRange(a, from, from + m), true, false))
        def s(a: Array[Array[Byte]]) = tfspark.tensor.StringTensors.of(shape, java.util.Arrays.copyOfRange(a, from, from + m), m)
        val inputs = Map[String, org.tensorflow.Tensor](
          "pclass" -> l(pclass),
          "name" -> s(name),
          "sex" -> s(sex),
          "age" -> f(age),
          "sibsp" -> l(sibsp),
          "parch" -> l(parch),
          "fare" -> f(fare),
          "cabin" -> s(cabin),
          "embarked" -> s(embarked)
        )
        try Using.resource(fn.call(inputs.asJava))(_ => ())
        finally inputs.values.foreach(_.close())
      }
      runBatch(0)
      val start = System.nanoTime()
      var from = 0
      while (from < n) { runBatch(from); from += batchSize }
      n / ((System.nanoTime() - start) / 1e9)
    }
  }

  /** (b) for Titanic: the rows of `df` as maps of raw inputs through the RDD API (`predictMaps`); returns the row count. */
  def titanicRdd(df: DataFrame, repository: String, batchSize: Int): Long = {
    val shipped = TFInference.ship(df.sparkSession.sparkContext, ModelRepository(repository).resolve("titanic"))
    val maps = df.selectExpr(TitanicColumns.map(_._2): _*).rdd.map { r =>
      def long(i: Int): Any = if (r.isNullAt(i)) 0L else r.getAs[Number](i).longValue()
      def float(i: Int): Any = if (r.isNullAt(i)) Float.NaN else r.getAs[Number](i).floatValue()
      def string(i: Int): Any = if (r.isNullAt(i)) "" else r.getString(i)
      Map[String, Any](
        "pclass" -> long(0),
        "name" -> string(1),
        "sex" -> string(2),
        "age" -> float(3),
        "sibsp" -> long(4),
        "parch" -> long(5),
        "fare" -> float(6),
        "cabin" -> string(7),
        "embarked" -> string(8)
      )
    }
    TFInference.predictMaps(maps, shipped, batchSize).count()
  }
}
