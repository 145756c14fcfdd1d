package tfspark.model

import java.lang.management.ManagementFactory
import javax.management.ObjectName

import scala.io.Source

/**
 * The resident memory of this process outside the Java heap, in MB: the sum of `Rss` over the
 * mappings of `/proc/self/smaps` that lie outside the address range the JVM reserved for its heap
 * (read from `GC.heap_info`). Native allocations (malloc, TF's allocator, thread stacks, the code
 * cache, metaspace) count; the heap does not, however much of it is committed or touched.
 *
 * Why not VmRSS minus the committed heap: committed heap pages become resident only when first
 * written, and G1 shrinks its committed size after a marking cycle, so that difference moves by
 * hundreds of MB with no native allocation at all (a committed-but-untouched region that G1
 * uncommits raises it). Linux only; throws `IllegalStateException` when either source is unreadable.
 */
object NativeResidentMemory {

  private val Hex = "0x([0-9a-fA-F]+)".r

  /** [start, end) of the Java heap's reservation, from the DiagnosticCommand MBean's `gcHeapInfo`. */
  lazy val heapRange: (BigInt, BigInt) = {
    val info = ManagementFactory.getPlatformMBeanServer
      .invoke(
        new ObjectName("com.sun.management:type=DiagnosticCommand"),
        "gcHeapInfo",
        Array[AnyRef](null),
        Array("[Ljava.lang.String;")
      )
      .toString
    val addresses = info.linesIterator
      .filterNot(l => l.trim.startsWith("Metaspace") || l.trim.startsWith("class space"))
      .flatMap(l => Hex.findAllMatchIn(l).map(m => BigInt(m.group(1), 16)))
      .toSeq
    if (addresses.isEmpty) throw new IllegalStateException(s"no heap address range in GC.heap_info:\n$info")
    (addresses.min, addresses.max)
  }

  /** Resident MB of every mapping outside [[heapRange]]. */
  def mb: Long = {
    val (heapStart, heapEnd) = heapRange
    val source = Source.fromFile("/proc/self/smaps")
    try {
      var outsideHeap = false
      var kb = 0L
      var mappings = 0
      for (line <- source.getLines()) {
        val dash = line.indexOf('-')
        val space = line.indexOf(' ')
        if (dash > 0 && space > dash && line.take(dash).forall(Character.digit(_, 16) >= 0)) {
          val start = BigInt(line.substring(0, dash), 16)
          val end = BigInt(line.substring(dash + 1, space), 16)
          outsideHeap = end <= heapStart || start >= heapEnd
          mappings += 1
        } else if (outsideHeap && line.startsWith("Rss:")) kb += line.split("\\s+")(1).toLong
      }
      if (mappings == 0) throw new IllegalStateException("no mappings in /proc/self/smaps")
      kb / 1024
    } finally source.close()
  }
}
