package tfspark.examples

import org.apache.spark.sql.SparkSession

import tfspark.TFInference
import tfspark.conf.TFSparkConf
import tfspark.errors.TFSparkException
import tfspark.jobs.JobArguments
import tfspark.model.ModelRepository
import tfspark.sql.TFSparkSQL

/**
 * The book's chapter 6-7, done right: predicts the rows [[1,2],[3,5],[6,7],[8,3]] with the linear
 * model on the driver, through the batched RDD path, and through Spark SQL's `tfpredict`, and
 * prints the three side by side. Exit status 0, or 1 with one line on stderr.
 *
 * Usage: `spark-submit --jars tfspark-extras.jar --class tfspark.examples.BookExamples tfspark-assembly.jar [--repository DIR] [--model NAME]`
 */
object BookExamples {

  val Rows: Seq[Array[Float]] = Seq(Array(1f, 2f), Array(3f, 5f), Array(6f, 7f), Array(8f, 3f))

  def main(args: Array[String]): Unit = {
    val code =
      try {
        val parsed = JobArguments.parse(args.toSeq, Set("repository", "model"))
        if (parsed.flag("help")) println("Usage: BookExamples [--repository DIR] [--model NAME]")
        else {
          val repository = parsed.getOrElse("repository", TFSparkConf.DefaultRepository)
          // The repository is fixed when the session starts (SECURITY.md): it cannot be SET later.
          val spark = SparkSession.builder().appName("tfspark BookExamples").config(TFSparkConf.Repository, repository).getOrCreate()
          try
            run(spark, repository, parsed.getOrElse("model", "linear")).foreach(println)
          finally spark.stop()
        }
        0
      } catch {
        case e: Throwable =>
          val cause = TFSparkException.find(e).getOrElse(e)
          System.err.println(s"BookExamples failed: ${Option(cause.getMessage).getOrElse(cause.toString).linesIterator.next()}")
          1
      }
    if (code != 0) sys.exit(code)
  }

  /** Returns the printed lines: a header and one line per example row. SQL uses `spark`'s repository. */
  def run(spark: SparkSession, repository: String, model: String): Seq[String] = {
    val location = ModelRepository(repository).resolve(model)
    val onDriver = TFInference.predictLocal(location, Rows).map(_.head)

    val shipped = TFInference.ship(spark.sparkContext, location)
    val viaRdd = TFInference.predictRDD(spark.sparkContext.parallelize(Rows, 2), shipped, batchSize = 2).map(_.head).collect().toSeq

    TFSparkSQL.register(spark)
    import spark.implicits._
    Rows.map(_.toSeq).toDF("features").createOrReplaceTempView("book_examples")
    val viaSql = spark.sql(s"SELECT tfpredict('$model', features) AS prediction FROM book_examples").as[Float].collect().toSeq

    val header = f"${"features"}%-10s ${"driver"}%12s ${"rdd"}%12s ${"sql"}%12s   (model $location)"
    header +: Rows.indices.map { i =>
      f"${Rows(i).mkString("[", ",", "]")}%-10s ${onDriver(i)}%12.6f ${viaRdd(i)}%12.6f ${viaSql(i)}%12.6f"
    }
  }
}
