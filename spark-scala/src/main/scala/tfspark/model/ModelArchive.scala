package tfspark.model

import java.io.{ByteArrayInputStream, ByteArrayOutputStream, File, FileOutputStream}
import java.nio.file.{AtomicMoveNotSupportedException, FileSystemLoopException, FileVisitOption, Files, Path, StandardCopyOption}
import java.security.MessageDigest
import java.util.zip.{ZipEntry, ZipInputStream, ZipOutputStream}

import scala.jdk.CollectionConverters._

import tfspark.errors.TFSparkErrors

/**
 * A model version's serving files as one zip in memory, with the SHA-256 of its contents: the
 * model's identity. This is what travels to the executors (in a broadcast), never a loaded bundle.
 *
 * Symbolic links are followed everywhere: the version folder itself, sub-folders and single
 * files may be links, relative or absolute (rolling versions through links is how TF Serving
 * deployments work). So two linked versions with different files always get different hashes,
 * and the zip holds the real bytes. `assets.extra/` (golden vectors, reports) is left out, except
 * TF Serving's warm-up file, which serving reads.
 */
object ModelArchive {

  /** The one file of `assets.extra/` that travels: TF Serving's warm-up requests. */
  val WarmupFile = "assets.extra/tf_serving_warmup_requests"

  /** The last packed versions by real path, reused while their files are unchanged (bounded). */
  private val packed = new java.util.LinkedHashMap[String, (String, (Array[Byte], String))](16, 0.75f, true) {
    override def removeEldestEntry(e: java.util.Map.Entry[String, (String, (Array[Byte], String))]): Boolean = size() > 8
  }

  /**
   * Zips `dir` (links followed, sorted entries, fixed timestamps) and returns (bytes, sha256 hex).
   * The result is reused while the folder's files keep their names, sizes and modification
   * times, so repeated queries and transforms do not re-read the model on the driver.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED when `dir` (links resolved) is
   *   missing, holds no `saved_model.pb`, or its links loop
   */
  def pack(dir: File): (Array[Byte], String) = {
    val files = servingFiles(dir)
    val stamp = files.map { case (rel, p) => s"$rel:${Files.size(p)}:${Files.getLastModifiedTime(p).toMillis}" }.mkString("|")
    val key = dir.toPath.toRealPath().toString
    packed.synchronized(Option(packed.get(key))).filter(_._1 == stamp).map(_._2).getOrElse {
      val result = zip(files)
      packed.synchronized(packed.put(key, (stamp, result)))
      result
    }
  }

  /** The SHA-256 that [[pack]] gives `dir`: its identity. */
  def sha256(dir: File): String = pack(dir)._2

  /**
   * The regular files that serve `dir`, as (relative path with '/', real path), sorted; links
   * are followed at every level.
   */
  private def servingFiles(dir: File): Seq[(String, Path)] = {
    def invalid(reason: String) =
      TFSparkErrors.modelLoadFailed(dir.getName, dir.getPath, new IllegalStateException(reason))
    val root =
      try dir.toPath.toRealPath()
      catch { case _: java.io.IOException => throw invalid(s"the folder does not exist (or is a broken symbolic link)") }
    if (!Files.isDirectory(root)) throw invalid(s"$root is not a folder")
    val walked =
      try {
        val stream = Files.walk(root, FileVisitOption.FOLLOW_LINKS)
        try stream.iterator().asScala.filter(Files.isRegularFile(_)).toList
        finally stream.close()
      } catch {
        case e: FileSystemLoopException => throw invalid(s"its symbolic links form a loop at ${e.getFile}")
        case e: java.io.UncheckedIOException => throw invalid(s"it cannot be read: ${e.getCause.getMessage}")
      }
    val files = walked
      .map(p => root.relativize(p).toString.replace(File.separatorChar, '/') -> p)
      .filter { case (rel, _) => !rel.startsWith("assets.extra/") || rel == WarmupFile }
      .sortBy(_._1)
    if (files.isEmpty) throw invalid(s"$root holds no files")
    if (!files.exists(_._1 == "saved_model.pb")) {
      throw invalid(s"$root holds no saved_model.pb (files: ${files.take(5).map(_._1).mkString(", ")})")
    }
    files
  }

  private def zip(files: Seq[(String, Path)]): (Array[Byte], String) = {
    val digest = MessageDigest.getInstance("SHA-256")
    val out = new ByteArrayOutputStream()
    val zip = new ZipOutputStream(out)
    try {
      files.foreach { case (rel, path) =>
        val bytes = Files.readAllBytes(path)
        digest.update(rel.getBytes("UTF-8"))
        digest.update(java.nio.ByteBuffer.allocate(8).putLong(bytes.length.toLong).array())
        digest.update(bytes)
        val entry = new ZipEntry(rel)
        entry.setTime(0L)
        zip.putNextEntry(entry)
        zip.write(bytes)
        zip.closeEntry()
      }
    } finally zip.close()
    (out.toByteArray, digest.digest().map("%02x".format(_)).mkString)
  }

  /**
   * Unpacks `bytes` into `target` unless it is already there. Safe when several threads or JVMs
   * race: each writes a private staging folder and renames it into place; the loser discards its
   * copy. Returns `target`.
   */
  def unpackOnce(bytes: Array[Byte], target: File): File = {
    if (new File(target, "saved_model.pb").isFile) return target
    target.getParentFile.mkdirs()
    val staging = Files.createTempDirectory(target.getParentFile.toPath, s".${target.getName}.").toFile
    val zin = new ZipInputStream(new ByteArrayInputStream(bytes))
    try {
      Iterator.continually(zin.getNextEntry).takeWhile(_ != null).foreach { e =>
        val f = new File(staging, e.getName)
        require(f.getCanonicalPath.startsWith(staging.getCanonicalPath + File.separator), s"zip entry escapes: ${e.getName}")
        f.getParentFile.mkdirs()
        val os = new FileOutputStream(f)
        try zin.transferTo(os)
        finally os.close()
      }
    } finally zin.close()
    try Files.move(staging.toPath, target.toPath, StandardCopyOption.ATOMIC_MOVE)
    catch {
      case _: java.nio.file.FileAlreadyExistsException | _: java.nio.file.DirectoryNotEmptyException | _: AtomicMoveNotSupportedException =>
        deleteRecursively(staging)
    }
    target
  }

  private def deleteRecursively(f: File): Unit = {
    Option(f.listFiles()).foreach(_.foreach(deleteRecursively))
    f.delete()
  }
}
