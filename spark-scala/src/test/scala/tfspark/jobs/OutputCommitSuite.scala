package tfspark.jobs

import java.io.{File, IOException}
import java.nio.file.Files

import scala.collection.mutable.ArrayBuffer

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileSystem, Path}
import org.scalatest.funsuite.AnyFunSuite

import tfspark.TestModels

/**
 * [[OutputCommit]] on the local file system, without Spark: the on-disk state a `kill -9` leaves
 * after each step is made by running the steps up to it and abandoning the run, and the next
 * run's `recover()` must turn it into the previous output or the new one, whole, with nothing
 * beside it.
 */
class OutputCommitSuite extends AnyFunSuite {
  import OutputCommitSuite._

  private val fs: FileSystem = FileSystem.getLocal(new Configuration()) // as BatchScore's: with .crc files

  /** An output folder of `files` parts, each naming `generation`, and `_SUCCESS`. */
  private def writeOutput(dir: Path, generation: String, files: Int): Unit = {
    fs.mkdirs(dir)
    (0 until files).foreach(i => Files.write(new File(dir.toUri.getPath, f"part-$i%05d").toPath, s"$generation $i\n".getBytes("UTF-8")))
    fs.create(new Path(dir, "_SUCCESS")).close()
  }

  private def commitIn(dir: File, lines: ArrayBuffer[String] = ArrayBuffer.empty, hook: OutputCommit.Step => Unit = _ => ()) =
    new OutputCommit(fs, new Path(new File(dir, "out").getPath), lines += _, hook)

  /** The states a kill leaves: the steps done before it, and what it did of the next one. */
  private val killPoints: Seq[(String, OutputCommit => Unit)] = Seq(
    "while writing" -> { c =>
      writeOutput(new Path(c.staging, "_temporary/0/task"), "new", 3) // Spark's task files, no _SUCCESS
    },
    "after writing, before the move aside" -> { c => c.write(writeOutput(_, "new", NewFiles)) },
    "between the two renames" -> { c => c.write(writeOutput(_, "new", NewFiles)); c.moveAside() },
    "after the swap, before the trash" -> { c => c.write(writeOutput(_, "new", NewFiles)); c.moveAside(); c.swap() },
    "during the delete of the previous output" -> { c =>
      c.write(writeOutput(_, "new", NewFiles)); c.moveAside(); c.swap(); c.trashOld()
      // The worst case: half the parts gone, _SUCCESS still there.
      if (fs.exists(c.trash)) {
        fs.listStatus(c.trash).filter(_.getPath.getName.startsWith("part-")).take(OldFiles / 2).foreach(s => fs.delete(s.getPath, false))
      }
    }
  )

  private def expectNew(point: String) = point.startsWith("after the swap") || point.startsWith("during the delete")

  for ((point, kill) <- killPoints; previous <- Seq(true, false)) {
    test(s"a kill $point${if (previous) "" else " (no previous output)"} is recovered by the next run") {
      val dir = TestModels.tempDir("output-commit")
      val interrupted = commitIn(dir)
      if (previous) writeOutput(interrupted.target, "old", OldFiles)
      kill(interrupted)
      val lines = ArrayBuffer.empty[String]
      val next = commitIn(dir, lines)
      val actions = next.recover()
      assert(actions === lines.toSeq)
      assert(dir.list().toSet === (if (previous || expectNew(point)) Set("out") else Set.empty[String]), lines)
      if (expectNew(point)) assertWhole(next.target, "new", NewFiles)
      else if (previous) assertWhole(next.target, "old", OldFiles)
      val expected = point match {
        case "between the two renames" if previous => Seq("restored", "deleted") // old back, then the staging
        case "after the swap, before the trash" if previous => Seq("deleted")
        case "during the delete of the previous output" if previous => Seq("deleted")
        case p if p.startsWith("while") || p.startsWith("after writing") || p.startsWith("between") => Seq("deleted")
        case _ => Nil
      }
      assert(actions.map(_.takeWhile(_ != ' ')) === expected, actions)
      if (point.startsWith("while") || point.startsWith("after writing") || point.startsWith("between")) {
        assert(actions.last.contains("the unfinished output of an interrupted run"), actions)
      }
      // And the next run's own commit then works as usual.
      next.commit(writeOutput(_, "third", 2))
      assertWhole(next.target, "third", 2)
      assert(dir.list().toSet === Set("out"))
    }
  }

