package tfspark.model

import java.io.File
import java.nio.{ByteBuffer, ByteOrder}
import java.nio.file.Files

import scala.collection.mutable

import org.tensorflow.proto.{BundleEntryProto, BundleHeaderProto}

import tfspark.errors.{TFSparkErrors, TFSparkException}

/**
 * What happened when a version fails to load or to warm up: the files, before the most common
 * cause. A version published non-atomically (`saved_model.pb` first, `variables/` seconds later)
 * fails with TF's "Could not find variable ..." exactly like the Keras 3 export trap, but the fix
 * is to publish atomically, not to re-export. So a failure is explained, in this order, by:
 *  1. the version's files changed while it was loaded (its SHA-256 before and after differ);
 *  2. its `variables/` folder is missing, or `variables/variables.index` is, or is unreadable, or a
 *     data shard the index names is missing or shorter than the index says ([[variablesProblem]]);
 *  3. only then TF's own error, which for variables that exist, are complete and still are not
 *     restored is the Keras trap ([[ModelWarmup]]).
 */
object ModelDiagnosis {

  /** The advice for an incomplete version (the error registry's, which `python_trainer check` words the same). */
  def PublishAtomically: String = TFSparkErrors.IncompleteVersion

  /**
   * Loads `location` with `load`, and fails with the precise reason when the load fails or the
   * version's files change meanwhile. `expected` is the version's identity as its caller knows it
   * (a SHA-256 in hex), if it does.
   *
   * @throws TFSparkException MODEL_LOAD_FAILED
   */
  def loading[T <: AutoCloseable](location: ModelLocation, expected: Option[String])(load: => T): T = {
    val dir = location.directory
    val before = ModelManifest.read(dir) // reused while unchanged: this reads nothing on a warm path
    expected.filter(_.matches("[0-9a-f]{64}")).filter(_ != before.sha256).foreach { sha =>
      throw failed(location, s"its files changed after they were identified (sha256 $sha then, ${before.sha256} now)", null)
    }
    val loaded =
      try load
      catch {
        case e: TFSparkException if e.errorClass == "UNSUPPORTED_SIGNATURE" => throw e // the graph's, not the files' (a sparse input)
        case e: TFSparkException => throw diagnose(location, before, e)
      }
    changed(location, before).foreach { why =>
      loaded.close()
      throw failed(location, why, null)
    }
    loaded
  }

  /** The reason for `e`, a failed load or warm-up of `location`, whose files were `before`. */
  def diagnose(location: ModelLocation, before: ModelManifest, e: TFSparkException): TFSparkException =
    changed(location, before)
      .orElse(variablesProblem(location.directory).map(_ + s"; $PublishAtomically"))
      .map(why => failed(location, why, e))
      .getOrElse(e)

  private def failed(location: ModelLocation, why: String, cause: Throwable): TFSparkException =
    TFSparkErrors.modelLoadFailed(location.name, location.directory.getPath, new IllegalStateException(why, cause))

  /** Why `location`'s files are not `before` any more, naming them, or None. */
  def changed(location: ModelLocation, before: ModelManifest): Option[String] = {
    val after =
      try ModelManifest.read(location.directory)
      catch { case e: TFSparkException => return Some(s"its files changed while it was loaded: ${e.getMessage}") }
    if (after.sha256 == before.sha256) None
    else {
      val was = before.files.map(f => f.path -> f.size).toMap
      val is = after.files.map(f => f.path -> f.size).toMap
      val added = is.keySet.diff(was.keySet).toSeq.sorted.map(p => s"$p added")
      val removed = was.keySet.diff(is.keySet).toSeq.sorted.map(p => s"$p removed")
      val resized = was.keySet.intersect(is.keySet).toSeq.sorted.filter(p => was(p) != is(p)).map(p => s"$p ${was(p)} -> ${is(p)} bytes")
      val which = added ++ removed ++ resized
      val named = if (which.isEmpty) "same files and sizes, other content" else which.take(8).mkString(", ")
      Some(s"its files changed while it was loaded ($named; sha256 ${before.sha256} before, ${after.sha256} after)")
    }
  }

