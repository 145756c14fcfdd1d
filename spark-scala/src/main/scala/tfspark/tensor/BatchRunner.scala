package tfspark.tensor

import scala.collection.mutable.ArrayBuffer
import scala.util.Using

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types.{ArrayType, BinaryType, DataType}
import org.tensorflow.Tensor

import tfspark.errors.TFSparkErrors
import tfspark.model.SavedModelHandle

/**
 * Runs a [[SignatureBinding]] over batches: [[add]] copies one row's argument into every input's
 * buffer, [[run]] returns one result per added row, in order (Catalyst internal values; a struct
 * `InternalRow` when the signature has several outputs), and clears the batch.
 *
 * A row that [[add]] rejects leaves nothing in the batch. When TF fails on a batch, the runner
 * bisects it (runs halves, then their halves) to find the rows TF fails on: [[run]] returns null
 * for those, and [[failures]] names them with TF's error, so one bad image costs one row. With
 * `stopAtFirstFailure` it stops at the first such row (the caller will fail the task anyway). A row
 * whose string output is not UTF-8 (and not declared binary) is a failure of its own
 * ([[OutputDecoder.NotUtf8]]), found without re-running anything.
 *
 * A batch is normally one `Session.run`. Scalar-shaped inputs (`()`) take one value per run, so
 * the runner cuts the batch into *segments* wherever such a value changes, running each closed
 * segment as soon as the next row needs a new one; a signature of scalar inputs only runs once
 * per row. Callers see none of this: [[run]] still returns every row's result in order.
 *
 * Input tensors and each `Result` (which owns the outputs) are closed before the segment's run
 * returns. Not thread-safe: one per task.
 *
 * @param fillNulls null scalar inputs become NaN or "" (`spark.tfpredict.nullPolicy=fill`)
 * @param fieldOrdinals where each field of a struct argument is in the rows that [[add]] gets,
 *   when the caller hands it the row its argument's fields are plain columns of (no struct is built)
 * @param describeFailedInputs keep, for each row TF fails on, its inputs as text ([[failedInput]]),
 *   for a caller that keeps nothing else that names the row
 */
