package tfspark.model

import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger

import scala.jdk.CollectionConverters._

/**
 * One loaded [[SavedModelHandle]] per model content (SHA-256) per JVM, shared by every task
 * thread. Loads lazily on first use; concurrent first uses load once. The cache owns the handles
 * and closes them at JVM shutdown (or on [[clear]]); callers must not close what they acquire.
 */
object ModelCache {

  private val handles = new ConcurrentHashMap[String, SavedModelHandle]()
  private val loads = new ConcurrentHashMap[String, AtomicInteger]()

  sys.addShutdownHook(clear())

  /**
   * The handle for content `sha256`, loading it from `location` if this JVM has none yet.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED
   */
  def acquire(sha256: String, location: => ModelLocation): SavedModelHandle =
    handles.computeIfAbsent(
      sha256,
      _ => {
        val handle = SavedModelHandle.load(location)
        loads.computeIfAbsent(sha256, _ => new AtomicInteger()).incrementAndGet()
        handle
      }
    )

  /** The handle for a shipped model, loading it from its local copy if needed. */
  def acquire(model: ShippedModel): SavedModelHandle = acquire(model.sha256, model.location)

  /** How many times this JVM loaded content `sha256` (a test hook: it must stay at most 1). */
  def loadCount(sha256: String): Int = Option(loads.get(sha256)).map(_.get).getOrElse(0)

  /** Load counts of every model content this JVM loaded. */
  def loadCounts: Map[String, Int] = loads.asScala.map { case (k, v) => k -> v.get }.toMap

  /** Closes and forgets every handle (load counts are kept). */
  def clear(): Unit = handles.keySet().asScala.toList.foreach(k => Option(handles.remove(k)).foreach(_.close()))
}
