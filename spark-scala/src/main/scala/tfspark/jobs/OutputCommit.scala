package tfspark.jobs

import java.io.IOException
import java.util.UUID

import scala.util.control.NonFatal

import org.apache.hadoop.fs.{FileSystem, Path}

/**
 * Puts a new output directory in place of `target` so that, whenever the process is killed (even
 * `kill -9`), `target` is either the previous output, whole, or the new one, whole; never a mix,
 * and never a partial folder that looks finished.
 *
 * '''Who owns which folder.''' A run owns, beside `target` (same parent, so every rename stays in
 * one directory of one file system), three folders named after `target` and its own random id:
 *
 *  - `<name>.tfspark-staging-<id>`: the new output while it is written. Nobody else reads it.
 *  - `<name>.tfspark-old-<id>`: the previous output, moved aside in ONE rename. Nothing is ever
 *    deleted inside it, so it is always a whole former output.
 *  - `<name>.tfspark-trash-<id>`: the same folder renamed once the new output is in place, then
 *    deleted. It may be partly deleted; it is never restored.
 *
 * (Not hidden: Spark's readers skip names that start with '.' or '_', but so would a user's `ls`.)
 *
 * '''Steps''' of [[commit]], each a method, each announced to `hook` first:
 *  1. [[OutputCommit.Write]]: the caller fills the staging folder (Spark's job commit ends it with
 *     `_SUCCESS`).
 *  1. [[OutputCommit.MoveAside]]: `target` → old, one rename (skipped when there is no `target`).
 *  1. [[OutputCommit.Swap]]: staging → `target`, one rename.
 *  1. [[OutputCommit.Trash]]: old → trash, one rename.
 *  1. [[OutputCommit.Delete]]: trash is deleted.
 *
 * '''Kill points''' and what [[recover]] (run by the next run, before it writes) does:
 *  - during 1, or after it and before 2: staging, `target` = previous output. Staging is deleted.
 *  - between 2 and 3: staging, old, no `target`. Old is renamed back to `target` (the interrupted
 *    run never finished, so the previous output stands) and staging is deleted.
 *  - between 3 and 4: `target` = new output, old. Old is renamed to trash and deleted.
 *  - during 5: `target` = new output, a partly deleted trash. Trash is deleted.
 *
 * Each recovery action is one line to `say`. An exception (not a kill) in steps 1-3 rolls back
 * the same way at once; one in steps 4-5 leaves the new output in place and deletes what it can.
 *
 * This relies on `FileSystem.rename` of a directory being atomic and failing when the
 * destination exists, as on the local file system and HDFS (not on object stores such as S3),
 * and on one run at a time per `target`: a run treats every such folder beside its `target` as
 * left by an interrupted run.
 *
 * @param hook called with each step before it runs; tests throw from it to fail a step
 */
