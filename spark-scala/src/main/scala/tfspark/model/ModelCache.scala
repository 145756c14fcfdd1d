package tfspark.model

import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger

import scala.collection.mutable
import scala.jdk.CollectionConverters._

import org.apache.spark.TaskContext

import org.slf4j.LoggerFactory

import tfspark.conf.{Precision, TFSparkConf}
import tfspark.errors.TFSparkErrors
import tfspark.model.warmup.ModelWarmup

/**
 * The loaded [[SavedModelHandle]]s of this JVM: one per model content (SHA-256) and [[Precision]],
 * shared by every task thread. Loads lazily on first use, and validates each load with
 * [[ModelWarmup]]; concurrent first uses load once. A bfloat16 load is also measured against
 * float32 ([[PrecisionDeviation]], logged) where the golden vectors are (the driver; executors take
 * the driver's measure), and every use checks that measure against the caller's `maxDeviation`.
 *
 * The cache owns the handles. A task that uses a handle holds it until the task completes
 * ([[acquire]] registers that with the task), so a handle is never closed under a running task.
 * Beyond `spark.tfpredict.maxLoadedModels` versions, the least recently used handles that no task
 * holds are closed and dropped, so a long-lived executor that sees versions roll keeps a bounded
 * number loaded. Everything is closed at JVM shutdown (or on [[clear]]). Callers never close
 * what they acquire.
 */
object ModelCache {

  private val log = LoggerFactory.getLogger(getClass)

  private final class Entry(val handle: SavedModelHandle) {
    var holders = 0
  }

  /** Access-ordered: the first entries are the least recently used. Guarded by `lock`. */
  private val entries = new java.util.LinkedHashMap[String, Entry](16, 0.75f, true)
  private val lock = new Object
  private val loadLocks = new ConcurrentHashMap[String, Object]()
  private val loads = new ConcurrentHashMap[String, AtomicInteger]()

  sys.addShutdownHook(clear())

  /**
   * The handle for content `sha256` in `precision`, loading (and warming up) it from `location` if
   * this JVM has none yet. Inside a task, the task holds the handle until it completes.
   *
   * A bfloat16 load takes `measured` as its measure when given (the driver's, for executors: they
   * do not receive the golden vectors, [[ModelManifest]]); else this JVM measures it.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED (the load or its warm-up failed, the
   *   version is incomplete, or its files changed while it was loaded), NATIVE_LIBRARY_MISSING,
   *   BFLOAT16_NOT_SUPPORTED, BFLOAT16_DEVIATION_EXCEEDED
   */
  def acquire(
      sha256: String,
      location: => ModelLocation,
      precision: Precision = Precision.Float32,
      measured: Option[PrecisionDeviation] = None
  ): SavedModelHandle = {
    val task = TaskContext.get()
    val key = keyOf(sha256, precision)
    val handle = acquireHolding(key, sha256, location, precision, measured, hold = task != null)
    if (task != null) task.addTaskCompletionListener[Unit](_ => release(key))
    evictBeyondBound()
    checkDeviation(handle, precision)
    handle
  }

  /** The cache's key: the content, and the precision when it is not float32. */
  private def keyOf(sha256: String, precision: Precision): String =
    if (precision == Precision.Float32) sha256 else s"$sha256+${precision.name}"

  private def acquireHolding(
      key: String,
      sha256: String,
      location: => ModelLocation,
      precision: Precision,
      measured: Option[PrecisionDeviation],
      hold: Boolean
  ): SavedModelHandle =
    lookup(key, hold).getOrElse {
      loadLocks.computeIfAbsent(key, _ => new Object).synchronized {
        lookup(key, hold).getOrElse {
          val at = location
          // A failure is explained by what happened to the files first ([[ModelDiagnosis]]).
          val loaded = ModelDiagnosis.loading(at, Some(sha256)) {
            val handle = SavedModelHandle.load(at, precision)
            try {
              ModelWarmup.run(handle)
              if (precision != Precision.Float32) measured.fold(measure(handle))(handle.recordDeviation)
            } catch { case e: Throwable => handle.close(); throw e }
            handle
          }
          loads.computeIfAbsent(key, _ => new AtomicInteger()).incrementAndGet()
          lock.synchronized {
            val entry = new Entry(loaded)
            if (hold) entry.holders += 1
            entries.put(key, entry)
          }
          loaded
        }
      }
    }