final class BatchRunner(
    handle: SavedModelHandle,
    val binding: SignatureBinding,
    val capacity: Int,
    fillNulls: Boolean,
    stopAtFirstFailure: Boolean = true,
    fieldOrdinals: Option[IndexedSeq[Int]] = None,
    describeFailedInputs: Boolean = false
) {
  require(capacity > 0, s"batch capacity must be positive, got $capacity")

  private val feeders: Array[BatchFeeder] = binding.inputs.map { case (spec, t, _) =>
    BatchFeeder.create(binding.model, binding.signature, spec, t, fillNulls)
  }.toArray
  private val ordinals = binding.inputs.map(_._3.map(o => fieldOrdinals.fold(o)(_(o)))).toArray
  private val types = binding.inputs.map(_._2).toArray
  // Typed getters, chosen once: InternalRow.get(ordinal, type) on an UnsafeRow resolves its reader per call (through SQLConf).
  private val accessors = types.map(t => InternalRow.getAccessor(t))
  private val unbatched = feeders.map(!_.batched)
  private val scalarTyped = types.map(SparkTypes.depthOf(_) == 0) // a null there can be filled
  private val anyUnbatched = unbatched.contains(true)
  private val perRow = binding.perRow
  private val decoders = binding.decoders
  private val values = new Array[Any](feeders.length) // one row's scalar-input values, reused
  private val nulls = new Array[Boolean](feeders.length)
  private val segmentScalars = new Array[Any](feeders.length) // the open segment's scalar inputs
  private val closedSegments = ArrayBuffer.empty[Seq[Array[Any]]] // decoded columns per closed segment
  private val failed = ArrayBuffer.empty[(Int, Throwable)] // (row of the batch, TF's error), in row order
  private val failedInputs = scala.collection.mutable.Map.empty[Int, String] // row of the batch -> its inputs as text
  private var lastFailures: Seq[(Int, Throwable)] = Nil
  private var lastFailedInputs: Map[Int, String] = Map.empty
  private var rows = 0
  private var segmentRows = 0

  def size: Int = rows
  def isEmpty: Boolean = rows == 0

  def clear(): Unit = {
    rows = 0
    segmentRows = 0
    closedSegments.clear()
    failed.clear()
    failedInputs.clear()
    feeders.foreach(_.clear())
  }

  /**
   * The rows of the last [[run]] that TF failed on, as (position in that batch, TF's exception),
   * in order; their results are null. Empty when the whole batch ran.
   */
  def failures: Seq[(Int, Throwable)] = lastFailures

  /**
   * The model inputs of row `row` of the last [[run]]'s [[failures]], as text read back from the
   * batch's own tensors (`row with inputs {key: value, ...}`, shortened by [[ValueText]]): names a row by its
   * content where the caller did not keep the row itself. Kept only with `describeFailedInputs`.
   */
  def failedInput(row: Int): String = lastFailedInputs.getOrElse(row, s"row $row of its batch")

  private val elementsNullable = types.map(BatchRunner.elementsNullable)

  /**
   * Whether a non-null argument has a null input field, or a null element in an input array (a
   * whole-row null is the caller's to check).
   */
  def hasNullInput(argument: Any): Boolean = {
    var i = 0
    while (i < feeders.length) {
      val value = ordinals(i) match {
        case None => argument
        case Some(o) =>
          val struct = argument.asInstanceOf[InternalRow]
          if (struct.isNullAt(o)) return true
          if (elementsNullable(i)) struct.getArray(o) else null
      }
      if (elementsNullable(i) && BatchRunner.hasNullElement(value, types(i))) return true
      i += 1
    }
    false
  }

  /**
   * Copies one row's argument (not null) into the batch; runs the open segment first when this
   * row's scalar inputs differ from it. A row that throws here is not added (the batch is as it
   * was, though the open segment may have run).
   *
   * @throws tfspark.errors.TFSparkException NULL_INPUT, INPUT_SHAPE_MISMATCH naming `row`
   */
  def add(argument: Any, row: => String): Unit = {
    // First the null checks and the scalar inputs (which may close the open segment), then the
    // batched inputs, read straight from the struct without boxing.
    var i = 0
    while (i < feeders.length) {
      val isNull = ordinals(i) match {
        case None => argument == null
        case Some(ordinal) => argument.asInstanceOf[InternalRow].isNullAt(ordinal)
      }
      if (isNull && !(fillNulls && scalarTyped(i))) {
        throw TFSparkErrors.nullInput(binding.model, feeders(i).spec.key, s"a value of type ${types(i).simpleString}", row)
      }
      nulls(i) = isNull
      if (unbatched(i)) values(i) = if (isNull) null else valueOf(argument, i)
      i += 1
    }
    if (segmentRows > 0 && (perRow || (anyUnbatched && scalarsChange()))) runSegment()
    try {
      i = 0
      while (i < feeders.length) {
        if (unbatched(i)) {
          if (segmentRows == 0) { feeders(i).add(values(i), row); segmentScalars(i) = BatchRunner.owned(values(i)) } // once per segment
        } else if (nulls(i)) feeders(i).add(null, row)
        else
          ordinals(i) match {
            case None => feeders(i).add(argument, row)
            case Some(ordinal) => feeders(i).addField(argument.asInstanceOf[InternalRow], ordinal, row)
          }
        i += 1
      }
    } catch {
      case e: Throwable =>
        feeders.foreach(f => f.truncate(math.min(f.size, if (f.batched) segmentRows else math.min(segmentRows, 1))))
        throw e
    } finally java.util.Arrays.fill(values.asInstanceOf[Array[AnyRef]], null)
    segmentRows += 1
    rows += 1
  }

  private def valueOf(argument: Any, i: Int): Any = ordinals(i) match {
    case None => argument
    case Some(ordinal) => accessors(i)(argument.asInstanceOf[InternalRow], ordinal)
  }

  private def scalarsChange(): Boolean = {
    var i = 0
    while (i < feeders.length) {
      if (unbatched(i) && !BatchRunner.sameValue(values(i), segmentScalars(i))) return true
      i += 1
    }
    false
  }

  /**
   * Runs what is buffered; returns the results of every row added since the last [[run]], in
   * order (null for the rows in [[failures]]), and clears the batch.
   */
  def run(): Array[Any] = {
    if (segmentRows > 0) runSegment()
    val columns =
      if (closedSegments.size == 1) closedSegments.head
      else decoders.indices.map(c => closedSegments.iterator.flatMap(_(c)).toArray)
    val n = rows
    lastFailures = failed.toList
    lastFailedInputs = failedInputs.toMap
    clear()
    if (columns.size == 1) columns.head
    else
      Array.tabulate[Any](n) { r =>
        if (lastFailures.nonEmpty && lastFailures.exists(_._1 == r)) null else new GenericInternalRow(columns.map(_(r)).toArray)
      }
  }

  /** Runs the open segment (bisecting it if TF fails on it); keeps its decoded columns. */
  private def runSegment(): Unit = {
    val n = segmentRows
    val columns = runRange(0, n) match {
      case Right(decoded) => decoded
      case Left(error) =>
        val decoded = decoders.map(_ => new Array[Any](n))
        if (n == 1) fail(0, error) else bisect(0, n, decoded)
        decoded
    }
    closedSegments += columns
    segmentRows = 0
    feeders.foreach(_.clear())
  }

  /** Finds the rows in `[from, until)` of the open segment that TF fails on, filling `into` for the others. */
  private def bisect(from: Int, until: Int, into: Seq[Array[Any]]): Unit =
    if (!(stopAtFirstFailure && failed.nonEmpty)) runRange(from, until) match {
      case Right(decoded) => decoded.zip(into).foreach { case (d, column) => System.arraycopy(d, 0, column, from, until - from) }
      case Left(error) if until - from == 1 => fail(from, error)
      case Left(_) =>
        val middle = (from + until) >>> 1
        bisect(from, middle, into)
        bisect(middle, until, into)
    }

  /** Records that TF failed on row `position` of the open segment, with that row's inputs as text (its buffers are still full). */
  private def fail(position: Int, error: Throwable): Unit = {
    val row = rows - segmentRows + position
    failed += (row -> error)
    if (describeFailedInputs) failedInputs(row) = describeInput(position)
  }

  /** Row `position` of the open segment's inputs, read back from their tensors; an input that cannot be shown says so. */
  private def describeInput(position: Int): String =
    feeders.indices
      .map { i =>
        val f = feeders(i)
        val text =
          try
            f.tensors(position, position + 1) match {
              case Seq((_, tensor)) =>
                try {
                  val decoder =
                    new OutputDecoder(binding.model, binding.signature, f.spec, unitDimAsArray = true, f.batched, types(i) == BinaryType)
                  var utf8 = true
                  val value = decoder.decode(tensor, 1, (_, _) => utf8 = false)(0)
                  if (utf8) ValueText.of(value, decoder.sparkType) else "<not UTF-8>"
                } finally tensor.close()
              case several => several.foreach(_._2.close()); "<not shown>"
            }
          catch { case scala.util.control.NonFatal(_) => "<not shown>" }
        s"${f.spec.key}: $text"
      }
      .mkString("row with inputs {", ", ", "}")

  /**
   * One `Session.run` on rows `[from, until)` of the open segment: the decoded columns, or TF's
   * error. A row whose string output is not valid UTF-8 is a failed row (null in every column,
   * its [[OutputDecoder.NotUtf8]] in [[failures]]): the model ran, so there is nothing to bisect.
   */
  private def runRange(from: Int, until: Int): Either[RuntimeException, Seq[Array[Any]]] = {
    val inputs = scala.collection.mutable.LinkedHashMap.empty[String, Tensor]
    try {
      feeders.foreach(f => f.tensors(from, until).foreach(inputs += _)) // an unbatched input: its one value
      Using.resource(handle.run(binding.signature, inputs.toMap)) { result =>
        var invalid: scala.collection.mutable.TreeMap[Int, Throwable] = null
        val decoded = decoders.map { d =>
          d.decode(
            result.get(d.spec.key).orElseThrow(),
            until - from,
            (r, e) => {
              if (invalid == null) invalid = scala.collection.mutable.TreeMap.empty
              invalid(r) = invalid.get(r) match { // one error per row, naming every output that is not UTF-8
                case Some(first: OutputDecoder.NotUtf8) => new OutputDecoder.NotUtf8(s"${first.output},${e.output}", first.detail)
                case _ => e
              }
            }
          )
        }
        if (invalid != null) invalid.foreach { case (r, e) =>
          decoded.foreach(_(r) = null)
          fail(from + r, e)
        }
        Right(decoded)
      }
    } catch {
      // TF Java's status exceptions share a package, not a base class (TFInvalidArgumentException
      // is an IllegalArgumentException, TFFailedPreconditionException an IllegalStateException).
      case e: RuntimeException if e.getClass.getName.startsWith("org.tensorflow.exceptions.") => Left(e)
    } finally inputs.values.foreach(_.close())
  }
}

