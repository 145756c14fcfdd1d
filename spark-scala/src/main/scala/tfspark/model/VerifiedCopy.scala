package tfspark.model

import java.io.File
import java.nio.file.{Files, LinkOption, StandardCopyOption}
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger

import scala.jdk.CollectionConverters._

import org.apache.hadoop.fs.{FileSystem, Path}

import tfspark.errors.TFSparkErrors

/**
 * The one way model files are copied to a local cache folder, on the driver (a version of a
 * remote repository, [[ModelRepository]]) and on executors ([[ModelDelivery]]). Copies are keyed
 * by content and verified, never trusted:
 *  - an entry's name ends with the first 16 hex digits of the SHA-256 of the files it holds
 *    (fed as the identity is, [[ModelDigest]]; for serving files only, that is the version's
 *    identity, [[ModelManifest]]), so copies of the same content share an entry across
 *    executors of a host and later applications;
 *  - an entry this JVM made or verified is used as it is (once per JVM per entry);
 *  - an entry found complete (made by another JVM or application) is used only after all its
 *    files, read again in full, hash to the expected SHA-256, and it holds no symbolic link (an
 *    entry is a copy: regular files only);
 *  - otherwise the files are copied into a fresh private staging folder beside the entry,
 *    hashed while they are written, compared with the expected SHA-256, and only then is the
 *    staging folder renamed to the entry atomically, so no task, JVM or later application ever
 *    sees half a model or one that differs from what was read. An entry that failed
 *    verification is moved aside and deleted first, and a WARN names it and why (once: the
 *    replacement happens under the locks).
 *
 * Threads of this JVM wait for each other, and JVMs on this host for each other ([[FolderLock]]),
 * so an entry is filled once however many tasks and executors want it at the same time. A failed
 * copy leaves no staging folder behind. A verified entry is never deleted here: it belongs to the
 * cache folder it is in.
 */
object VerifiedCopy {

  /**
   * Puts `file`'s bytes at `destination` (a fresh path in a private staging folder, its parent
   * created) and feeds them to the digest with [[ModelDigest.add]] or [[ModelDigest.copyTo]].
   */
  type Place = (ModelFile, File, ModelDigest) => Unit

  /** [[Place]] from the version folder `root` on the Hadoop filesystem `fs` (shared by the JVM, so it is not closed here). */
  def fromFileSystem(fs: FileSystem, root: Path): Place = (file, destination, digest) =>
    digest.copyTo(file, fs.open(new Path(root, new Path(null, null, file.path))), destination)

  /**
   * Makes `target` a verified local copy of the model version `files` describe, unless it is one
   * already, and returns it. `place` is called in the order of `files`. Once every file is
   * placed, the digest must equal `sha256`.
   *
   * @param source where the files come from, for messages
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED when a file is missing, has another
   *   size, or the files' identity is not `sha256` (they changed after the driver read them)
   */
  def materialize(name: String, source: String, target: File, files: Seq[ModelFile], sha256: String)(place: Place): File =
    entry(target, sha256) { staging =>
      val got = copyInto(name, source, staging, files, "the driver read")(place)
      if (got != sha256)
        throw failed(name, source, s"its files changed after the driver read them: sha256 $got where the driver read $sha256")
    }

  /** What this JVM copied from a listing it saw, by source: reused while the listing is unchanged. */
  private val listings = new ManifestCache(16)

  /**
   * A verified local copy of files whose SHA-256 is not known before they are read: the driver's
   * copy of a version in a remote repository. `listed` are the files with their modification
   * times (milliseconds), sorted by path. The files are read once, into a private folder of
   * `cache`, and hashed; the copy then takes the entry `cache/entryName(sha256)` as
   * [[materialize]] does (or is dropped when that entry already holds the same content). A listing
   * this JVM copied before, with the same names, sizes and modification times, is not read again:
   * its entry is used, verified once per JVM, and copied again from `source` if it is gone.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED when a file cannot be copied, has
   *   another size than listed, or (a listing seen before) its content changed since
   */
  def materializeByContent(name: String, source: String, cache: File, entryName: String => String, listed: Seq[(ModelFile, Long)])(
      place: Place
  ): File = {
    val files = listed.map(_._1)
    val stamp = ManifestCache.stamp(listed)
    listings.get(source, stamp) match {
      case Some(known) => materialize(name, source, known.directory, files, known.sha256)(place)
      case None =>
        cache.mkdirs()
        val download = Files.createTempDirectory(cache.toPath, s".${entryName("")}download-").toFile
        try {
          val sha = copyInto(name, source, download, files, "the listing says")(place)
          val target = new File(cache, entryName(sha))
          entry(target, sha) { staging =>
            download.listFiles().foreach(f => Files.move(f.toPath, new File(staging, f.getName).toPath, StandardCopyOption.ATOMIC_MOVE))
          }
          listings.put(source, stamp, ModelManifest(target, files.toIndexedSeq, sha))
          target
        } finally deleteRecursively(download)
    }
  }

  private def failed(name: String, source: String, reason: String, cause: Throwable = null) =
    TFSparkErrors.modelLoadFailed(name, source, new IllegalStateException(reason, cause))