final class OutputCommit private[jobs] (
    val fs: FileSystem,
    target0: Path,
    say: String => Unit,
    hook: OutputCommit.Step => Unit = _ => ()
) {
  import OutputCommit._

  /** The output directory, qualified (absolute, with its file system's scheme). */
  val target: Path = fs.makeQualified(target0)
  val id: String = UUID.randomUUID().toString
  val staging: Path = sibling(target, StagingKind, id)
  val old: Path = sibling(target, OldKind, id)
  val trash: Path = sibling(target, TrashKind, id)

  /**
   * Undoes or finishes what interrupted runs left beside `target` (see the class comment);
   * returns one line per action, each also given to `say`.
   *
   * @throws java.io.IOException when the leftovers cannot be explained by one interrupted run
   *   (several previous outputs moved aside and no `target`): nothing is touched then
   */
  def recover(): Seq[String] = {
    val left = leftovers(fs, target)
    val olds = left.filter(_.kind == OldKind)
    if (olds.size > 1 && !fs.exists(target)) {
      throw new IOException(
        s"$target is missing and ${olds.size} previous outputs were moved aside by interrupted runs " +
          s"(${olds.map(_.path.getName).mkString(", ")}): rename the one to keep to ${target.getName}"
      )
    }
    val actions = Seq.newBuilder[String]
    def act(line: String): Unit = { say(line); actions += line }
    left.filter(_.kind == TrashKind).foreach { t =>
      fs.delete(t.path, true)
      act(s"deleted ${t.path}: the previous output, partly deleted by an interrupted run")
    }
    olds.foreach { o =>
      if (!fs.exists(target)) {
        rename(o.path, target)
        act(s"restored ${o.path} -> $target: an interrupted run had moved the previous output aside")
      } else {
        // Never deleted in place: a partly deleted folder must not keep the name of a whole one.
        val t = sibling(target, TrashKind, o.id)
        rename(o.path, t)
        fs.delete(t, true)
        act(s"deleted ${o.path}: the previous output, which an interrupted run had already replaced")
      }
    }
    left.filter(_.kind == StagingKind).foreach { s =>
      fs.delete(s.path, true)
      act(s"deleted ${s.path}: the unfinished output of an interrupted run")
    }
    actions.result()
  }

  /** Step 1: `body` writes the new output into the staging folder (which must not exist yet). */
  def write[T](body: Path => T): T = {
    hook(Write)
    val result = body(staging)
    if (!fs.getFileStatus(staging).isDirectory) throw new IOException(s"$staging is not a directory")
    result
  }

  /** Step 2: the previous output, if any, goes aside in one rename; whether there was one. */
  def moveAside(): Boolean = {
    hook(MoveAside)
    if (!fs.exists(target)) false
    else { rename(target, old); true }
  }

  /** Step 3: the new output goes into place in one rename. */
  def swap(): Unit = {
    hook(Swap)
    rename(staging, target)
  }

  /** Step 4: the previous output, aside, becomes trash in one rename (never restored from then on). */
  def trashOld(): Unit = {
    hook(Trash)
    if (fs.exists(old)) rename(old, trash)
  }

  /** Step 5: the trash is deleted. */
  def deleteOld(): Unit = {
    hook(Delete)
    if (fs.exists(trash) && !fs.delete(trash, true)) throw new IOException(s"could not delete $trash")
  }

  /**
   * Every step in order: `target` becomes what `body` wrote into the staging folder; returns what
   * `body` returned. On an exception in steps 1-3 `target` is left as it was, and nothing of this
   * run is left beside it.
   */
  def commit[T](body: Path => T): T = {
    val result =
      try {
        val r = write(body)
        moveAside()
        swap()
        r
      } catch {
        case NonFatal(e) =>
          try rollBack()
          catch { case NonFatal(r) => e.addSuppressed(r) }
          throw e
      }
    try { trashOld(); deleteOld() }
    catch {
      case NonFatal(e) =>
        // The new output is in place; the previous one goes now if it can, else at the next run.
        try Seq(old, trash).foreach(p => if (fs.exists(p)) fs.delete(p, true))
        catch { case NonFatal(_) => () }
        Seq(old, trash).filter(fs.exists).foreach { p =>
          say(s"could not delete the previous output $p (${e.getMessage}); the next run with this --output deletes it")
        }
    }
    result
  }

  /** After a failure in steps 1-3: the previous output back at `target`, the staging folder deleted. */
  private def rollBack(): Unit = {
    if (!fs.exists(target) && fs.exists(old)) rename(old, target)
    if (fs.exists(staging)) fs.delete(staging, true)
  }

  /** One atomic rename; never into an existing directory (Hadoop would move `from` inside it). */
  private def rename(from: Path, to: Path): Unit = {
    if (fs.exists(to)) throw new IOException(s"could not rename $from to $to: $to exists")
    if (!fs.rename(from, to)) throw new IOException(s"could not rename $from to $to")
  }
}

object OutputCommit {

  /** A step of [[OutputCommit.commit]], in order. */
  sealed abstract class Step(val name: String) { override def toString: String = name }
  case object Write extends Step("write")
  case object MoveAside extends Step("move-aside")
  case object Swap extends Step("swap")
  case object Trash extends Step("trash")
  case object Delete extends Step("delete")
  val Steps: Seq[Step] = Seq(Write, MoveAside, Swap, Trash, Delete)

  private[jobs] val StagingKind = "staging"
  private[jobs] val OldKind = "old"
  private[jobs] val TrashKind = "trash"

  /** The prefix of every folder a run owns beside `target`. */
  def prefix(target: Path): String = s"${target.getName}.tfspark-"

  private[jobs] def sibling(target: Path, kind: String, id: String): Path = new Path(target.getParent, s"${prefix(target)}$kind-$id")

  /** A folder beside `target` that a run owns: its kind (staging, old, trash) and path. */
  final case class Leftover(kind: String, id: String, path: Path)

  private val Id = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

  /** The folders beside `target` that runs own (`target` qualified); none when its parent does not exist. */
  def leftovers(fs: FileSystem, target: Path): Seq[Leftover] = {
    val parent = target.getParent
    if (parent == null || !fs.exists(parent)) Nil
    else {
      val named = s"${java.util.regex.Pattern.quote(prefix(target))}(staging|old|trash)-($Id)".r
      fs.listStatus(parent).toSeq.map(_.getPath).sortBy(_.getName).flatMap { p =>
        p.getName match {
          case named(kind, id) => Some(Leftover(kind, id, p))
          case _ => None
        }
      }
    }
  }
}
