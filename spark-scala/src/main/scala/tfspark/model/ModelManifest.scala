package tfspark.model

import java.io.File
import java.nio.file.{FileSystemLoopException, FileVisitOption, Files, Path}

import scala.jdk.CollectionConverters._

import tfspark.errors.TFSparkErrors

/** One serving file of a model version: its path under the version folder ('/'-separated) and its size in bytes. */
final case class ModelFile(path: String, size: Long)

/**
 * The serving files of one model version as the driver found them: `directory` is the version
 * folder's real path (links resolved), `files` are sorted by path, and `sha256` is the version's
 * identity ([[ModelManifest.read]]).
 */
final case class ModelManifest(directory: File, files: IndexedSeq[ModelFile], sha256: String) {
  def totalBytes: Long = files.iterator.map(_.size).sum
}

/**
 * Reads a model version's serving files and their identity: the SHA-256 of their contents, always
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
 * received ([[VerifiedCopy]]) and refuse a copy that differs from what the driver read.
 */
object ModelManifest {

  /** The one file of `assets.extra/` that travels: TF Serving's warm-up requests. */
  val WarmupFile = "assets.extra/tf_serving_warmup_requests"

  /** The last read versions by real path, reused while their files are unchanged. */
  private val cache = new ManifestCache(8)

  /**
   * The serving files of `dir` (links followed) and their SHA-256, read by streaming each file
   * once. The result is reused while the folder's files keep their names, sizes and modification
   * times, so repeated queries and transforms do not re-read the model on the driver.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED when `dir` (links resolved) is
   *   missing, holds no `saved_model.pb`, its links loop, or a file changes while it is read
   */
  def read(dir: File): ModelManifest = read(dir, reuse = true)

  /**
   * [[read]], reusing a result of this JVM only if `reuse` (files with the same names, sizes
   * and modification times); otherwise every file is read again.
   */
  def read(dir: File, reuse: Boolean): ModelManifest = {
    val (root, files) = servingFiles(dir)
    val sized = files.map { case (rel, p) => (ModelFile(rel, Files.size(p)), p) }
    val stamp = ManifestCache.stampOf(sized)
    val key = root.toString
    val reused = if (reuse) cache.get(key, stamp) else None
    reused.getOrElse {
      val result = ModelManifest(root.toFile, sized.map(_._1).toIndexedSeq, digest(dir, sized))
      // Only a stamp that still holds after the read is kept, so a file changed during it is read again next time.
      if (ManifestCache.stampOf(servingFiles(dir)._2.map { case (rel, p) => (ModelFile(rel, Files.size(p)), p) }) == stamp) {
        cache.put(key, stamp, result)
      }
      result
    }
  }

  /** The SHA-256 of `dir`'s serving files: its identity ([[read]]). */
  def sha256(dir: File): String = read(dir).sha256

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

  /**
   * The SHA-256 of every regular file of `dir`, serving or not, fed as the identity is: what a
   * copy holds ([[VerifiedCopy]]). It equals the identity when every file is a serving file.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED as [[read]]
   */
  private[model] def contentSha256(dir: File): String = {
    val (_, files) = allFiles(dir)
    digest(dir, files.map { case (rel, p) => (ModelFile(rel, Files.size(p)), p) })
  }

  /**
   * Records that `dir`'s files, as they are now, hash to `sha` (they were just written and
   * hashed), so [[read]] reuses it; only when every file of `dir` is a serving file, since `sha`
   * is then its identity.
   */
  private[model] def remember(dir: File, sha: String): Unit = {
    val (root, all) = allFiles(dir)
    if (all.forall { case (rel, _) => isServing(rel) }) {
      val sized = all.map { case (rel, p) => (ModelFile(rel, Files.size(p)), p) }
      cache.put(root.toString, ManifestCache.stampOf(sized), ModelManifest(root.toFile, sized.map(_._1).toIndexedSeq, sha))
    }
  }

  private def digest(dir: File, sized: Seq[(ModelFile, Path)]): String = {
    val digest = new ModelDigest
    sized.foreach { case (f, p) =>
      val read = digest.add(f, Files.newInputStream(p), None)
      if (read != f.size) throw invalid(dir, s"$p changed while it was read (${f.size} bytes listed, $read read)")
    }
    digest.hex
  }

  private[model] def invalid(dir: File, reason: String) =
    TFSparkErrors.modelLoadFailed(dir.getName, dir.getPath, new IllegalStateException(reason))

  /**
   * The regular files that serve `dir`, as (relative path with '/', real path), sorted, with the
   * folder's real path; links are followed at every level.
   */
  private def servingFiles(dir: File): (Path, Seq[(String, Path)]) = {
    val (root, all) = allFiles(dir)
    val files = all.filter { case (rel, _) => isServing(rel) }
    if (files.isEmpty) throw invalid(dir, s"$root holds no files")
    if (!files.exists(_._1 == "saved_model.pb")) {
      throw invalid(dir, s"$root holds no saved_model.pb (files: ${files.take(5).map(_._1).mkString(", ")})")
    }
    (root, files)
  }

  /** Every regular file under `dir`, as (relative path with '/', real path), sorted, with the folder's real path. */
  private def allFiles(dir: File): (Path, Seq[(String, Path)]) = {
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
    (root, walked.map(p => root.relativize(p).toString.replace(File.separatorChar, '/') -> p).sortBy(_._1))
  }
}
