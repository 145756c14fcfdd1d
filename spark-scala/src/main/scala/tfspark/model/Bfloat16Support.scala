package tfspark.model

import java.nio.file.{Files, Path, Paths}

import scala.jdk.CollectionConverters._

/**
 * Whether this JVM's CPU runs TF's bfloat16 rewrite (`auto_mixed_precision_onednn_bfloat16`) in
 * hardware. TF applies the rewrite without looking at the CPU, and oneDNN then emulates bfloat16 in
 * float32 arithmetic, slower than plain float32: so tfspark looks itself, once per JVM.
 *
 * Supported: a CPU whose `/proc/cpuinfo` flags include `avx512_bf16` or `amx_bf16` (Intel Cooper
 * Lake and later, AMD Zen 4 and later; `bf16` on Arm), with oneDNN on (TF turns it off for
 * `TF_ENABLE_ONEDNN_OPTS=0`, and then skips the rewrite).
 */
object Bfloat16Support {

  /** The CPU flags that give bfloat16 dot products in hardware. */
  val HardwareFlags: Seq[String] = Seq("avx512_bf16", "amx_bf16", "bf16")

  /** Where the CPU's flags are read: `/proc/cpuinfo` (tests point it at a CPU without bfloat16). */
  @volatile private[tfspark] var cpuinfo: Path = Paths.get("/proc/cpuinfo")

  /** Why bfloat16 cannot help in this JVM; `None` when it can. Read at each bfloat16 load. */
  def unsupportedReason: Option[String] = reason(cpuinfo, sys.env.get("TF_ENABLE_ONEDNN_OPTS"))

  /** The bfloat16 flags of this JVM's CPU, for reports (`none` when it has none). */
  def cpuFlags: String = flags(cpuinfo).filter(HardwareFlags.contains).toSeq.sorted.mkString(" ") match {
    case "" => "none"
    case found => found
  }

  /** [[unsupportedReason]] for a cpuinfo file and a `TF_ENABLE_ONEDNN_OPTS` value (a test seam). */
  private[tfspark] def reason(cpuinfo: Path, onednnOpts: Option[String]): Option[String] =
    if (onednnOpts.exists(v => Set("0", "false", "off", "no").contains(v.trim.toLowerCase)))
      Some(s"TF_ENABLE_ONEDNN_OPTS=${onednnOpts.get} turns oneDNN off in this process, and TF then skips the bfloat16 rewrite")
    else if (!Files.isReadable(cpuinfo)) Some(s"$cpuinfo cannot be read, so the CPU's bfloat16 support cannot be checked (Linux only)")
    else {
      val found = flags(cpuinfo)
      if (HardwareFlags.exists(found.contains)) None
      else {
        val model = modelName(cpuinfo).fold("")(m => s" ($m)")
        Some(s"this CPU$model has none of the flags ${HardwareFlags.mkString(", ")}: bfloat16 would be emulated, slower than float32")
      }
    }

  private def lines(cpuinfo: Path): Seq[String] =
    if (Files.isReadable(cpuinfo)) Files.readAllLines(cpuinfo).asScala.toSeq else Nil

  /** The first processor's flags (x86 `flags`, Arm `Features`). */
  private def flags(cpuinfo: Path): Set[String] =
    lines(cpuinfo)
      .find(l => l.startsWith("flags") || l.startsWith("Features"))
      .map(_.split(":", 2).lift(1).getOrElse("").trim.split("\\s+").toSet)
      .getOrElse(Set.empty)

  private def modelName(cpuinfo: Path): Option[String] =
    lines(cpuinfo).find(_.startsWith("model name")).flatMap(_.split(":", 2).lift(1)).map(_.trim).filter(_.nonEmpty)
}
