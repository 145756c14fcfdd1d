package tfspark.jobs

import java.nio.file.{Files, Paths}

import scala.util.Try

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileSystem, Path}

import tfspark.errors.TFSparkErrors

/**
 * Keeps a job's output apart from its input: an output that is, contains or lies inside an input
 * path would be deleted or replaced by `--overwrite` (or by the recovery of an interrupted run)
 * before, or while, it is read.
 *
 * Paths are compared qualified through their Hadoop file system (scheme, authority, absolute
 * path), and on the local file system with symbolic links resolved, for the longest part of the
 * path that exists. An input glob is compared through the paths it matches and through its
 * folder part before the first wildcard.
 */
object InputOutputPaths {

  /**
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT when `output`, or a folder beside it
   *   that [[OutputCommit]] owns, is, contains or lies inside `input`
   */
  def checkApart(input: String, output: String, conf: Configuration): Unit = {
    val out = resolve(new Path(output), conf)
    val owned = OutputCommit.prefix(out)
    for ((in, read) <- inputs(input, conf)) {
      val relation =
        if (in == out) Some("is the input")
        else if (isUnder(in, out)) Some(s"contains the input $in")
        else if (read && isUnder(out, in)) Some(s"lies inside the input $in")
        else if (selfAndAncestors(in).exists(p => p.getParent == out.getParent && p.getName.startsWith(owned))) {
          Some(s"owns the folders beside it named $owned*, and the input $in is one of them")
        } else None
      relation.foreach { r =>
        throw TFSparkErrors.invalidArgument("--output", s"'$output', which $r", "an output path apart from the input")
      }
    }
  }

  /**
   * The input's paths, qualified and resolved, each with whether all of it is read: a glob's
   * matches (read) and its folder part (not read: an output inside it but outside the matches is
   * fine), or the path (read).
   */
  private def inputs(input: String, conf: Configuration): Seq[(Path, Boolean)] = {
    val path = new Path(input)
    val fs = path.getFileSystem(conf)
    val matches = Try(Option(fs.globStatus(path)).map(_.toSeq.map(_.getPath)).getOrElse(Nil)).getOrElse(Nil)
    val literal = {
      // The part before the first wildcard: a glob's matches may not exist yet, its folder does.
      val names = Iterator.iterate(path)(_.getParent).takeWhile(_ != null).toSeq.reverse
      names.takeWhile(p => !"*?[{\\".exists(p.getName.contains(_))).lastOption.getOrElse(path)
    }
    val read = matches.map(resolve(_, conf))
    val folder = resolve(literal, conf)
    (read.map(_ -> true) :+ (folder -> (literal == path || read.contains(folder)))).distinct
  }

  /** `path` qualified, and for a local path with the symbolic links of its existing part resolved. */
  private def resolve(path: Path, conf: Configuration): Path = {
    val fs = path.getFileSystem(conf)
    val qualified = fs.makeQualified(path)
    if (qualified.toUri.getScheme != "file") qualified
    else {
      val local = Paths.get(qualified.toUri).normalize()
      val existing = Iterator.iterate(local)(_.getParent).takeWhile(_ != null).find(Files.exists(_)).getOrElse(local.getRoot)
      val real = existing.toRealPath().resolve(existing.relativize(local))
      FileSystem.getLocal(conf).makeQualified(new Path(real.toString))
    }
  }

  private def selfAndAncestors(p: Path): Iterator[Path] = Iterator.iterate(p)(_.getParent).takeWhile(_ != null)

  /** Whether `inner` lies strictly inside `outer` (both qualified). */
  private def isUnder(inner: Path, outer: Path): Boolean = selfAndAncestors(inner.getParent).exists(_ == outer)
}
