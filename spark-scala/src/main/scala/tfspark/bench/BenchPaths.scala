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

  /** (b) The RDD path: the array column as `RDD[Array[Float]]` through `TFInference.predictRDD`; returns the row count. */
  def rdd(df: DataFrame, column: String, repository: String, model: String, batchSize: Int): Long = {
    val shipped = TFInference.ship(df.sparkSession.sparkContext, ModelRepository(repository).resolve(model))
    val arrays = df.select(column).rdd.map(_.getSeq[Float](0).toArray)
    TFInference.predictRDD(arrays, shipped, batchSize).count()
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
}
