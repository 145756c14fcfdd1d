package tfspark.model

import java.io.{File, FileOutputStream, InputStream, OutputStream}
import java.nio.ByteBuffer
import java.nio.channels.FileChannel
import java.nio.charset.StandardCharsets
import java.nio.file.{FileSystemLoopException, FileVisitOption, Files, LinkOption, Path, StandardCopyOption, StandardOpenOption}
import java.security.MessageDigest
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger

import scala.jdk.CollectionConverters._

import tfspark.errors.TFSparkErrors

/** One serving file of a model version: its path under the version folder ('/'-separated) and its size in bytes. */
final case class ModelFile(path: String, size: Long)

/**
 * The serving files of one model version as the driver found them: `directory` is the version
 * folder's real path (links resolved), `files` are sorted by path, and `sha256` is the version's
 * identity ([[ModelArchive]]).
 */
final case class ModelManifest(directory: File, files: IndexedSeq[ModelFile], sha256: String) {
  def totalBytes: Long = files.iterator.map(_.size).sum
}

/**
 * A model version's serving files and their identity: the SHA-256 of their contents, always
 * computed by streaming the files (never by holding a model in memory), so a version of any size
 * can be identified, shipped and verified.
 *
 * Symbolic links are followed everywhere: the version folder itself, sub-folders and single
 * files may be links, relative or absolute (rolling versions through links is how TF Serving
 * deployments work). So two linked versions with different files always get different hashes,
 * and copies hold the real bytes. `assets.extra/` (golden vectors, reports) is left out, except
 * TF Serving's warm-up file, which serving reads.
 *
 * The identity is fed file by file in path order: the path (UTF-8), the size (8 bytes,
 * big-endian), then the contents ([[ModelDigest]]). Executors compute it again over what they
 * received ([[materialize]]) and refuse a copy that differs from what the driver read.
 */
object ModelArchive {

  /** The one file of `assets.extra/` that travels: TF Serving's warm-up requests. */
  val WarmupFile = "assets.extra/tf_serving_warmup_requests"

  /** The last read versions by real path, reused while their files are unchanged (bounded). */
  private val manifests = new java.util.LinkedHashMap[String, (String, ModelManifest)](16, 0.75f, true) {
    override def removeEldestEntry(e: java.util.Map.Entry[String, (String, ModelManifest)]): Boolean = size() > 8
  }

  /**
   * The serving files of `dir` (links followed) and their SHA-256, read by streaming each file
   * once. The result is reused while the folder's files keep their names, sizes and modification
   * times, so repeated queries and transforms do not re-read the model on the driver.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED when `dir` (links resolved) is
   *   missing, holds no `saved_model.pb`, its links loop, or a file changes while it is read
   */
  def manifest(dir: File): ModelManifest = manifest(dir, reuse = true)

  /**
   * [[manifest]], reusing a result of this JVM only if `reuse` (files with the same names, sizes
   * and modification times); otherwise every file is read again. Copies are verified with
   * `reuse = false`: a planted copy can keep the names, sizes and times of the real one.
   */
  def manifest(dir: File, reuse: Boolean): ModelManifest = {
    val (root, files) = servingFiles(dir)
    val sized = files.map { case (rel, p) => (ModelFile(rel, Files.size(p)), p) }
    val stamp = stampOf(sized)
    val key = root.toString
    val reused = if (reuse) manifests.synchronized(Option(manifests.get(key))).filter(_._1 == stamp).map(_._2) else None
    reused.getOrElse {
      val digest = new ModelDigest
      sized.foreach { case (f, p) =>
        val read = digest.add(f, Files.newInputStream(p), None)
        if (read != f.size) throw invalid(dir, s"$p changed while it was read (${f.size} bytes listed, $read read)")
      }
      val result = ModelManifest(root.toFile, sized.map(_._1).toIndexedSeq, digest.hex)
      // Only a stamp that still holds after the read is kept, so a file changed during it is read again next time.
      if (stampOf(servingFiles(dir)._2.map { case (rel, p) => (ModelFile(rel, Files.size(p)), p) }) == stamp) {
        manifests.synchronized(manifests.put(key, (stamp, result)))
      }
      result
    }
  }

  private def stampOf(sized: Seq[(ModelFile, Path)]): String =
    sized.map { case (f, p) => s"${f.path}:${f.size}:${Files.getLastModifiedTime(p).toMillis}" }.mkString("|")

