package tfspark.bench

import scala.jdk.CollectionConverters._
import scala.util.Using

import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.functions.udf
import org.tensorflow.SavedModelBundle
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.TFloat32

import tfspark.TFInference
import tfspark.model.{ModelRepository, NativeLibrary}

/**
 * JVM-side paths of the benchmark harness (`bench/run`), called from Python through py4j so that
 * every path runs in one session on the same data. Not part of the inference API.
 */
object BenchPaths {

  /**
   * (a) The limit for the numeric models: TF Java's batched `Session.run` on random float rows,
   * outside Spark, on one thread (TF's default session options). Returns rows per second over
   * `rows` rows, the median of `runs` passes after one warm-up batch.
   */
  def rawSessionRun(modelDir: String, rows: Long, width: Int, batchSize: Int, runs: Int): Double = {
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
      val rates = (1 to math.max(1, runs)).map { _ =>
        val start = System.nanoTime()
        var i = 0L
        while (i < batches) { runBatch(); i += 1 }
        batches * batchSize / ((System.nanoTime() - start) / 1e9)
      }.sorted
      rates(rates.length / 2)
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

  /** The Titanic signature's raw inputs and the columns of the Titanic CSV that feed them. */
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
   * (a) for a model with raw inputs (Titanic's columns, IMDB's text, CIFAR2's image bytes): TF
   * Java's batched `Session.run` outside Spark on the rows of `df`, with tfspark's feed. See
   * [[RawModelRuns.ourFeed]]; closes what it opens, returns its rate and outputs.
   */
  def rawFeed(modelDir: String, df: DataFrame, output: String, batchSize: Int, runs: Int, fillNulls: Boolean): RawRun =
    RawModelRuns.ourFeed(modelDir, df, output, batchSize, runs, fillNulls)

  /**
   * (a0) the model's own rate: the same rows as [[rawFeed]] as tensors built once with TF Java's
   * own API, then only `Session.run` is timed. See [[RawModelRuns.prebuilt]].
   */
  def prebuiltTensors(modelDir: String, df: DataFrame, output: String, batchSize: Int, runs: Int, fillNulls: Boolean): RawRun =
    RawModelRuns.prebuilt(modelDir, df, output, batchSize, runs, fillNulls)

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
