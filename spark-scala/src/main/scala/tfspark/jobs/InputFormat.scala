package tfspark.jobs

import org.apache.hadoop.fs.Path

/** The input format [[BatchScore]] reads when `--input-format` is not given. */
private[jobs] object InputFormat {

  private val Extensions = Seq("parquet", "json", "csv", "orc")

  /**
   * `delta` for a folder with a `_delta_log/` (read as Parquet, a Delta table's folder would give the
   * rows of every file it ever had, removed ones included); else from the path's extension, or, for
   * a folder (a Spark output), from its data files' (`part-0.snappy.parquet`).
   */
  def infer(path: String): String = {
    def byExtension(name: String) = Extensions.find(ext => name.toLowerCase.endsWith("." + ext))
    (if (isDeltaTable(path)) Some(DeltaSupport.Format) else None).orElse(byExtension(path)).orElse(folderFormat(path)).getOrElse("csv")
  }

  private def isDeltaTable(path: String): Boolean =
    try {
      val log = new Path(path, "_delta_log")
      val fs = log.getFileSystem(new org.apache.hadoop.conf.Configuration())
      fs.exists(log) && fs.getFileStatus(log).isDirectory
    } catch { case _: java.io.IOException | _: IllegalArgumentException => false }

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
