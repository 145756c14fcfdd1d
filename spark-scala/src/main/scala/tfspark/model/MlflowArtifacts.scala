package tfspark.model

import java.net.URI

import scala.jdk.CollectionConverters._

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileStatus, FileSystem, Path}
import org.apache.spark.sql.SparkSession

/**
 * The files of one MLflow model version where the registry says they are (its download URI),
 * read by the driver:
 *  - `mlflow-artifacts:/path` (the tracking server proxies its artifact store, MLflow's default
 *    since 2.0) through the server's REST API ([[MlflowServer.openArtifact]]); an
 *    `mlflow-artifacts://host:port/path` URI names another server, reached with the same credentials;
 *  - any Hadoop-filesystem URI (`file:`, `hdfs:`, `s3a:`, ...) or plain path, through Hadoop.
 */
sealed trait MlflowArtifacts {

  /** The URI, for messages. */
  def uri: String

  /** Every file under the URI, at any depth: its path relative to the URI, its size and its modification time (0 when unknown). */
  def files(): Seq[(ModelFile, Long)]

  /** A [[VerifiedCopy.Place]] for files whose paths are relative to the sub-folder `folder` ("" for the URI itself). */
  def place(folder: String): VerifiedCopy.Place

  /** The sub-folder's URI when executors can read it themselves ([[ModelDelivery.SharedFileSystem]]): a Hadoop URI other than `file:`. */
  def sharedUri(folder: String): Option[String]
}

object MlflowArtifacts {

  /** @param server the tracking server that gave `uri` (it proxies `mlflow-artifacts:` URIs without a host) */
  def apply(uri: String, server: MlflowServer): MlflowArtifacts = {
    val parsed = new URI(uri)
    if (parsed.getScheme == "mlflow-artifacts") {
      val proxy = Option(parsed.getAuthority).fold(server)(a => new MlflowServer(s"http://$a", s"the artifact URI $uri"))
      Proxied(uri, proxy, parsed.getPath.stripPrefix("/").stripSuffix("/"))
    } else HadoopFiles(uri)
  }

  private def join(parts: String*): String = parts.filter(_.nonEmpty).mkString("/")

  /** Artifacts behind the tracking server's proxy, under `root` (relative to its artifact store). */
  final case class Proxied(uri: String, server: MlflowServer, root: String) extends MlflowArtifacts {

    def files(): Seq[(ModelFile, Long)] = under("")

    private def under(relative: String): Seq[(ModelFile, Long)] = {
      // The proxy's listing: the files and folders directly in the folder, named relative to it.
      val listing = server.getJson("mlflow-artifacts/artifacts", "path" -> join(root, relative))
      listing.toSeq.flatMap(l => Option(l.get("files")).toSeq.flatMap(_.elements().asScala)).flatMap { f =>
        val path = join(relative, f.get("path").asText.split('/').last)
        if (f.path("is_dir").asBoolean(false)) under(path) else Seq((ModelFile(path, f.path("file_size").asLong(0)), 0L))
      }
    }

    def place(folder: String): VerifiedCopy.Place = (file, destination, digest) =>
      digest.copyTo(file, server.openArtifact(join(root, folder, file.path)), destination)

    def sharedUri(folder: String): Option[String] = None
  }

  /** Artifacts on a Hadoop filesystem (the driver's Hadoop configuration, as for a remote repository). */
  final case class HadoopFiles(uri: String) extends MlflowArtifacts {
    private val root = new Path(uri)
    private def fs: FileSystem = root.getFileSystem(hadoopConf)

    def files(): Seq[(ModelFile, Long)] = {
      val qualified = fs.makeQualified(root)
      val prefix = qualified.toUri.getPath.stripSuffix("/") + "/"
      def walk(dir: Path): Seq[FileStatus] = fs.listStatus(dir).toSeq.flatMap(s => if (s.isDirectory) walk(s.getPath) else Seq(s))
      if (!fs.exists(qualified)) Nil
      else
        walk(qualified).map(s =>
          (ModelFile(fs.makeQualified(s.getPath).toUri.getPath.stripPrefix(prefix), s.getLen), s.getModificationTime)
        )
    }

    def place(folder: String): VerifiedCopy.Place = VerifiedCopy.fromFileSystem(fs, folderPath(folder))

    def sharedUri(folder: String): Option[String] = {
      val p = fs.makeQualified(folderPath(folder))
      if (p.toUri.getScheme == "file") None else Some(p.toString)
    }

    private def folderPath(folder: String): Path = if (folder.isEmpty) root else new Path(root, folder)
  }

  private def hadoopConf: Configuration =
    SparkSession.getActiveSession.map(_.sparkContext.hadoopConfiguration).getOrElse(new Configuration())
}
