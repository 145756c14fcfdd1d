package tfspark.model

import java.nio.file.Path

/**
 * The last read manifests by key (a folder's real path, or a remote version's URI), each kept
 * with the stamp of the files it was read from and reused only while that stamp holds: the same
 * names, sizes and modification times. Bounded (least recently used go first); thread-safe.
 */
private[model] final class ManifestCache(capacity: Int) {
  private val entries = new java.util.LinkedHashMap[String, (String, ModelManifest)](16, 0.75f, true) {
    override def removeEldestEntry(e: java.util.Map.Entry[String, (String, ModelManifest)]): Boolean = size() > capacity
  }

  /** The manifest kept for `key` when it was read from files with this `stamp`. */
  def get(key: String, stamp: String): Option[ModelManifest] =
    entries.synchronized(Option(entries.get(key))).filter(_._1 == stamp).map(_._2)

  def put(key: String, stamp: String, manifest: ModelManifest): Unit = entries.synchronized(entries.put(key, (stamp, manifest)))

  def clear(): Unit = entries.synchronized(entries.clear())
}

private[model] object ManifestCache {

  /** The stamp of files given with their modification times (milliseconds): path, size and time of each, in order. */
  def stamp(files: Seq[(ModelFile, Long)]): String = files.map { case (f, time) => s"${f.path}:${f.size}:$time" }.mkString("|")

  /** [[stamp]] of local files. */
  def stampOf(files: Seq[(ModelFile, Path)]): String =
    stamp(files.map { case (f, p) => (f, java.nio.file.Files.getLastModifiedTime(p).toMillis) })
}
