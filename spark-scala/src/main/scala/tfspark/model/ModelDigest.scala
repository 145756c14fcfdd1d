package tfspark.model

import java.io.{File, FileOutputStream, InputStream, OutputStream}
import java.nio.ByteBuffer
import java.nio.charset.StandardCharsets
import java.security.MessageDigest

/**
 * The SHA-256 of a model version's files ([[ModelManifest]]), fed one file at a time in path
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
