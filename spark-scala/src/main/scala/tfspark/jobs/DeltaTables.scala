package tfspark.jobs

import io.delta.tables.DeltaTable
import org.apache.spark.sql.{DataFrame, SaveMode, SparkSession}
import org.apache.spark.sql.functions.{col, count, lit}

/**
 * The Delta Lake calls of [[DeltaOutput]], through Delta's public API only (`io.delta.tables`, the
 * `delta` data source and its documented writer options). The only file of tfspark that refers to
 * a Delta class: reach it only after [[DeltaSupport.requireClasses]], or a missing Delta jar is a
 * `NoClassDefFoundError` here.
 */
private[jobs] object DeltaTables {

  /** The table at `target`, if there is one (a path that is not a Delta table has none). */
  def find(spark: SparkSession, target: DeltaTarget): Option[DeltaTable] =
    if (target.isTable) {
      if (spark.catalog.tableExists(target.name)) Some(DeltaTable.forName(spark, target.name)) else None
    } else if (DeltaTable.isDeltaTable(spark, target.name)) Some(DeltaTable.forPath(spark, target.name))
    else None

  /**
   * The newest commit of `table` whose `userMetadata` is `marker` (the commit of a run): its version
   * and its `operationMetrics` (`numOutputRows`, ...; none when `spark.databricks.delta.history.metricsEnabled` is off).
   */
  def commitOf(table: DeltaTable, marker: String): Option[(Long, Map[String, String])] =
    table
      .history()
      .where(col("userMetadata") === marker)
      .orderBy(col("version").desc)
      .select("version", "operationMetrics")
      .head(1)
      .headOption
      .map(r => r.getLong(0) -> Option(r.getMap[String, String](1)).map(_.toMap).getOrElse(Map.empty[String, String]))

  /** The table's newest version. */
  def latestVersion(table: DeltaTable): Long = table.history(1).select("version").head().getLong(0)

  /** Where the table's files are (its path, or a catalog table's location). */
  def location(table: DeltaTable): String = table.detail().select("location").head().getString(0)

  /**
   * Writes `df` in one Delta commit. `txnAppId`/`txnVersion` are Delta's idempotent-write settings:
   * Delta skips the write when the table has already committed that version for that id
   * (`DeltaCommand.hasBeenExecuted`); `userMetadata` marks the commit in the table's history.
   *
   * A path, or a catalog table that exists (written at its location), gets them as writer options.
   * A catalog table that does not exist yet is created by `saveAsTable`, which would store writer
   * options among the table's properties: Delta reads the same settings from the session then
   * (`spark.databricks.delta.write.txnAppId`, `...txnVersion`, `...commitInfo.userMetadata`), set
   * for this one write and restored after it.
   */
  def write(df: DataFrame, target: DeltaTarget, mode: SaveMode, appId: String, txnVersion: Long, marker: String): Unit = {
    val spark = df.sparkSession
    val path = if (!target.isTable) Some(target.name) else find(spark, target).map(location)
    val writer = df.write.format(DeltaSupport.Format).mode(mode)
    path match {
      case Some(p) =>
        writer.option("txnAppId", appId).option("txnVersion", txnVersion.toString).option("userMetadata", marker).save(p)
      case None =>
        val settings = Map(TxnAppIdKey -> appId, TxnVersionKey -> txnVersion.toString, UserMetadataKey -> marker)
        val before = spark.conf.getAll
        settings.foreach { case (k, v) => spark.conf.set(k, v) }
        try writer.saveAsTable(target.name)
        finally settings.keys.foreach(k => before.get(k).fold(spark.conf.unset(k))(v => spark.conf.set(k, v)))
    }
  }

  private val TxnAppIdKey = "spark.databricks.delta.write.txnAppId"
  private val TxnVersionKey = "spark.databricks.delta.write.txnVersion"
  private val UserMetadataKey = "spark.databricks.delta.commitInfo.userMetadata"

  /** The rows of `location` at `version`, and how many of them have a non-null `errorColumn`. */
  def counts(spark: SparkSession, location: String, version: Long, errorColumn: Option[String]): (Long, Long) = {
    val df = spark.read.format(DeltaSupport.Format).option("versionAsOf", version).load(location)
    val errors = errorColumn.filter(df.columns.contains).map(c => count(col(s"`$c`"))).getOrElse(lit(0L))
    val row = df.agg(count(lit(1)), errors).head()
    (row.getLong(0), row.getLong(1))
  }
}

/** A Delta table named by a path (`--output PATH`) or by a name of the session's catalog (`--output-table NAME`). */
private[jobs] final case class DeltaTarget(name: String, isTable: Boolean) {
  override def toString: String = if (isTable) s"table $name" else name
}
