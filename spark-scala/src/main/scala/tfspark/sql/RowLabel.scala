package tfspark.sql

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.Attribute

import tfspark.tensor.ValueText

/**
 * Names a row in error messages by its content, not by a running count (counts shift under
 * filters and `CASE`, and no user can find "row 41 of partition 3"):
 *  - the columns of `spark.tfpredict.rowLabel` (BatchScore's `--id-col`) when the row has them;
 *  - else a `path` column (what `binaryFile` gives images);
 *  - else its first [[MaxColumns]] columns.
 * When the preferred columns are not all in the row (a SQL query that does not select them), the
 * label says so, rather than falling back silently. The DataFrame API checks them up front.
 * Values are shortened by [[ValueText]]: `row {PassengerId: 12, Name: "Braund, Mr. Owen Harris", Pclass: 3}`.
 * Built only for errors.
 */
object RowLabel {
  val MaxColumns: Int = ValueText.MaxFields

  /**
   * A labeller for rows of `output`, preferring the `preferred` columns (matched
   * case-insensitively); for rows without columns (the argument is all literals), `fallback`.
   */
  def of(output: Seq[Attribute], preferred: Seq[String], fallback: InternalRow => String): InternalRow => String =
    if (output.isEmpty) { val note = notSelected(preferred); row => fallback(row) + note }
    else of(output, preferred)

  /** What a label adds when the preferred columns are not in the row: said, not silently dropped. */
  private def notSelected(missing: Seq[String]): String =
    if (missing.isEmpty) "" else s" (spark.tfpredict.rowLabel names ${missing.mkString(", ")}, which this query does not select)"

  /** A labeller for rows of `output`, preferring the `preferred` columns (matched case-insensitively). */
  def of(output: Seq[Attribute], preferred: Seq[String]): InternalRow => String = {
    def find(name: String) = output.indexWhere(_.name.equalsIgnoreCase(name))
    val missing = preferred.filter(find(_) < 0)
    val chosen: Seq[Int] = Some(preferred.map(find)).filter(p => p.nonEmpty && missing.isEmpty).getOrElse {
      val path = find("path")
      if (path >= 0) Seq(path) else output.indices.take(MaxColumns)
    }
    val fields = chosen.map(i => (i, output(i).name, output(i).dataType))
    val note = notSelected(missing)
    row =>
      fields
        .map { case (i, name, t) => s"$name: ${if (row.isNullAt(i)) "null" else ValueText.of(row.get(i, t), t)}" }
        .mkString("row {", ", ", "}") + note
  }
}
