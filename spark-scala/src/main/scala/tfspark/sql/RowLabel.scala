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
  def of(output: Seq[Attribute], preferred: Seq[String]): InternalRow => String = reading(output, output, preferred)

  /**
   * The columns of `output` that its labels read: the `preferred` ones when it has them all, else
   * `path`; `None` when it has neither, and labels read its first [[MaxColumns]] columns.
   */
  def named(output: Seq[Attribute], preferred: Seq[String]): Option[Seq[Attribute]] = {
    def find(name: String) = output.find(_.name.equalsIgnoreCase(name))
    Some(preferred.flatMap(find)).filter(p => p.nonEmpty && p.size == preferred.size).orElse(find("path").map(Seq(_)))
  }

  /**
   * A labeller for rows of `layout` that names them as [[of]]`(output, preferred)` names the rows
   * of `output` they were projected from: for rows that keep only some columns, which must include
   * the ones the label reads.
   */
  def reading(layout: Seq[Attribute], output: Seq[Attribute], preferred: Seq[String]): InternalRow => String = {
    val chosen = named(output, preferred).getOrElse(output.take(MaxColumns))
    val fields = chosen.map { a =>
      val i = layout.indexWhere(_.exprId == a.exprId)
      require(i >= 0, s"row label column ${a.name} is not among the kept columns ${layout.mkString(", ")}")
      (i, a.name, a.dataType)
    }
    val note = notSelected(preferred.filterNot(n => output.exists(_.name.equalsIgnoreCase(n))))
    row =>
      fields
        .map { case (i, name, t) => s"$name: ${if (row.isNullAt(i)) "null" else ValueText.of(row.get(i, t), t)}" }
        .mkString("row {", ", ", "}") + note
  }
}
