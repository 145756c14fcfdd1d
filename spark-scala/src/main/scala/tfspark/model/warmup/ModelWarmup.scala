package tfspark.model.warmup

import java.io.File
import java.nio.file.Files

import scala.util.Using

import org.slf4j.LoggerFactory
import org.tensorflow.Tensor

import tfspark.errors.TFSparkErrors
import tfspark.model.{ModelManifest, SavedModelHandle, SignatureSpec}

/**
 * Validates a freshly loaded model with one warm-up run per signature before any query uses it,
 * as TF Serving does. The inputs come from the first source the version has:
 *  1. TF Serving's `assets.extra/tf_serving_warmup_requests` ([[WarmupRequests]]);
 *  2. tfspark's golden vectors, `assets.extra/golden.json` ([[GoldenCases]]);
 *  3. one synthetic row per signature (zeros, `false`, empty strings), where the shapes allow.
 *
 * A model whose variables TF's C++ loader did not restore fails whatever the source; the Keras 3
 * export trap is named only when the variables are there and complete ([[tfspark.model.ModelCache]] asks
 * [[tfspark.model.ModelDiagnosis]] first: a version missing its variables was published non-atomically). Any other failure on a warm-up file or golden vectors fails the load too;
 * on a synthetic row it is only logged, because zeros and empty strings are not always valid
 * data (an image decoder rejects empty bytes).
 */
object ModelWarmup {

  private val log = LoggerFactory.getLogger(getClass)

  /** One warm-up input set for `signature`; the warm-up owns and closes the tensors. */
  final case class WarmupInput(signature: String, tensors: () => Map[String, Tensor])

  /** TF's messages when a SavedModel's variables were never restored by the C++ loader. */
  private val NotRestored =
    Seq("Could not find variable", "uninitialized value", "Container localhost does not exist", "Resource localhost/")

  /**
   * Runs the warm-up on `handle`.
   *
   * @throws tfspark.errors.TFSparkException MODEL_LOAD_FAILED naming the cause (and, for
   *   variables that were not restored, the fix)
   */
  def run(handle: SavedModelHandle): Unit = {
    val location = handle.location
    val dir = location.directory
    val plan =
      try sources(dir, handle.signatures)
      catch {
        case e: IllegalArgumentException =>
          throw TFSparkErrors.modelLoadFailed(
            location.name,
            dir.getPath,
            new IllegalStateException(s"its warm-up inputs are unusable: ${e.getMessage}", e)
          )
      }
    plan.foreach { case (signature, source, inputs) =>
      inputs.foreach { input =>
        try Using.resource(new TensorMap(input.tensors()))(t => handle.run(signature, t.tensors).close())
        catch {
          case e: RuntimeException if e.getClass.getName.startsWith("org.tensorflow.exceptions.") =>
            val message = Option(e.getMessage).getOrElse("")
            val first = message.linesIterator.nextOption().getOrElse("")
            if (NotRestored.exists(message.contains)) throw TFSparkErrors.modelVariablesNotRestored(location.name, dir.getPath, e)
            if (source != Synthetic) {
              throw TFSparkErrors.modelLoadFailed(
                location.name,
                dir.getPath,
                new IllegalStateException(s"its warm-up from $source failed on signature $signature: $first", e)
              )
            }
            log.info(s"Model ${location.name}: the synthetic warm-up row of $signature was rejected ($first); not an error")
          case e: IllegalArgumentException =>
            throw TFSparkErrors.modelLoadFailed(
              location.name,
              dir.getPath,
              new IllegalStateException(s"its warm-up from $source is unusable for signature $signature: ${e.getMessage}", e)
            )
        }
      }
    }
    log.info(
      s"Model ${location.name}/${location.version} warmed up: " + plan
        .map { case (s, src, in) => s"$s from $src (${in.size})" }
        .mkString(", ")
    )
  }

  val WarmupRequestsSource = "TF Serving's warm-up requests"
  val GoldenSource = "golden vectors"
  val Synthetic = "a synthetic row"

  /**
   * Each signature's warm-up source and inputs: the first of the sources above that has inputs for
   * it. A signature with no usable source (an input of unknown rank, say) is left out.
   *
   * @throws IllegalArgumentException when a warm-up file or golden vectors cannot be read
   */
  def sources(dir: File, signatures: Map[String, SignatureSpec]): Seq[(String, String, Seq[WarmupInput])] = {
    val requests = new File(dir, ModelManifest.WarmupFile)
    val golden = new File(dir, "assets.extra/golden.json")
    val fromRequests = if (requests.isFile) WarmupRequests.read(requests.toPath) else Nil
    val fromGolden = if (golden.isFile) GoldenCases.read(Files.readString(golden.toPath)) else Nil
    val unknown = (fromRequests ++ fromGolden).map(_.signature).filterNot(signatures.contains).distinct
    require(unknown.isEmpty, s"warm-up inputs name signatures the model does not have: ${unknown.mkString(", ")}")
    signatures.keys.toSeq.sorted.flatMap { key =>
      val own = (src: Seq[WarmupInput]) => src.filter(_.signature == key)
      if (own(fromRequests).nonEmpty) Some((key, WarmupRequestsSource, own(fromRequests)))
      else if (own(fromGolden).nonEmpty) Some((key, GoldenSource, own(fromGolden)))
      else SyntheticRow.of(signatures(key)).map(input => (key, Synthetic, Seq(input)))
    }
  }

  /** Closes every tensor of a map. */
  private final class TensorMap(val tensors: Map[String, Tensor]) extends AutoCloseable {
    override def close(): Unit = tensors.values.foreach(_.close())
  }
}
