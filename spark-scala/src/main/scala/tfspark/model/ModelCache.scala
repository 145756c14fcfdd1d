package tfspark.model

import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger

import scala.collection.mutable
import scala.jdk.CollectionConverters._

import org.apache.spark.TaskContext

import tfspark.conf.TFSparkConf
import tfspark.model.warmup.ModelWarmup

/**
 * The loaded [[SavedModelHandle]]s of this JVM: one per model content (SHA-256), shared by every
 * task thread. Loads lazily on first use, and validates each load with [[ModelWarmup]];
 * concurrent first uses load once.
 *
 * The cache owns the handles. A task that uses a handle holds it until the task completes
 * ([[acquire]] registers that with the task), so a handle is never closed under a running task.
 * Beyond `spark.tfpredict.maxLoadedModels` versions, the least recently used handles that no task
 * holds are closed and dropped, so a long-lived executor that sees versions roll keeps a bounded
 * number loaded. Everything is closed at JVM shutdown (or on [[clear]]). Callers never close
 * what they acquire.
 */
object ModelCache {

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
   * The handle for content `sha256`, loading (and warming up) it from `location` if this JVM has
   * none yet. Inside a task, the task holds the handle until it completes.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED (the load or its warm-up failed, the
   *   version is incomplete, or its files changed while it was loaded), NATIVE_LIBRARY_MISSING
   */
  def acquire(sha256: String, location: => ModelLocation): SavedModelHandle = {
    val task = TaskContext.get()
    val handle = acquireHolding(sha256, location, hold = task != null)
    if (task != null) task.addTaskCompletionListener[Unit](_ => release(sha256))
    evictBeyondBound()
    handle
  }

  private def acquireHolding(sha256: String, location: => ModelLocation, hold: Boolean): SavedModelHandle =
    lookup(sha256, hold).getOrElse {
      loadLocks.computeIfAbsent(sha256, _ => new Object).synchronized {
        lookup(sha256, hold).getOrElse {
          val at = location
          // A failure is explained by what happened to the files first ([[ModelDiagnosis]]).
          val loaded = ModelDiagnosis.loading(at, Some(sha256)) {
            val handle = SavedModelHandle.load(at)
            try ModelWarmup.run(handle)
            catch { case e: Throwable => handle.close(); throw e }
            handle
          }
          loads.computeIfAbsent(sha256, _ => new AtomicInteger()).incrementAndGet()
          lock.synchronized {
            val entry = new Entry(loaded)
            if (hold) entry.holders += 1
            entries.put(sha256, entry)
          }
          loaded
        }
      }
    }

  /** The handle for a shipped model, loading it from its local copy if needed. */
  def acquire(model: ShippedModel): SavedModelHandle = acquire(model.sha256, model.location)

  /**
   * Runs `body` with the handle of `sha256` held (for use outside tasks, e.g. on the driver), so
   * that no eviction closes it meanwhile.
   */
  def withHandle[T](sha256: String, location: => ModelLocation)(body: SavedModelHandle => T): T = {
    val handle = acquireHolding(sha256, location, hold = true)
    try body(handle)
    finally release(sha256)
  }

  private def lookup(sha256: String, hold: Boolean): Option[SavedModelHandle] = lock.synchronized {
    Option(entries.get(sha256)).map { e =>
      if (hold) e.holders += 1
      e.handle
    }
  }

  private def release(sha256: String): Unit = {
    lock.synchronized(Option(entries.get(sha256)).foreach(e => e.holders = math.max(0, e.holders - 1)))
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

  /** How many times this JVM loaded content `sha256` (a test hook: at most 1 while it stays loaded). */
  def loadCount(sha256: String): Int = Option(loads.get(sha256)).map(_.get).getOrElse(0)

  /** Load counts of every model content this JVM loaded. */
  def loadCounts: Map[String, Int] = loads.asScala.map { case (k, v) => k -> v.get }.toMap

  /** The contents loaded now, least recently used first. */
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
