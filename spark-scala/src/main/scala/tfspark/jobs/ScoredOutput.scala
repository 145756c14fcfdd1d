package tfspark.jobs

import org.apache.hadoop.fs.Path
import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.functions.{col, count, lit}

/** Writes [[BatchScore]]'s scored table so that it appears whole or not at all ([[OutputCommit]]). */
private[jobs] object ScoredOutput {

  /**
   * Writes into `commit`'s staging folder and puts it in place of the output ([[OutputCommit]]);
   * returns the rows written and how many of them carry an error instead of a prediction.
   */
  def writeAtomically(df: DataFrame, options: BatchScoreOptions, commit: OutputCommit, phases: PhaseTimes): (Long, Long) = {
    val started = System.nanoTime()
    var written = 0.0 // when the staging folder is complete: what follows is the commit's renames
    val counts = commit.commit { staging =>
      val spark = df.sparkSession
      if (df.schema.isEmpty) { // no input files, --allow-empty: an empty output that says it is complete
        commit.fs.mkdirs(staging)
        commit.fs.create(new Path(staging, "_SUCCESS")).close()
        (0L, 0L)
      } else {
        phases.time(BatchScore.Phase.Scoring)(df.write.format(options.outputFormat).option("header", "true").save(staging.toString))
        val counted = phases.time(BatchScore.Phase.Check) {
          val output = spark.read.format(options.outputFormat).option("header", "true").schema(df.schema).load(staging.toString)
          // The error column (CSV: its flattened class column) is non-null exactly on the failed rows.
          val errorColumn = Seq(options.errorCol, s"${options.errorCol}_errorClass").find(output.columns.contains)
          val row = output.agg(count(lit(1)), errorColumn.map(c => count(col(s"`$c`"))).getOrElse(lit(0L))).head()
          (row.getLong(0), row.getLong(1))
        }
        written = (System.nanoTime() - started) / 1e9
        counted
      }
    }
    phases.record(BatchScore.Phase.Commit, (System.nanoTime() - started) / 1e9 - written)
    counts
  }
}
