package tfspark.jobs

import scala.util.Try

import org.apache.spark.SparkConf
import org.apache.spark.sql.SparkSession

import tfspark.errors.TFSparkErrors

/**
 * Whether Delta Lake can be used here, checked before anything touches it.
 *
 * Delta is not in tfspark's jar: a cluster that uses Delta has its own `delta-spark`, and a second
 * copy on one classpath conflicts. So it comes from the user (`spark-submit --packages
 * io.delta:delta-spark_2.13:4.4.0`), and BatchScore checks for it, by name, before it reads or writes
 * Delta: a missing jar is `DELTA_NOT_AVAILABLE`, naming the coordinate, instead of a
 * `ClassNotFoundException` or Spark's "Failed to find data source: delta" in the middle of a run.
 *
 * Nothing here refers to a Delta class; [[DeltaTables]] does, and is reached only after
 * [[requireClasses]].
 */
private[jobs] object DeltaSupport {

  val Format = "delta"
  val Extension = "io.delta.sql.DeltaSparkSessionExtension"
  val Catalog = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
  val CatalogKey = "spark.sql.catalog.spark_catalog"

  /** The classes BatchScore uses: the data source (`format("delta")`), the table API, and the catalog. */
  val RequiredClasses: Seq[String] = Seq("org.apache.spark.sql.delta.sources.DeltaDataSource", "io.delta.tables.DeltaTable", Catalog)

  /** The option that asks for Delta in `options`, if one does (for messages). */
  def askedBy(options: BatchScoreOptions): Option[String] =
    if (options.outputFormat == Format) Some(if (options.outputTable) "--output-table" else "--output-format delta")
    else if (options.inputFormat == Format) Some("--input-format delta")
    else None

  /** Whether Delta's classes are visible to `loader`. */
  def available(loader: ClassLoader): Boolean = missingClasses(loader).isEmpty

  private def missingClasses(loader: ClassLoader): Seq[String] =
    RequiredClasses.filterNot(c => Try(Class.forName(c, false, loader)).isSuccess)

  /**
   * @param loader where spark-submit put the user's jars: the thread's context class loader
   * @throws tfspark.errors.TFSparkException DELTA_NOT_AVAILABLE when Delta's classes are missing
   */
  def requireClasses(what: String, loader: ClassLoader): Unit = {
    val missing = missingClasses(loader)
    if (missing.nonEmpty) {
      throw TFSparkErrors.deltaNotAvailable(what, s"its classes are not on the classpath (${missing.mkString(", ")} not found)")
    }
  }

  /**
   * Delta's own check: every Delta table, by path or by name, needs `spark.sql.catalog.spark_catalog`
   * set when the session starts (Delta's `DeltaLog.checkRequiredConfigurations`), and its SQL
   * extension for time travel and table commands.
   *
   * @throws tfspark.errors.TFSparkException DELTA_NOT_AVAILABLE when the classes or the setting are missing
   */
  def requireSession(what: String, spark: SparkSession): Unit = {
    requireClasses(what, Thread.currentThread().getContextClassLoader)
    // Set, not just defaulted ("builtin"): Delta's own check is whether the session holds the key.
    if (!spark.conf.getAll.contains(CatalogKey)) {
      throw TFSparkErrors.deltaNotAvailable(what, s"the session was started without $CatalogKey, which Delta requires")
    }
  }

  /**
   * The settings BatchScore's own session adds for Delta, with one line saying so: Delta's extension
   * appended to `spark.sql.extensions`, and its catalog as `spark_catalog` unless `conf` names one
   * (a `--conf` given to spark-submit wins). Empty when `conf` already has both.
   */
  def sessionSettings(conf: SparkConf, extensions: String): (Map[String, String], Option[String]) = {
    val withDelta =
      if (extensions.split(",").map(_.trim).contains(Extension)) None
      else Some(Seq(extensions, Extension).filter(_.nonEmpty).mkString(","))
    val catalog = if (conf.contains(CatalogKey)) None else Some(Catalog)
    val added = withDelta.map("spark.sql.extensions" -> _).toMap ++ catalog.map(CatalogKey -> _)
    val said = Seq(withDelta.map(_ => s"$Extension added to spark.sql.extensions"), catalog.map(c => s"$CatalogKey=$c")).flatten
    (added, if (said.isEmpty) None else Some(s"Delta Lake: ${said.mkString(", ")} (a --conf given to spark-submit wins)"))
  }
}
