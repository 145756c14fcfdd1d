package tfspark.jobs

import org.apache.hadoop.fs.Path

/** The input format [[BatchScore]] reads when `--input-format` is not given. */
private[jobs] object InputFormat {

  private val Extensions = Seq("parquet", "json", "csv", "orc")

  /** From the path's extension, or, for a folder (a Spark output), from its data files' (`part-0.snappy.parquet`). */
  def infer(path: String): String = {
    def byExtension(name: String) = Extensions.find(ext => name.toLowerCase.endsWith("." + ext))
    byExtension(path).orElse(folderFormat(path)).getOrElse("csv")
  }

  private def folderFormat(path: String): Option[String] =
    try {
      val dir = new Path(path)
      val fs = dir.getFileSystem(new org.apache.hadoop.conf.Configuration())
      if (!fs.getFileStatus(dir).isDirectory) None
      else {
        val names = fs.listStatus(dir).iterator.map(_.getPath.getName).filterNot(n => n.startsWith("_") || n.startsWith("."))
        names.flatMap(n => Extensions.find(ext => n.toLowerCase.endsWith("." + ext))).nextOption()
      }
    } catch { case _: java.io.IOException => None } // a missing path is Spark's to report
}