  for (step <- OutputCommit.Steps) {
    test(s"an exception at step $step leaves the ${if (OutputCommit.Steps.indexOf(step) < 3) "previous" else "new"} output whole") {
      val dir = TestModels.tempDir("output-commit-fail")
      val commit = commitIn(dir, hook = s => if (s == step) throw new IOException(s"injected at $s"))
      writeOutput(commit.target, "old", OldFiles)
      val before = OutputCommit.Steps.indexOf(step) < 3
      if (before) {
        val e = intercept[IOException](commit.commit(writeOutput(_, "new", NewFiles)))
        assert(e.getMessage === s"injected at $step")
        assertWhole(commit.target, "old", OldFiles)
      } else {
        commit.commit(writeOutput(_, "new", NewFiles))
        assertWhole(commit.target, "new", NewFiles)
      }
      assert(dir.list().toSet === Set("out"))
    }
  }

  test("a failure of the writer after it wrote part of the staging folder rolls back") {
    val dir = TestModels.tempDir("output-commit-writer")
    val commit = commitIn(dir)
    writeOutput(commit.target, "old", OldFiles)
    intercept[IllegalStateException] {
      commit.commit { staging => writeOutput(staging, "new", 2); throw new IllegalStateException("task failed") }
    }
    assertWhole(commit.target, "old", OldFiles)
    assert(dir.list().toSet === Set("out"))
  }

  test("recover() touches nothing when two previous outputs were moved aside and the output is missing") {
    val dir = TestModels.tempDir("output-commit-ambiguous")
    val a = commitIn(dir)
    val b = commitIn(dir)
    writeOutput(a.old, "old-a", 2)
    writeOutput(b.old, "old-b", 2)
    val before = dir.list().toSet
    val e = intercept[IOException](commitIn(dir).recover())
    assert(e.getMessage.contains("2 previous outputs were moved aside"), e.getMessage)
    assert(dir.list().toSet === before)
  }

  test("recover() leaves folders that merely look alike: other outputs, other names, foreign suffixes") {
    val dir = TestModels.tempDir("output-commit-alike")
    val names = Seq("out2.tfspark-staging-0b5a1c52-0e5e-4a7c-9d4c-7d3a1f0b8c11", "out.tfspark-staging-mine", "out.tfspark-old", "other")
    names.foreach(n => new File(dir, n).mkdirs())
    assert(commitIn(dir).recover().isEmpty)
    assert(dir.list().toSet === names.toSet)
  }
}

object OutputCommitSuite extends org.scalatest.Assertions {
  val OldFiles = 300
  val NewFiles = 7

  /** `dir` holds exactly `files` parts of `generation` and `_SUCCESS`. */
  def assertWhole(dir: Path, generation: String, files: Int): Unit = {
    val folder = new File(dir.toUri.getPath)
    val names = Option(folder.list()).map(_.toSet).getOrElse(Set.empty)
    val parts = names.filter(_.startsWith("part-"))
    assert(names.contains("_SUCCESS"), s"$folder has no _SUCCESS: ${names.toSeq.sorted.take(5)}")
    assert(parts.size == files, s"$folder: ${parts.size} parts, expected $files of $generation")
    parts.foreach { p =>
      val text = new String(Files.readAllBytes(new File(folder, p).toPath), "UTF-8")
      assert(text.startsWith(s"$generation "), s"$p holds '$text', expected $generation")
    }
  }
}