  /** Measures a reduced-precision load against float32 and logs what it found. */
  private def measure(handle: SavedModelHandle): Unit = {
    val deviation = PrecisionDeviation.measure(handle)
    handle.recordDeviation(deviation)
    val at = handle.location
    val sources = deviation.source.values.toSeq.distinct.sorted.mkString(", ")
    log.info(s"Model ${at.name}/${at.version} in ${handle.precision}: ${deviation.summary} (measured on $sources)")
    if (deviation.outputs.nonEmpty && deviation.unmeasured.isEmpty && deviation.maxDeviation == 0)
      log.warn(
        s"Model ${at.name}/${at.version} in ${handle.precision}: no output moved at all from float32 on its warm-up inputs; " +
          "the model may have no matmul or convolution that oneDNN runs in bfloat16, so it will not run faster"
      )
  }

  /**
   * Refuses a reduced-precision handle whose measure exceeds the caller's limit, or with a signature
   * that nothing measured. @throws tfspark.errors.TFSparkException BFLOAT16_DEVIATION_EXCEEDED
   */
  private def checkDeviation(handle: SavedModelHandle, precision: Precision): Unit = precision match {
    case Precision.Float32 =>
    case Precision.BFloat16(limit) =>
      val deviation = handle.deviation.getOrElse(throw new IllegalStateException("a bfloat16 handle without its measure"))
      val beyond = deviation.beyond(limit)
      val at = handle.location
      val sources = if (deviation.source.isEmpty) "no inputs" else deviation.source.values.toSeq.distinct.sorted.mkString(", ")
      if (deviation.unmeasured.nonEmpty)
        throw TFSparkErrors.bfloat16DeviationExceeded(
          at.name,
          at.version,
          limit,
          s"nothing measured signature ${deviation.unmeasured.mkString(", ")}; give the model golden vectors " +
            "(python -m python_trainer export, or tfspark.toolkit.export.add_golden_vectors) or TF Serving warm-up requests " +
            "(assets.extra/tf_serving_warmup_requests) that hold real inputs",
          deviation.summary,
          sources
        )
      if (beyond.nonEmpty)
        throw TFSparkErrors.bfloat16DeviationExceeded(at.name, at.version, limit, beyond.mkString(", "), deviation.summary, sources)
  }

  /**
   * The handle for a shipped model in its precision, loading it from its local copy if needed; a
   * bfloat16 load takes the driver's measure ([[ShippedModel.deviation]]).
   */
  def acquire(model: ShippedModel): SavedModelHandle = acquire(model.sha256, model.location, model.precision, model.deviation)

  /**
   * Runs `body` with the handle of `sha256` in `precision` held (for use outside tasks, e.g. on
   * the driver), so that no eviction closes it meanwhile.
   *
   * @throws tfspark.errors.TFSparkException as [[acquire]]
   */
  def withHandle[T](sha256: String, location: => ModelLocation, precision: Precision = Precision.Float32)(
      body: SavedModelHandle => T
  ): T = {
    val key = keyOf(sha256, precision)
    val handle = acquireHolding(key, sha256, location, precision, None, hold = true)
    try {
      checkDeviation(handle, precision)
      body(handle)
    } finally release(key)
  }

  private def lookup(key: String, hold: Boolean): Option[SavedModelHandle] = lock.synchronized {
    Option(entries.get(key)).map { e =>
      if (hold) e.holders += 1
      e.handle
    }
  }

  private def release(key: String): Unit = {
    lock.synchronized(Option(entries.get(key)).foreach(e => e.holders = math.max(0, e.holders - 1)))
    evictBeyondBound()
  }

  /** Closes the least recently used handles that nobody holds while more than the bound are loaded. */
  private def evictBeyondBound(): Unit = {
    val bound = TFSparkConf.maxLoadedModels()
    val evicted = lock.synchronized {
      val idle = entries.asScala.iterator.filter(_._2.holders == 0).map(_._1).toList
      val victims = idle.take(math.max(0, entries.size - bound))
      victims.map(entries.remove)
    }
    evicted.foreach(_.handle.close())
  }

  /** How many times this JVM loaded content `sha256` in `precision` (a test hook: at most 1 while it stays loaded). */
  def loadCount(sha256: String, precision: Precision = Precision.Float32): Int =
    Option(loads.get(keyOf(sha256, precision))).map(_.get).getOrElse(0)

  /** Load counts of every model content this JVM loaded (`SHA+bfloat16` for a bfloat16 load). */
  def loadCounts: Map[String, Int] = loads.asScala.map { case (k, v) => k -> v.get }.toMap

  /** The contents loaded now (`SHA+bfloat16` for a bfloat16 load), least recently used first. */
  def loaded: Seq[String] = lock.synchronized(entries.keySet().asScala.toList)

  /** Closes and forgets every handle (load counts are kept). */
  def clear(): Unit = {
    val all = lock.synchronized {
      val list = mutable.ListBuffer.empty[Entry]
      entries.values().asScala.foreach(list += _)
      entries.clear()
      list.toList
    }
    all.foreach(_.handle.close())
  }
}
