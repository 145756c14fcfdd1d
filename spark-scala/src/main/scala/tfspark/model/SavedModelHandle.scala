package tfspark.model

import java.util.concurrent.atomic.AtomicBoolean

import scala.jdk.CollectionConverters._

import org.tensorflow.{Result, SavedModelBundle, SessionFunction, Tensor}

import tfspark.conf.Precision
import tfspark.errors.TFSparkErrors

/**
 * A loaded SavedModel and its signatures, read from the SignatureDefs. No tensor name is ever
 * hard-coded: callers address inputs and outputs by their signature keys.
 *
 * Thread-safe: `Session.run` is, and the handle holds no other mutable state. The handle owns the
 * native `SavedModelBundle`; whoever created it (normally [[ModelCache]]) calls [[close]].
 */
final class SavedModelHandle private (val location: ModelLocation, val precision: Precision, bundle: SavedModelBundle)
    extends AutoCloseable {

  private val closed = new AtomicBoolean(false)

  @volatile private var measured: Option[PrecisionDeviation] = None

  /** How far this load's outputs are from float32's ([[PrecisionDeviation]]); `None` in float32. */
  def deviation: Option[PrecisionDeviation] = measured

  /** Set once by whoever loaded it ([[ModelCache]]), before anyone else sees the handle. */
  private[model] def recordDeviation(d: PrecisionDeviation): Unit = measured = Some(d)

  private val functions: Map[String, SessionFunction] =
    bundle.signatures().asScala.map(s => s.key() -> bundle.function(s.key())).toMap

  /**
   * Every callable signature (TF's internal `__saved_model_init_op` is left out), by key. Read
   * from the MetaGraphDef's SignatureDefs: TF Java's `Signature` turns an unknown rank into a
   * scalar shape, which would make an unknown-rank input look like a scalar one.
   */
  val signatures: Map[String, SignatureSpec] =
    bundle
      .metaGraphDef()
      .getSignatureDefMap
      .asScala
      .iterator
      .filterNot(_._1.startsWith("__"))
      .map { case (key, definition) => SavedModelHandle.toSpec(key, definition, bundle.metaGraphDef()) }
      .map(s => s.key -> s)
      .toMap

  /** @throws tfspark.errors.TFSparkException SIGNATURE_NOT_FOUND */
  def signature(key: String): SignatureSpec = SignatureSpec.find(location.name, signatures, key)

  /**
   * Runs signature `key` on `inputs` (signature input key → tensor).
   *
   * The caller keeps ownership of `inputs` and must close them, and is responsible for closing
   * the returned [[Result]], which owns every output tensor.
   *
   * @throws tfspark.errors.TFSparkException SIGNATURE_NOT_FOUND
   * @throws IllegalStateException if the handle is closed
   */
  def run(key: String, inputs: Map[String, Tensor]): Result = {
    if (closed.get) throw new IllegalStateException(s"model ${location.name} is closed")
    signature(key)
    functions(key).call(inputs.asJava)
  }

  override def close(): Unit = if (closed.compareAndSet(false, true)) bundle.close()
}

object SavedModelHandle {

  val ServeTag: String = SavedModelBundle.DEFAULT_TAG

  /** TF's text for an op that no library of the process registers. */
  private val UnregisteredOp = "Op type not registered '([^']+)'".r

