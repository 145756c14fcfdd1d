package tfspark.bench

import java.io.File

import scala.jdk.CollectionConverters._
import scala.util.Using

import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.types.DataType
import org.apache.spark.unsafe.types.UTF8String
import org.tensorflow.{SavedModelBundle, SessionFunction, Tensor}
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.{TFloat32, TFloat64, TInt32, TInt64, TString}

import tfspark.model.{ModelLocation, NativeLibrary, SavedModelHandle, SignatureSpec, TFDType, TensorSpec}
import tfspark.tensor.BatchFeeder

/**
 * What one of [[RawModelRuns]]' measurements gives the harness: the median rate, and the output
 * it checks against the other paths.
 *
 * @param rowsPerSecond rows per second, the median of the timed passes
 * @param output signature output `output` of every row, in the order of the DataFrame's rows
 *   (float32, native byte order), from the untimed warm-up pass
 */
final class RawRun(val rowsPerSecond: Double, val output: Array[Byte])

/**
 * TF Java's batched `Session.run` on one thread, outside Spark, over the rows of a DataFrame whose
 * columns feed the `serving_default` signature by name (case-insensitive: Titanic's `Pclass` feeds
 * `pclass`). The rows are collected to the driver first (not timed), and the model is loaded with
 * TF's default session options (its own thread pools), as a Python TF user has it.
 *
 *  - [[ourFeed]], path (a): every batch's tensors are built in the timed loop by tfspark's feeders
 *    ([[BatchFeeder]], the feed of the SQL path) from Catalyst values, and closed after the run;
 *  - [[prebuilt]], path (a0): the model's own rate. Every batch's tensors are built once, before the
 *    timing, with TF Java's own API (`TString.tensorOfBytes`, `TFloat32.tensorOf`, ...), so they
 *    also serve as a reference for tfspark's feed: the harness compares the outputs.
 *
 * Each method runs one untimed warm-up pass over all rows (keeping the outputs), then `runs` timed
 * passes, and returns the median rate. It closes every tensor, result and model it opens.
 *
 * @throws IllegalArgumentException when an input has no column, a column is null where it cannot be
 *   filled, or (for [[prebuilt]]) an input is not one value per row of int32/int64/float32/float64/string
 */
object RawModelRuns {

  private val Signature = "serving_default"

  def ourFeed(modelDir: String, df: DataFrame, output: String, batchSize: Int, runs: Int, fillNulls: Boolean): RawRun = {
    val data = RawRows(modelDir, df)
    val feeders = data.inputs.map(in => BatchFeeder.create(data.model, Signature, in.spec, in.sparkType, fillNulls))
    def batch(from: Int, until: Int): Seq[(String, Tensor)] = {
      feeders.foreach(_.clear())
      var r = from
      while (r < until) {
        val row = data.rows(r)
        var i = 0
        while (i < feeders.length) {
          if (row.isNullAt(i)) feeders(i).add(null, s"row $r") else feeders(i).addField(row, i, s"row $r")
          i += 1
        }
        r += 1
      }
      feeders.flatMap(_.tensors(0, until - from))
    }
    measure(modelDir, data.rows.length, output, batchSize, runs) { (fn, from, until, keep) =>
      val inputs = batch(from, until)
      try Using.resource(fn.call(inputs.toMap.asJava))(result => keep(result.get(output).orElseThrow()))
      finally inputs.foreach(_._2.close())
    }
  }

  def prebuilt(modelDir: String, df: DataFrame, output: String, batchSize: Int, runs: Int, fillNulls: Boolean): RawRun = {
    val data = RawRows(modelDir, df)
    val n = data.rows.length
    val batches = (0 until n by batchSize).map { from =>
      val until = math.min(n, from + batchSize)
      data.inputs.zipWithIndex.map { case (in, i) => in.spec.key -> plainTensor(data, in, i, from, until, fillNulls) }.toMap.asJava
    }
    try
      measure(modelDir, n, output, batchSize, runs) { (fn, from, _, keep) =>
        Using.resource(fn.call(batches(from / batchSize)))(result => keep(result.get(output).orElseThrow()))
      }
    finally batches.foreach(_.values.asScala.foreach(_.close()))
  }

  /** A signature input and the Spark type of the column (of [[RawRows.rows]], at its index) that feeds it. */
  private final case class Input(spec: TensorSpec, sparkType: DataType)

  /** The model's name, its signature's inputs, and the rows of their columns (in input order). */
  private final case class RawRows(model: String, inputs: IndexedSeq[Input], rows: Array[InternalRow])