  /** Whether a file at `relative` (a '/'-separated path in a version folder) is a serving file, part of the identity. */
  def isServing(relative: String): Boolean = !relative.startsWith("assets.extra/") || relative == WarmupFile

  /**
   * The driver's file of `file` in `manifest`: a path relative to the version folder, never
   * absolute and without `..`, so it names a file the manifest's walk found under the folder
   * (links in it are followed, as the identity follows them).
   */
  def fileOf(manifest: ModelManifest, file: ModelFile): File = {
    val segments = file.path.split('/')
    if (file.path.isEmpty || file.path.startsWith("/") || segments.exists(s => s.isEmpty || s == "." || s == "..")) {
      throw invalid(manifest.directory, s"file ${file.path} escapes the model")
    }
    new File(manifest.directory, file.path)
  }

  /** The SHA-256 of `dir`'s serving files: its identity ([[manifest]]). */
  def sha256(dir: File): String = manifest(dir).sha256

  private def invalid(dir: File, reason: String) =
    TFSparkErrors.modelLoadFailed(dir.getName, dir.getPath, new IllegalStateException(reason))

  /**
   * The regular files that serve `dir`, as (relative path with '/', real path), sorted, with the
   * folder's real path; links are followed at every level.
   */
  private def servingFiles(dir: File): (Path, Seq[(String, Path)]) = {
    val root =
      try dir.toPath.toRealPath()
      catch { case _: java.io.IOException => throw invalid(dir, s"the folder does not exist (or is a broken symbolic link)") }
    if (!Files.isDirectory(root)) throw invalid(dir, s"$root is not a folder")
    val walked =
      try {
        val stream = Files.walk(root, FileVisitOption.FOLLOW_LINKS)
        try stream.iterator().asScala.filter(Files.isRegularFile(_)).toList
        finally stream.close()
      } catch {
        case e: FileSystemLoopException => throw invalid(dir, s"its symbolic links form a loop at ${e.getFile}")
        case e: java.io.UncheckedIOException => throw invalid(dir, s"it cannot be read: ${e.getCause.getMessage}")
      }
    val files = walked
      .map(p => root.relativize(p).toString.replace(File.separatorChar, '/') -> p)
      .filter { case (rel, _) => isServing(rel) }
      .sortBy(_._1)
    if (files.isEmpty) throw invalid(dir, s"$root holds no files")
    if (!files.exists(_._1 == "saved_model.pb")) {
      throw invalid(dir, s"$root holds no saved_model.pb (files: ${files.take(5).map(_._1).mkString(", ")})")
    }
    (root, files)
  }

  private val jvmLocks = new ConcurrentHashMap[String, Object]()
  private val copies = new ConcurrentHashMap[String, AtomicInteger]()

  /**
   * Makes `target` a verified local copy of the model version `files` describe, unless it is one
   * already, and returns it. `place(file, destination, digest)` must put `file`'s bytes at
   * `destination` (a fresh path in a private staging folder, its parent created) and feed them to
   * `digest` with [[ModelDigest.add]]; it is called in the order of `files`. Once every file is
   * placed, the digest must equal `sha256`; only then does the copy take `target`'s place
   * ([[once]]), so no task, JVM or later application ever sees half a model or one that differs
   * from what the driver read.
   *
   * @param source where the files come from, for messages
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED when a file is missing, has another
   *   size, or the files' identity is not `sha256` (they changed after the driver read them)
   */
  def materialize(name: String, source: String, target: File, files: Seq[ModelFile], sha256: String)(
      place: (ModelFile, File, ModelDigest) => Unit
  ): File =
    once(target, Some(sha256)) { staging =>
      def failed(reason: String, cause: Throwable = null) =
        TFSparkErrors.modelLoadFailed(name, source, new IllegalStateException(reason, cause))
      val digest = new ModelDigest
      val stagingPath = staging.getCanonicalPath + File.separator
      files.foreach { f =>
        val destination = new File(staging, f.path)
        // The manifest comes from the driver; still, no path may leave the staging folder.
        if (f.path.startsWith("/") || !destination.getCanonicalPath.startsWith(stagingPath))
          throw failed(s"file ${f.path} escapes the model")
        destination.getParentFile.mkdirs()
        try place(f, destination, digest)
        catch { case e: java.io.IOException => throw failed(s"${f.path} could not be copied: $e", e) }
        val got = destination.length()
        if (got != f.size) throw failed(s"${f.path} has $got bytes where the driver read ${f.size}")
      }
      val got = digest.hex
      if (got != sha256) throw failed(s"its files changed after the driver read them: sha256 $got where the driver read $sha256")
      copies.computeIfAbsent(target.getAbsolutePath, _ => new AtomicInteger()).incrementAndGet()
      got
    }

