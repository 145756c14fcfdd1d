package org.apache.spark.tfspark

import java.io.{File, InputStream}
import java.net.URI
import java.nio.channels.Channels

import org.apache.spark.{SparkContext, SparkEnv}

/**
 * The driver's RPC file server, the one behind `SparkContext.addFile`, `addJar` and the REPL's
 * class folder, reached for model folders. Its API is `private[spark]`, so tfspark reaches it
 * from this package (DESIGN.md §10; checked against Spark 4.2).
 *
 * Why not `SparkContext.addFile`: files added there are pushed to every executor before any of
 * its tasks, whatever the job, and a SQL execution of a classic session (Spark 4) runs with that
 * session's artifact state, whose jobs get only the files added under the same state: a model
 * shipped from the API thread never reached executors through a DataFrame or SQL query. A served
 * folder is fetched only by the executors that load the model, when they load it, from any job.
 */
object DriverFiles {

  /**
   * Serves the folder `dir` (canonicalized: links resolved once, here) under `/<name>` of the
   * driver's file server, unless `name` is served already (then the first folder stays), and
   * returns the folder's URI (`spark://host:port/<name>`). Served folders stay until `sc` stops.
   */
  def serveFolder(sc: SparkContext, name: String, dir: File): String = sc.env.rpcEnv.fileServer.addDirectoryIfAbsent(s"/$name", dir)

  /** The URI of `relative` (a '/'-separated path, any characters) in a folder served at `folder`. */
  def fileUri(folder: String, relative: String): String = {
    val base = new URI(folder)
    new URI(base.getScheme, base.getAuthority, base.getPath.stripSuffix("/") + "/" + relative, null, null).toASCIIString
  }

  /**
   * Opens `uri` (from [[fileUri]]) in this JVM, streamed from the driver. The caller owns the
   * stream and closes it.
   */
  def open(uri: String): InputStream = Channels.newInputStream(SparkEnv.get.rpcEnv.openChannel(uri))
}