  private object RawRows {
    def apply(modelDir: String, df: DataFrame): RawRows = {
      NativeLibrary.ensureConfigured()
      val dir = new File(modelDir).getAbsoluteFile
      val location = ModelLocation(dir.getParentFile.getName, dir.getName.toLong, dir)
      val signature: SignatureSpec = Using.resource(SavedModelHandle.load(location))(_.signature(Signature))
      val columns = signature.inputs.map { spec =>
        df.columns
          .find(_.equalsIgnoreCase(spec.key))
          .getOrElse(throw new IllegalArgumentException(s"no column for input ${spec.key}: ${df.columns.mkString(", ")}"))
      }
      val selected = df.select(columns.map(c => df.col(s"`$c`")): _*)
      val inputs = signature.inputs.zip(selected.schema.fields).map { case (spec, field) => Input(spec, field.dataType) }.toIndexedSeq
      RawRows(location.name, inputs, selected.queryExecution.executedPlan.executeCollect())
    }
  }

  /**
   * Loads the model with TF's defaults, runs `pass` over every batch once keeping output `output`,
   * then times `runs` passes that discard it; the model is closed on return.
   */
  private def measure(modelDir: String, n: Int, output: String, batchSize: Int, runs: Int)(
      run: (SessionFunction, Int, Int, Tensor => Unit) => Unit
  ): RawRun = {
    require(n > 0 && batchSize > 0 && runs > 0, s"rows $n, batch size $batchSize, runs $runs")
    Using.resource(SavedModelBundle.load(modelDir, SavedModelBundle.DEFAULT_TAG)) { bundle =>
      val fn = bundle.function(Signature)
      val kept = new Array[Byte](4 * n)
      def pass(keep: Boolean): Unit = {
        var from = 0
        while (from < n) {
          val until = math.min(n, from + batchSize)
          val offset = 4 * from
          run(fn, from, until, t => if (keep) copyFloats(t, output, until - from, kept, offset))
          from = until
        }
      }
      pass(keep = true)
      val seconds = (1 to runs).map { _ =>
        val start = System.nanoTime()
        pass(keep = false)
        (System.nanoTime() - start) / 1e9
      }.sorted
      new RawRun(n / seconds(seconds.length / 2), kept)
    }
  }

  /** Copies `rows` float32 values of output tensor `t` (one per row: shape `[rows]` or `[rows,1]`) into `into` at `offset`. */
  private def copyFloats(t: Tensor, output: String, rows: Int, into: Array[Byte], offset: Int): Unit = t match {
    case f: TFloat32 if f.shape().size() == rows => f.asRawTensor().data().read(into, offset, 4 * rows)
    case other =>
      throw new IllegalArgumentException(s"output $output is ${other.dataType()} ${other.shape()}, not one float32 per row of $rows")
  }

  /** Rows `[from, until)` of input `i` as a `[rows]` tensor built with TF Java's own API; the caller closes it. */
  private def plainTensor(data: RawRows, in: Input, i: Int, from: Int, until: Int, fillNulls: Boolean): Tensor = {
    val spec = in.spec
    if (!spec.shape.contains(Seq(-1L)) || spec.composite.nonEmpty)
      throw new IllegalArgumentException(s"(a0) builds inputs of one value per row; ${data.model} has $spec")
    val rows = data.rows.slice(from, until)
    val shape = Shape.of(rows.length.toLong)
    def value(r: InternalRow, what: String, fill: Any): Any =
      if (!r.isNullAt(i)) r.get(i, in.sparkType)
      else if (fillNulls && fill != null) fill
      else throw new IllegalArgumentException(s"${data.model} input ${spec.key}: null, and a $what cannot be filled")
    def number(r: InternalRow, fill: Any) = value(r, spec.dtype.name, fill).asInstanceOf[Number]
    spec.dtype match {
      case TFDType.String =>
        val bytes = rows.map { r =>
          value(r, "string", Array.emptyByteArray) match {
            case b: Array[Byte] => b // a binary column (image bytes), or the fill
            case s: UTF8String => s.getBytes
            case v => throw new IllegalArgumentException(s"${data.model} input ${spec.key}: a ${in.sparkType} value $v, not a string")
          }
        }
        TString.tensorOfBytes(shape, DataBuffers.ofObjects(bytes: _*))
      case TFDType.Float32 => TFloat32.tensorOf(shape, DataBuffers.of(rows.map(number(_, Float.NaN).floatValue()), true, false))
      case TFDType.Float64 => TFloat64.tensorOf(shape, DataBuffers.of(rows.map(number(_, Double.NaN).doubleValue()), true, false))
      case TFDType.Int64 => TInt64.tensorOf(shape, DataBuffers.of(rows.map(number(_, null).longValue()), true, false))
      case TFDType.Int32 => TInt32.tensorOf(shape, DataBuffers.of(rows.map(number(_, null).intValue()), true, false))
      case other => throw new IllegalArgumentException(s"(a0) builds int32/int64/float32/float64/string inputs; ${data.model} has $other")
    }
  }
}