  /** Places `files` into `folder` with `place`, checking each path and size; returns their SHA-256. */
  private def copyInto(name: String, source: String, folder: File, files: Seq[ModelFile], sizesFrom: String)(place: Place): String = {
    val digest = new ModelDigest
    val folderPath = folder.getCanonicalPath + File.separator
    files.foreach { f =>
      val destination = new File(folder, f.path)
      // The file list comes from the driver or a listing; still, no path may leave the folder.
      if (f.path.startsWith("/") || !destination.getCanonicalPath.startsWith(folderPath))
        throw failed(name, source, s"file ${f.path} escapes the model")
      destination.getParentFile.mkdirs()
      try place(f, destination, digest)
      catch { case e: java.io.IOException => throw failed(name, source, s"${f.path} could not be copied: $e", e) }
      val got = destination.length()
      if (got != f.size) throw failed(name, source, s"${f.path} has $got bytes where $sizesFrom ${f.size}")
    }
    digest.hex
  }

  /** Cache entries this JVM made or verified: absolute path → SHA-256. */
  private val verified = new ConcurrentHashMap[String, String]()
  private val copies = new ConcurrentHashMap[String, AtomicInteger]()
  private val rejected = new ConcurrentHashMap[String, AtomicInteger]()
  private lazy val log = org.slf4j.LoggerFactory.getLogger(getClass)

  /**
   * Makes `target`, an entry of a cache folder, a complete model folder whose files hash to
   * `expected`, and returns it: used as it is when this JVM verified it, else verified, else
   * `fill` writes it into a fresh staging folder beside `target` (and throws if what it wrote is
   * not `expected`), which is then renamed to `target` atomically.
   */
  private def entry(target: File, expected: String)(fill: File => Unit): File = {
    val key = target.getAbsolutePath
    def complete = new File(target, "saved_model.pb").isFile
    def trusted = complete && verified.containsKey(key)
    if (!trusted) FolderLock.inJvm(target) {
      if (!trusted) {
        verified.remove(key)
        // Verified outside the host lock, so executors of one host read a good entry at the same time.
        if (check(target, expected) == Good) verified.put(key, expected)
        else
          FolderLock.onHost(target) {
            // Again under the host lock: another JVM may have replaced or made it meanwhile.
            check(target, expected) match {
              case Good => verified.put(key, expected)
              case found =>
                found match { case Bad(why) => reject(target, why); case _ => }
                val staging = Files.createTempDirectory(target.getAbsoluteFile.getParentFile.toPath, s".${target.getName}.").toFile
                try {
                  fill(staging)
                  copies.computeIfAbsent(key, _ => new AtomicInteger()).incrementAndGet()
                  Files.move(staging.toPath, target.toPath, StandardCopyOption.ATOMIC_MOVE)
                  ModelManifest.remember(target, expected)
                  verified.put(key, expected)
                } finally deleteRecursively(staging)
            }
          }
      }
    }
    target
  }

  /** What a cache entry's folder holds. */
  private sealed trait Found
  private case object Good extends Found
  private case object Missing extends Found
  private final case class Bad(why: String) extends Found

  private def check(target: File, expected: String): Found =
    if (!Files.exists(target.toPath, LinkOption.NOFOLLOW_LINKS)) Missing
    else verify(target, expected).fold[Found](Good)(Bad(_))

  /** None when the cache entry `target` is a complete copy whose files hash to `expected`, else why not. Reads every file. */
  private def verify(target: File, expected: String): Option[String] =
    try {
      val path = target.toPath
      def links: Option[java.nio.file.Path] = {
        val stream = Files.walk(path) // links are not followed: an entry holds none
        try stream.iterator().asScala.find(Files.isSymbolicLink(_))
        finally stream.close()
      }
      if (Files.isSymbolicLink(path)) Some("it is a symbolic link")
      else if (!Files.isDirectory(path)) Some("it is not a folder")
      else if (!new File(target, "saved_model.pb").isFile) Some("it is incomplete (no saved_model.pb)")
      else
        links match {
          case Some(link) => Some(s"it holds a symbolic link, ${path.relativize(link)} (a copy holds regular files only)")
          case None =>
            val got = ModelManifest.contentSha256(target)
            if (got == expected) None else Some(s"its files' SHA-256 is $got where $expected is expected")
        }
    } catch {
      // Another JVM may be replacing it right now: it is then checked again under the host lock.
      case e: tfspark.errors.TFSparkException => Some(e.getMessage)
      case e: java.io.IOException => Some(e.toString)
      case e: java.io.UncheckedIOException => Some(e.getCause.toString)
    }

  /** Moves a cache entry that failed verification aside and deletes it, with one WARN. */
  private def reject(target: File, why: String): Unit = {
    log.warn(s"Model cache entry $target is not used and is copied again: $why")
    rejected.computeIfAbsent(target.getAbsolutePath, _ => new AtomicInteger()).incrementAndGet()
    val aside = new File(target.getAbsoluteFile.getParentFile, s".${target.getName}.rejected-${System.nanoTime()}")
    Files.move(target.toPath, aside.toPath, StandardCopyOption.ATOMIC_MOVE)
    deleteRecursively(aside)
  }

  /** How many times this JVM rejected each cache entry (a test hook: one WARN each). */
  def rejectCounts: Map[String, Int] = rejected.asScala.map { case (k, v) => k -> v.get }.toMap

  /** Forgets which cache entries this JVM verified, as a new JVM would (tests). */
  private[tfspark] def forgetVerified(): Unit = { verified.clear(); listings.clear() }

  /** How many times this JVM copied into each target folder (a test hook: at most 1 per folder). */
  def copyCounts: Map[String, Int] = copies.asScala.map { case (k, v) => k -> v.get }.toMap

  /** Deletes `f` and, unless it is a symbolic link, everything under it. */
  private[tfspark] def deleteRecursively(f: File): Unit = {
    if (!Files.isSymbolicLink(f.toPath)) Option(f.listFiles()).foreach(_.foreach(deleteRecursively))
    f.delete()
  }
}
