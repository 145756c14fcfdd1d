package tfspark.model

import org.apache.spark.SparkEnv

import tfspark.conf.TFSparkConf

/**
 * How many threads one TF session may use for an op (`intra_op_parallelism_threads`).
 *
 * Spark already runs one task per core, and each task runs its own `Session.run`. Letting every
 * session also use every core oversubscribes the CPU. The default divides this JVM's cores by its
 * concurrent task slots (`spark.executor.cores` / `spark.task.cpus`, or N of `local[N]`), at least
 * one; `spark.tfpredict.intraOpThreads` overrides it. Outside Spark: TF's own default (0).
 */
object SessionThreads {

  /** @throws tfspark.errors.TFSparkException INVALID_CONFIG for a malformed `spark.tfpredict.intraOpThreads` */
  def intraOp(): Int = Option(SparkEnv.get).map(_.conf) match {
    case None => 0
    case Some(conf) =>
      TFSparkConf.intraOpThreads().getOrElse {
        val cores = Runtime.getRuntime.availableProcessors()
        val slots = conf.getOption("spark.executor.cores").flatMap(_.trim.toIntOption).getOrElse {
          conf
            .getOption("spark.master")
            .collect {
              case m if m.startsWith("local[") && !m.startsWith("local[*") => m.stripPrefix("local[").takeWhile(_.isDigit).toInt
            }
            .filter(_ > 0)
            .getOrElse(cores)
        } / math.max(1, conf.getInt("spark.task.cpus", 1))
        math.max(1, cores / math.max(1, slots))
      }
  }
}