  /**
   * Why the variables of the version folder `dir` are missing or incomplete, naming the files,
   * or None when `variables/` holds an index and every data shard it names, as long as it says.
   */
  def variablesProblem(dir: File): Option[String] = {
    val variables = new File(dir, "variables")
    val index = new File(variables, "variables.index")
    if (!variables.isDirectory) Some("its variables/ folder is missing")
    else if (!index.isFile) {
      val present = Option(variables.list()).map(_.sorted.toSeq).getOrElse(Nil)
      Some(s"variables/variables.index is missing (variables/ holds ${if (present.isEmpty) "nothing" else present.take(5).mkString(", ")})")
    } else
      readBundleIndex(index) match {
        case Left(why) => Some(s"variables/variables.index is unreadable ($why)")
        case Right((shards, needed)) =>
          val problems = (0 until shards).flatMap { i =>
            val name = f"variables.data-$i%05d-of-$shards%05d"
            val shard = new File(variables, name)
            val need = needed.getOrElse(i, 0L)
            if (!shard.isFile) Some(s"variables/$name is missing (the index names $shards data shard${if (shards == 1) "" else "s"})")
            else if (shard.length() < need) Some(s"variables/$name is truncated: ${shard.length()} bytes where the index needs $need")
            else None
          }
          if (problems.isEmpty) None else Some(problems.take(5).mkString("; "))
      }
  }

  /**
   * Reads a TF tensor-bundle index (a LevelDB-format table: BundleHeaderProto under the empty key,
   * one BundleEntryProto per tensor): the number of data shards, and per shard the bytes its
   * entries need (the largest offset + size).
   */
  private[model] def readBundleIndex(index: File): Either[String, (Int, Map[Int, Long])] =
    try {
      val bytes = Files.readAllBytes(index.toPath)
      if (bytes.length < 48) return Left(s"${bytes.length} bytes, shorter than a table footer")
      val footer = ByteBuffer.wrap(bytes, bytes.length - 8, 8).order(ByteOrder.LITTLE_ENDIAN).getLong
      if (footer != 0xdb4775248b80fb57L) return Left(s"${bytes.length} bytes, no table footer: truncated or not an index")
      val pos = Array(bytes.length - 48)
      def varint(): Long = {
        var result = 0L
        var shift = 0
        var b = 0
        while ({ b = bytes(pos(0)) & 0xff; pos(0) += 1; result |= (b & 0x7fL) << shift; shift += 7; (b & 0x80) != 0 }) ()
        result
      }
      varint(); varint() // the metaindex block
      val (indexOffset, indexSize) = (varint(), varint())
      var shards = 1
      val needed = mutable.Map.empty[Int, Long]
      for ((_, handle) <- block(bytes, indexOffset, indexSize)) {
        val h = ByteBuffer.wrap(handle)
        val (offset, size) = (readVarint(h), readVarint(h))
        for ((key, value) <- block(bytes, offset, size)) {
          if (key.isEmpty) shards = math.max(1, BundleHeaderProto.parseFrom(value).getNumShards)
          else {
            val entry = BundleEntryProto.parseFrom(value)
            if (entry.getSlicesCount == 0) {
              needed(entry.getShardId) = math.max(needed.getOrElse(entry.getShardId, 0L), entry.getOffset + entry.getSize)
            }
          }
        }
      }
      Right((shards, needed.toMap))
    } catch {
      case e @ (_: IndexOutOfBoundsException | _: java.nio.BufferUnderflowException |
          _: com.google.protobuf.InvalidProtocolBufferException | _: IllegalArgumentException) =>
        Left(s"${index.length()} bytes: ${e.getClass.getSimpleName}")
      case e: java.io.IOException => Left(e.toString)
    }

  private def readVarint(b: ByteBuffer): Long = {
    var result = 0L
    var shift = 0
    var byte = 0
    while ({ byte = b.get() & 0xff; result |= (byte & 0x7fL) << shift; shift += 7; (byte & 0x80) != 0 }) ()
    result
  }

  /** The (key, value) entries of a table block at `offset` (its trailer says whether it is compressed). */
  private def block(file: Array[Byte], offset: Long, size: Long): Seq[(Array[Byte], Array[Byte])] = {
    val o = Math.toIntExact(offset)
    val n = Math.toIntExact(size)
    val raw = java.util.Arrays.copyOfRange(file, o, o + n)
    val data = file(o + n) match {
      case 0 => raw
      case 1 => org.xerial.snappy.Snappy.uncompress(raw)
      case t => throw new IllegalArgumentException(s"block compression $t")
    }
    val b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN)
    val restarts = b.getInt(data.length - 4)
    val limit = data.length - 4 * (restarts + 1)
    require(limit >= 0, "bad block")
    val out = mutable.ArrayBuffer.empty[(Array[Byte], Array[Byte])]
    var key = Array.emptyByteArray
    b.position(0)
    while (b.position() < limit) {
      val shared = readVarint(b).toInt
      val nonShared = readVarint(b).toInt
      val valueLength = readVarint(b).toInt
      val k = new Array[Byte](shared + nonShared)
      System.arraycopy(key, 0, k, 0, shared)
      b.get(k, shared, nonShared)
      val v = new Array[Byte](valueLength)
      b.get(v)
      key = k
      out += (k -> v)
    }
    out.toSeq
  }
}