  /**
   * Loads the SavedModel at `location` with tag `serve`, its session limited to
   * [[SessionThreads.intraOp]] threads per op, in `precision`: for bfloat16, with grappler's
   * `auto_mixed_precision_onednn_bfloat16` rewrite on. The caller owns and closes the handle.
   *
   * The op libraries of `spark.tfpredict.opLibraries` are loaded first ([[OpLibraries]]).
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED when the directory is not a
   *   readable SavedModel (missing or corrupt `saved_model.pb`, unreadable variables), uses an op
   *   no library of this JVM registers (naming the op, the package known to provide it and the
   *   setting), or holds an op that calls back into Python ([[PythonOnlyOps]]);
   *   OP_LIBRARY_LOAD_FAILED when a configured op library cannot be loaded;
   *   NATIVE_LIBRARY_MISSING when TF's native library cannot be loaded in this JVM;
   *   BFLOAT16_NOT_SUPPORTED for bfloat16 on a CPU without bfloat16 instructions ([[Bfloat16Support]])
   */
  def load(location: ModelLocation, precision: Precision = Precision.Float32): SavedModelHandle = {
    if (precision != Precision.Float32) Bfloat16Support.unsupportedReason.foreach { reason =>
      val host = scala.util.Try(java.net.InetAddress.getLocalHost.getHostName).getOrElse("this host")
      throw TFSparkErrors.bfloat16NotSupported(location.name, host, reason)
    }
    NativeLibrary.ensureConfigured()
    OpLibraries.loadConfigured()
    val bundle =
      try {
        val config = sessionConfig(precision)
        SavedModelBundle.loader(location.directory.getAbsolutePath).withTags(ServeTag).withConfigProto(config).load()
      } catch {
        case e: LinkageError => throw TFSparkErrors.nativeLibraryMissing(e) // no native jar: UnsatisfiedLinkError
        case e: Exception =>
          Option(e.getMessage).flatMap(UnregisteredOp.findFirstMatchIn(_)).map(_.group(1)) match {
            case Some(op) =>
              val provider = KnownOpLibraries.providerOf(op).map(_.toString)
              throw TFSparkErrors.modelNeedsOpLibrary(
                location.name,
                location.directory.getPath,
                op,
                provider,
                OpLibraries.loaded.keys.toSeq.sorted,
                e
              )
            case None =>
              // TF Java cannot load a signature input without a tensor name (a TF1 sparse_placeholder): say so
              CompositeSignatures.refuseEncodedInputs(location.name, location.directory)
              throw TFSparkErrors.modelLoadFailed(location.name, location.directory.getPath, e)
          }
      }
    PythonOnlyOps.find(bundle.metaGraphDef()).foreach { found =>
      bundle.close()
      throw TFSparkErrors.modelNeedsPython(location.name, location.directory.getPath, found.op, found.function)
    }
    try new SavedModelHandle(location, precision, bundle)
    catch {
      case e: Exception =>
        bundle.close()
        throw TFSparkErrors.modelLoadFailed(location.name, location.directory.getPath, e)
    }
  }

  /** The session's configuration: the thread limits, and for bfloat16 the rewrite. */
  private def sessionConfig(precision: Precision): org.tensorflow.proto.ConfigProto = {
    import org.tensorflow.proto.{ConfigProto, GraphOptions, RewriterConfig}
    val threads = SessionThreads.intraOp()
    val config = ConfigProto.newBuilder().setIntraOpParallelismThreads(threads).setInterOpParallelismThreads(threads)
    precision match {
      case Precision.Float32 => config.build()
      case Precision.BFloat16(_) =>
        val rewrite = RewriterConfig.newBuilder().setAutoMixedPrecisionOnednnBfloat16(RewriterConfig.Toggle.ON)
        config.setGraphOptions(GraphOptions.newBuilder().setRewriteOptions(rewrite)).build()
    }
  }

  /**
   * A signature as tfspark shows it: one input per argument of the exported function, so the
   * flat components of a ragged or sparse argument become one composite input
   * ([[CompositeSignatures]]); an output that is one composite TensorInfo (a ragged output) is
   * marked [[Composite.Encoded]].
   */
  private def toSpec(key: String, definition: org.tensorflow.proto.SignatureDef, meta: org.tensorflow.proto.MetaGraphDef): SignatureSpec = {
    def specs(m: java.util.Map[String, org.tensorflow.proto.TensorInfo]): Seq[TensorSpec] =
      m.asScala.toSeq.sortBy(_._1).map { case (k, info) =>
        val proto = info.getTensorShape
        val shape = if (proto.getUnknownRank) None else Some(proto.getDimList.asScala.map(_.getSize).toSeq)
        TensorSpec(k, TFDType.fromProto(info.getDtype), shape, CompositeSignatures.encoded(info).map(Composite.Encoded(_)))
      }
    val composites = CompositeSignatures.read(meta, definition)
    val components = composites.flatMap(_.composite.toSeq).flatMap(_.componentKeys).toSet
    val inputs = (specs(definition.getInputsMap).filterNot(i => components(i.key)) ++ composites).sortBy(_.key)
    SignatureSpec(key, inputs, specs(definition.getOutputsMap))
  }
}
