package tfspark.model

import scala.jdk.CollectionConverters._

import org.tensorflow.proto.MetaGraphDef

/**
 * The ops that call back into the Python interpreter that built the graph (`tf.py_function`,
 * `tf.numpy_function`, TF1 `tf.py_func`). TensorFlow registers them everywhere, so a model that
 * holds them loads in a JVM; their kernels then fail on every call, as a JVM has no interpreter.
 */
object PythonOnlyOps {

  val Ops: Set[String] = Set("PyFunc", "EagerPyFunc", "PyFuncStateless")

  /** Where an op of [[Ops]] sits: `function` is None for the graph's own nodes. */
  final case class Found(op: String, node: String, function: Option[String])

  /**
   * The first node of `meta` that runs one of [[Ops]]: the graph's nodes first, then each function
   * of its library (functions by name, so the answer is the same on every run). One pass over the nodes.
   */
  def find(meta: MetaGraphDef): Option[Found] = {
    val graph = meta.getGraphDef
    val inGraph = graph.getNodeList.asScala.iterator.filter(n => Ops(n.getOp)).map(n => Found(n.getOp, n.getName, None))
    def inFunctions =
      graph.getLibrary.getFunctionList.asScala.sortBy(_.getSignature.getName).iterator.flatMap { f =>
        f.getNodeDefList.asScala.iterator.filter(n => Ops(n.getOp)).map(n => Found(n.getOp, n.getName, Some(f.getSignature.getName)))
      }
    (inGraph ++ inFunctions).nextOption()
  }
}