  /** Cache entries this JVM made or verified: absolute path → SHA-256. */
  private val verified = new ConcurrentHashMap[String, String]()
  private val rejected = new ConcurrentHashMap[String, AtomicInteger]()
  private lazy val log = org.slf4j.LoggerFactory.getLogger(getClass)

  /**
   * Makes `target`, an entry of a cache folder, a complete and verified model folder, and
   * returns it. Copies are verified, never trusted (a copy is used only once its content hashes as expected):
   *  - an entry this JVM made or verified is used as it is (once per JVM per entry);
   *  - an entry found complete (made by another JVM or application) is used only after its files,
   *    read again in full, hash to `expected` (or, when `expected` is None, to the SHA-256
   *    recorded beside it in `.<target>.sha256` by the fill that made it), and it holds no
   *    symbolic link (an entry is a copy: regular files only);
   *  - otherwise `fill` writes the files into a fresh private staging folder beside `target` and
   *    returns their SHA-256; the staging folder is then renamed to `target` atomically, and the
   *    SHA-256 is recorded beside it. An entry that failed verification is moved aside and
   *    deleted first, and a WARN names it and why (once: the replacement happens under the locks).
   *
   * Threads of this JVM wait for each other (one lock per target), and JVMs on this host for each
   * other (an OS lock on `.<target>.lock` beside it), so a folder is filled once however many
   * tasks and executors want it at the same time. A failed `fill` leaves no staging folder
   * behind; the lock file stays. A verified `target` is never deleted here: it belongs to the
   * cache folder it is in.
   */
  private[model] def once(target: File, expected: Option[String])(fill: File => String): File = {
    val key = target.getAbsolutePath
    def complete = new File(target, "saved_model.pb").isFile
    def trusted = complete && verified.containsKey(key)
    if (!trusted) jvmLocks.computeIfAbsent(key, _ => new Object).synchronized {
      if (!trusted) {
        verified.remove(key)
        // Verified outside the host lock, so executors of one host read a good entry at the same time.
        val found = if (Files.exists(target.toPath, LinkOption.NOFOLLOW_LINKS)) Some(verify(target, expected)) else None
        found match {
          case Some(Right(sha)) => verified.put(key, sha)
          case _ =>
            val parent = target.getAbsoluteFile.getParentFile
            parent.mkdirs()
            val channel =
              FileChannel.open(new File(parent, s".${target.getName}.lock").toPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE)
            try {
              val lock = channel.lock()
              try {
                // Again under the host lock: another JVM may have replaced or made it meanwhile.
                val now = if (Files.exists(target.toPath, LinkOption.NOFOLLOW_LINKS)) Some(verify(target, expected)) else None
                now match {
                  case Some(Right(sha)) => verified.put(key, sha)
                  case other =>
                    other.foreach { case Left(why) => reject(target, why); case Right(_) => }
                    val staging = Files.createTempDirectory(parent.toPath, s".${target.getName}.").toFile
                    try {
                      val sha = fill(staging)
                      Files.move(staging.toPath, target.toPath, StandardCopyOption.ATOMIC_MOVE)
                      recordDigest(target, sha)
                      remember(target, sha)
                      verified.put(key, sha)
                    } finally deleteRecursively(staging)
                }
              } finally lock.release()
            } finally channel.close()
        }
      }
    }
    target
  }

  /** Records that `dir`'s files, as they are now, hash to `sha` (they were just written and hashed): [[manifest]] reuses it. */
  private def remember(dir: File, sha: String): Unit = {
    val (root, files) = servingFiles(dir)
    val sized = files.map { case (rel, p) => (ModelFile(rel, Files.size(p)), p) }
    manifests.synchronized(manifests.put(root.toString, (stampOf(sized), ModelManifest(root.toFile, sized.map(_._1).toIndexedSeq, sha))))
  }

