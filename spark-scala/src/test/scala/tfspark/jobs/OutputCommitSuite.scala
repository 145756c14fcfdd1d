package tfspark.jobs

import java.io.IOException
import java.nio.charset.StandardCharsets.UTF_8

import scala.collection.mutable.ArrayBuffer

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileSystem, Path}
import org.apache.hadoop.hdfs.MiniDFSCluster
import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

import tfspark.TestModels

/**
 * [[OutputCommit]] on a Hadoop file system, without Spark: the on-disk state a `kill -9` leaves
 * after each step is made by running the steps up to it and abandoning the run, and the next
 * run's `recover()` must turn it into the previous output or the new one, whole, with nothing
 * beside it. [[LocalOutputCommitSuite]] runs it on the local file system, [[HdfsOutputCommitSuite]]
 * on a `MiniDFSCluster`.
 */
abstract class OutputCommitSuite extends AnyFunSuite {

  protected def fs: FileSystem

  /** A new, empty folder for one test. */
  protected def tempDir(prefix: String): Path

  /** Parts of the previous output: many on the local file system, few on HDFS, where each costs a round trip. */
  protected def OldFiles: Int
  private val NewFiles = 7

  private def names(dir: Path): Set[String] = fs.listStatus(dir).map(_.getPath.getName).filterNot(_.endsWith(".crc")).toSet

  /** An output folder of `files` parts, each naming `generation`, and `_SUCCESS`. */
  protected def writeOutput(dir: Path, generation: String, files: Int): Unit = {
    fs.mkdirs(dir)
    (0 until files).foreach { i =>
      val out = fs.create(new Path(dir, f"part-$i%05d"))
      try out.write(s"$generation $i\n".getBytes(UTF_8))
      finally out.close()
    }
    fs.create(new Path(dir, "_SUCCESS")).close()
  }

  /** `dir` holds exactly `files` parts of `generation` and `_SUCCESS`. */
  private def assertWhole(dir: Path, generation: String, files: Int): Unit = {
    val all = if (fs.exists(dir)) names(dir) else Set.empty[String]
    val parts = all.filter(_.startsWith("part-"))
    assert(all.contains("_SUCCESS"), s"$dir has no _SUCCESS: ${all.toSeq.sorted.take(5)}")
    assert(parts.size === files, s"$dir: ${parts.size} parts, expected $files of $generation")
    parts.foreach { p =>
      val in = fs.open(new Path(dir, p))
      val text =
        try new String(in.readAllBytes(), UTF_8)
        finally in.close()
      assert(text.startsWith(s"$generation "), s"$p holds '$text', expected $generation")
    }
  }

  private def commitIn(dir: Path, lines: ArrayBuffer[String] = ArrayBuffer.empty, hook: OutputCommit.Step => Unit = _ => ()) =
    new OutputCommit(fs, new Path(dir, "out"), lines += _, hook)

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
      val dir = tempDir("output-commit")
      val interrupted = commitIn(dir)
      if (previous) writeOutput(interrupted.target, "old", OldFiles)
      kill(interrupted)
      val lines = ArrayBuffer.empty[String]
      val next = commitIn(dir, lines)
      val actions = next.recover()
      assert(actions === lines.toSeq)
      assert(names(dir) === (if (previous || expectNew(point)) Set("out") else Set.empty[String]), lines)
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
      assert(names(dir) === Set("out"))
    }
  }

  for (step <- OutputCommit.Steps) {
    test(s"an exception at step $step leaves the ${if (OutputCommit.Steps.indexOf(step) < 3) "previous" else "new"} output whole") {
      val dir = tempDir("output-commit-fail")
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
      assert(names(dir) === Set("out"))
    }
  }

  test("a failure of the writer after it wrote part of the staging folder rolls back") {
    val dir = tempDir("output-commit-writer")
    val commit = commitIn(dir)
    writeOutput(commit.target, "old", OldFiles)
    intercept[IllegalStateException] {
      commit.commit { staging => writeOutput(staging, "new", 2); throw new IllegalStateException("task failed") }
    }
    assertWhole(commit.target, "old", OldFiles)
    assert(names(dir) === Set("out"))
  }

  test("recover() touches nothing when two previous outputs were moved aside and the output is missing") {
    val dir = tempDir("output-commit-ambiguous")
    val a = commitIn(dir)
    val b = commitIn(dir)
    writeOutput(a.old, "old-a", 2)
    writeOutput(b.old, "old-b", 2)
    val before = names(dir)
    val e = intercept[IOException](commitIn(dir).recover())
    assert(e.getMessage.contains("2 previous outputs were moved aside"), e.getMessage)
    assert(names(dir) === before)
  }

  test("recover() leaves folders that merely look alike: other outputs, other names, foreign suffixes") {
    val dir = tempDir("output-commit-alike")
    val names = Seq("out2.tfspark-staging-0b5a1c52-0e5e-4a7c-9d4c-7d3a1f0b8c11", "out.tfspark-staging-mine", "out.tfspark-old", "other")
    names.foreach(n => fs.mkdirs(new Path(dir, n)))
    assert(commitIn(dir).recover().isEmpty)
    assert(this.names(dir) === names.toSet)
  }
}

@tfspark.tags.FaultInjectionTest
class LocalOutputCommitSuite extends OutputCommitSuite {
  protected val OldFiles = 300
  protected val fs: FileSystem = FileSystem.getLocal(new Configuration()) // as BatchScore's: with .crc files
  protected def tempDir(prefix: String): Path = new Path(TestModels.tempDir(prefix).toURI)
}

@tfspark.tags.HdfsTest
class HdfsOutputCommitSuite extends OutputCommitSuite with BeforeAndAfterAll {
  protected val OldFiles = 20
  private var dfs: MiniDFSCluster = _
  private var count = 0

  protected def fs: FileSystem = dfs.getFileSystem

  protected def tempDir(prefix: String): Path = {
    count += 1
    val dir = new Path(s"/$prefix-$count")
    fs.mkdirs(dir)
    fs.makeQualified(dir)
  }

  override def beforeAll(): Unit = {
    val conf = new Configuration()
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, TestModels.tempDir("tfspark-minidfs").getPath)
    dfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build()
    dfs.waitActive()
    super.beforeAll()
  }

  override def afterAll(): Unit =
    try super.afterAll()
    finally if (dfs != null) dfs.shutdown()

  test("an output that is, contains or lies inside the input is refused on HDFS too") {
    val dir = tempDir("hdfs-overlap")
    writeOutput(new Path(dir, "p"), "input", 1)
    val input = new Path(dir, "p/part-00000").toString
    val conf = fs.getConf
    for (output <- Seq(input, new Path(dir, "p").toString, new Path(dir, "p/part-00000/x").toString)) {
      val e = intercept[tfspark.errors.TFSparkException](InputOutputPaths.checkApart(input, output, conf))
      assert(e.errorClass === "INVALID_ARGUMENT", e.getMessage)
    }
    InputOutputPaths.checkApart(input, new Path(dir, "scored").toString, conf)
    // The same path on another file system is another path.
    InputOutputPaths.checkApart(input, new java.io.File(TestModels.tempDir("local"), "p").toURI.toString, conf)
  }
}
