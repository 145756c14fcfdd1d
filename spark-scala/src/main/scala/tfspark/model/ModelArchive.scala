package tfspark.model

import java.io.{ByteArrayInputStream, ByteArrayOutputStream, File, FileOutputStream}
import java.nio.file.{AtomicMoveNotSupportedException, Files, StandardCopyOption}
import java.security.MessageDigest
import java.util.zip.{ZipEntry, ZipInputStream, ZipOutputStream}

/**
 * A model version's serving files as one zip in memory, with the SHA-256 of its contents.
 * This is what travels to the executors (in a broadcast), never a loaded bundle. `assets.extra/`
 * (golden vectors, reports) is left out: serving does not read it.
 */
object ModelArchive {

  private val packed = new java.util.concurrent.ConcurrentHashMap[String, (String, (Array[Byte], String))]()

  /**
   * Zips `dir` (sorted entries, fixed timestamps) and returns (bytes, sha256 hex). The result is
   * reused while the folder's files keep their names, sizes and modification times, so repeated
   * queries and transforms do not re-read the model on the driver.
   */
  def pack(dir: File): (Array[Byte], String) = {
    val key = dir.getCanonicalPath
    val stamp = fileStamp(dir)
    Option(packed.get(key)).filter(_._1 == stamp).map(_._2).getOrElse {
      val result = zip(dir)
      packed.put(key, (stamp, result))
      result
    }
  }

  /** Every file's relative path, size and modification time: cheap to compute, changes with the files. */
  private def fileStamp(dir: File): String = {
    val files = Files.walk(dir.toPath).iterator()
    Iterator
      .continually(files)
      .takeWhile(_.hasNext)
      .map(_.next())
      .filter(Files.isRegularFile(_))
      .map(p => s"${dir.toPath.relativize(p)}:${Files.size(p)}:${Files.getLastModifiedTime(p).toMillis}")
      .toSeq
      .sorted
      .mkString("|")
  }

  private def zip(dir: File): (Array[Byte], String) = {
    val root = dir.toPath
    val files = Files.walk(root).iterator()
    val paths = Iterator
      .continually(files)
      .takeWhile(_.hasNext)
      .map(_.next())
      .toSeq
      .filter(p => Files.isRegularFile(p))
      .map(p => root.relativize(p).toString.replace(File.separatorChar, '/'))
      .filterNot(_.startsWith("assets.extra/"))
      .sorted
    val digest = MessageDigest.getInstance("SHA-256")
    val out = new ByteArrayOutputStream()
    val zip = new ZipOutputStream(out)
    try {
      paths.foreach { rel =>
        val bytes = Files.readAllBytes(root.resolve(rel))
        digest.update(rel.getBytes("UTF-8"))
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
