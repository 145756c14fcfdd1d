package tfspark.model

import java.io.File
import java.nio.channels.FileChannel
import java.nio.file.StandardOpenOption
import java.util.concurrent.ConcurrentHashMap

/**
 * Mutual exclusion for making one folder (a cache entry, [[VerifiedCopy]]): among the threads of
 * this JVM, one monitor per absolute path ([[inJvm]]), and among the JVMs of this host, an OS lock
 * on the file `.<name>.lock` beside the folder ([[onHost]]). Lock files stay; monitors live as
 * long as the JVM.
 */
private[model] object FolderLock {

  private val monitors = new ConcurrentHashMap[String, Object]()

  /** Runs `body` holding this JVM's monitor of `target`. */
  def inJvm[T](target: File)(body: => T): T =
    monitors.computeIfAbsent(target.getAbsolutePath, _ => new Object).synchronized(body)

  /**
   * Runs `body` holding the host's lock of `target` (its parent folder is created). The caller
   * holds [[inJvm]] for `target`: one JVM cannot take the same OS lock twice.
   */
  def onHost[T](target: File)(body: => T): T = {
    val parent = target.getAbsoluteFile.getParentFile
    parent.mkdirs()
    val channel =
      FileChannel.open(new File(parent, s".${target.getName}.lock").toPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE)
    try {
      val lock = channel.lock()
      try body
      finally lock.release()
    } finally channel.close()
  }
}