object BatchRunner {

  /**
   * A copy of a Catalyst value that outlives the row it came from: strings and arrays read from an
   * `UnsafeRow` point into the row's buffer, which the upstream operator reuses.
   */
  private[tensor] def owned(value: Any): Any = value match {
    case s: org.apache.spark.unsafe.types.UTF8String => s.clone()
    case a: org.apache.spark.sql.catalyst.util.ArrayData => a.copy()
    case b: Array[Byte] => b.clone()
    case other => other
  }

  /** Whether an array type may hold null elements at any depth. */
  private def elementsNullable(t: DataType): Boolean = t match {
    case ArrayType(e, containsNull) => containsNull || elementsNullable(e)
    case _ => false
  }

  /** Whether `value` (an `ArrayData` of type `t`, or a primitive array from the RDD path) holds a null element. */
  private def hasNullElement(value: Any, t: DataType): Boolean = (value, t) match {
    case (array: ArrayData, ArrayType(e, containsNull)) =>
      var i = 0
      while (i < array.numElements()) {
        if (containsNull && array.isNullAt(i)) return true
        if (e.isInstanceOf[ArrayType] && !array.isNullAt(i) && hasNullElement(array.getArray(i), e)) return true
        i += 1
      }
      false
    case _ => false
  }

  /** Equality of two Catalyst input values (binary values by content). */
  private[tensor] def sameValue(a: Any, b: Any): Boolean = (a, b) match {
    case (x: Array[Byte], y: Array[Byte]) => java.util.Arrays.equals(x, y)
    case _ => a == b
  }
}
