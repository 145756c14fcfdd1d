package org.apache.spark.tfspark

import java.io.{File, InputStream}
import java.nio.channels.Channels
import java.security.SecureRandom

import org.apache.spark.{SparkContext, SparkEnv}

/**
 * The driver's RPC file server, the one behind `SparkContext.addFile`, `addJar` and the REPL's
 * class folder, reached for model files. Its API is `private[spark]`, so tfspark reaches it
 * from this package (the one place for `private[spark]` APIs; checked against Spark 4.2).
 *
 * Why not `SparkContext.addFile`: files added there are pushed to every executor before any of
 * its tasks, whatever the job, and a SQL execution of a classic session (Spark 4) runs with that
 * session's artifact state, whose jobs get only the files added under the same state: a model
 * shipped from the API thread never reached executors through a DataFrame or SQL query. A served
 * file is fetched only by the executors that load the model, when they load it, from any job.
 *
 * '''Only the files asked for are served.''' A folder served with `addDirectory` is read by
 * Spark as `new File(folder, name)` for any name a client sends, `../../etc/passwd` included, so
 * no folder is served. Each file is registered on its own with `fileServer.addFile`, which looks
 * names up in an exact map (`/files/<name>`, no path resolution), under a name nobody can guess:
 * `tfspark-<128 random bits>-<index>`, a fresh token per shipment. Spark keys that map by
 * `file.getCanonicalFile.getName`; a [[ServedFile]] is a `java.io.File` of the real (canonical)
 * path whose name is the served one and whose canonical form is itself. A private folder of
 * symbolic links would not do: Spark's `getCanonicalFile` resolves them back to the real,
 * guessable names, and the folder would be one more place on disk to protect. If a Spark version
 * ever keys its map otherwise, [[serveFiles]] notices (the returned URI does not end with the
 * served name) and fails, rather than serve under another name.
 */
object DriverFiles {

  private val random = new SecureRandom()

  /**
   * A `java.io.File` whose path is a real file's canonical path and whose name is the one it is
   * served under. Reading it (`isFile`, `length`, opening its path) reads the real file.
   */
  private[tfspark] final class ServedFile(canonicalPath: String, servedName: String) extends File(canonicalPath) {
    override def getName: String = servedName
    override def getCanonicalFile: File = this
    override def getCanonicalPath: String = getPath
    override def equals(other: Any): Boolean = other match {
      case s: ServedFile => s.getPath == getPath && s.getName == getName
      case _ => false
    }
    override def hashCode: Int = (getPath, servedName).hashCode
  }

  /**
   * Serves each of `files` (regular files; links are resolved here, once) on the driver's file
   * server under a fresh unguessable name, and returns their URIs
   * (`spark://host:port/files/tfspark-<token>-<i>`), in the order given. Nothing else becomes
   * reachable: no folder, no other file. Served files stay until `sc` stops.
   *
   * @throws IllegalStateException when a file is not a regular file, or the file server keys it
   *   under another name than the one asked for
   */
  def serveFiles(sc: SparkContext, files: Seq[File]): IndexedSeq[String] = {
    val token = new Array[Byte](16)
    random.nextBytes(token)
    val prefix = "tfspark-" + token.map("%02x".format(_)).mkString + "-"
    val server = sc.env.rpcEnv.fileServer
    files.zipWithIndex.map { case (f, i) =>
      val real = f.toPath.toRealPath().toFile
      if (!real.isFile) throw new IllegalStateException(s"$f is not a regular file")
      val name = prefix + i
      val uri = server.addFile(new ServedFile(real.getPath, name))
      if (!uri.endsWith("/files/" + name)) {
        server.removeFile(name)
        throw new IllegalStateException(s"the driver's file server keyed $real as $uri, not as $name: this Spark version is not supported")
      }
      uri
    }.toIndexedSeq
  }

  /**
   * Opens `uri` (from [[serveFiles]]) in this JVM, streamed from the driver. The caller owns the
   * stream and closes it.
   */
  def open(uri: String): InputStream = Channels.newInputStream(SparkEnv.get.rpcEnv.openChannel(uri))
}