  private def digestFile(target: File): File = new File(target.getAbsoluteFile.getParentFile, s".${target.getName}.sha256")

  private def recordDigest(target: File, sha: String): Unit = {
    val tmp = Files.createTempFile(target.getAbsoluteFile.getParentFile.toPath, s".${target.getName}.", ".sha256")
    Files.writeString(tmp, sha)
    Files.move(tmp, digestFile(target).toPath, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING)
  }

  /**
   * Right(sha256) when the cache entry `target` is a complete copy whose files hash to
   * `expected` (or to its recorded digest), Left(why not) otherwise. Reads every file.
   */
  private def verify(target: File, expected: Option[String]): Either[String, String] =
    try verifyFiles(target, expected)
    catch {
      // Another JVM may be replacing it right now: it is then checked again under the host lock.
      case e: tfspark.errors.TFSparkException => Left(e.getMessage)
      case e: java.io.IOException => Left(e.toString)
      case e: java.io.UncheckedIOException => Left(e.getCause.toString)
    }

  private def verifyFiles(target: File, expected: Option[String]): Either[String, String] = {
    val path = target.toPath
    def links: Option[Path] = {
      val stream = Files.walk(path) // links are not followed: an entry holds none
      try stream.iterator().asScala.find(Files.isSymbolicLink(_))
      finally stream.close()
    }
    val recorded = digestFile(target)
    if (Files.isSymbolicLink(path)) Left("it is a symbolic link")
    else if (!Files.isDirectory(path)) Left("it is not a folder")
    else if (!new File(target, "saved_model.pb").isFile) Left("it is incomplete (no saved_model.pb)")
    else
      links match {
        case Some(link) => Left(s"it holds a symbolic link, ${path.relativize(link)} (a copy holds regular files only)")
        case None =>
          val want = expected.orElse(if (recorded.isFile) Some(Files.readString(recorded.toPath).trim) else None)
          want match {
            case None => Left(s"no SHA-256 was recorded for it (${recorded.getName} is missing)")
            case Some(sha) =>
              val got = manifest(target, reuse = false).sha256
              if (got == sha) Right(sha) else Left(s"its files' SHA-256 is $got where $sha is expected")
          }
      }
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
  private[tfspark] def forgetVerified(): Unit = verified.clear()

  /** How many times this JVM copied into each target folder (a test hook: at most 1 per folder). */
  def copyCounts: Map[String, Int] = copies.asScala.map { case (k, v) => k -> v.get }.toMap

  private[model] def deleteRecursively(f: File): Unit = {
    if (!Files.isSymbolicLink(f.toPath)) Option(f.listFiles()).foreach(_.foreach(deleteRecursively))
    f.delete()
  }
}

/**
 * The SHA-256 of a model version's files ([[ModelArchive]]), fed one file at a time in path
 * order. Not thread-safe: one digest per copy.
 */
final class ModelDigest {
  private val md = MessageDigest.getInstance("SHA-256")
  private val buffer = new Array[Byte](1 << 20)

  /**
   * Feeds `file` to the digest: its path and its listed size, then the bytes of `in`, which are
   * also written to `copy` if given. Closes `in`; `copy` stays open (its owner closes it).
   * Returns the number of bytes read, which the caller compares with `file.size`.
   */
  def add(file: ModelFile, in: InputStream, copy: Option[OutputStream]): Long = {
    md.update(file.path.getBytes(StandardCharsets.UTF_8))
    md.update(ByteBuffer.allocate(8).putLong(file.size).array())
    var total = 0L
    try {
      var n = in.read(buffer)
      while (n >= 0) {
        if (n > 0) {
          md.update(buffer, 0, n)
          copy.foreach(_.write(buffer, 0, n))
          total += n
        }
        n = in.read(buffer)
      }
    } finally in.close()
    total
  }

  /** Copies `in` (closed here) to a new file `destination` while feeding it to the digest. */
  def copyTo(file: ModelFile, in: InputStream, destination: File): Long = {
    val out =
      try new FileOutputStream(destination)
      catch { case e: java.io.IOException => in.close(); throw e }
    try add(file, in, Some(out))
    finally out.close()
  }

  /** The digest in lower-case hex; the digest is reset afterwards. */
  def hex: String = md.digest().map("%02x".format(_)).mkString
}
