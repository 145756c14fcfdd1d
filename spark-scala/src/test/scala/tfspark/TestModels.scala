package tfspark

import java.io.File
import java.nio.file.Files

/** Where the tests find the repository's committed models and scratch space. */
object TestModels {

  /** The repository root, passed by sbt (`-Dtfspark.repo.root`); the working directory otherwise. */
  val repoRoot: File = new File(sys.props.getOrElse("tfspark.repo.root", ".")).getCanonicalFile

  val modelsDir: File = new File(repoRoot, "models")

  /** The book's data sets: `$TFSPARK_DATA_DIR`, else `../shared/data` beside the checkout. */
  val dataDir: File = {
    val dir = sys.env.get("TFSPARK_DATA_DIR").map(new File(_)).getOrElse(new File(repoRoot.getParentFile, "shared/data"))
    require(dir.isDirectory, s"data directory $dir is missing: set TFSPARK_DATA_DIR to the folder that holds the book's data sets")
    dir
  }

  /** Test-only SavedModels (made by `make_test_models.py` beside them): int64 tokens, float64 and bool. */
  val testModelsDir: File = new File(repoRoot, "spark-scala/src/test/resources/models")

  /** Every committed `models/<name>/<version>/` that carries golden vectors, sorted. */
  def withGoldenVectors: Seq[(String, Long, File)] = withGoldenVectors(modelsDir)

  /** The models with golden vectors in `models/` and in the test repository, with their repository. */
  def allWithGoldenVectors: Seq[(File, String, Long)] =
    Seq(modelsDir, testModelsDir).flatMap(root => withGoldenVectors(root).map { case (n, v, _) => (root, n, v) })

  def withGoldenVectors(root: File): Seq[(String, Long, File)] =
    Option(root.listFiles()).toSeq.flatten.sortBy(_.getName).flatMap { m =>
      Option(m.listFiles()).toSeq.flatten
        .filter(v => v.getName.matches("[0-9]+") && new File(v, "assets.extra/golden.json").isFile)
        .map(v => (m.getName, v.getName.toLong, v))
        .sortBy(_._2)
    }

  /**
   * Where bin/test generates the foreign-model corpus (`tests/foreign_models/make_foreign_models.py`):
   * `target/foreign-models/`. It may be missing (`./sbt sparkScala/test` alone does not make it).
   */
  val foreignModelsPath: File = new File(repoRoot, "target/foreign-models")

  /** The command that generates the corpus, as the canceled tests name it. */
  val foreignModelsCommand: String = s".venv/bin/python tests/foreign_models/make_foreign_models.py $foreignModelsPath"

  /** Whether the corpus has been generated (its `corpus.json` exists). */
  def foreignModelsBuilt: Boolean = new File(foreignModelsPath, "corpus.json").isFile

  /**
   * The foreign-model corpus, for use inside a test: when it has not been generated, the test is
   * canceled (ScalaTest `assume`, a `TestCanceledException`) with the command that generates it.
   */
  def foreignModelsDir: File = {
    org.scalatest.Assertions.assume(
      foreignModelsBuilt,
      s"the foreign-model corpus is not generated in $foreignModelsPath: run $foreignModelsCommand (bin/test does)"
    )
    foreignModelsPath
  }

  def tempDir(prefix: String): File = Files.createTempDirectory(prefix).toFile

  /**
   * A repository laid out through symbolic links at every level, as TF Serving deployments are.
   * The suites that use it reach every model by name, through links:
   *  - the root is a link (`linked-repo -> real-repo`);
   *  - each committed and test-only model name is an absolute link to its folder;
   *  - `rolled/1` and `rolled/2` are version links to two *different* models (linear/1 absolute,
   *    covid/1 relative, through `store/`), the layout that once gave both one identity;
   *  - `filelinks/1` is a real folder whose every file is a link to titanic/1's file.
   */
  lazy val linkedRepository: File = {
    val base = tempDir("tfspark-linked")
    val real = new File(base, "real-repo")
    val store = new File(base, "store")
    real.mkdirs()
    store.mkdirs()
    def link(at: File, to: java.nio.file.Path): Unit = { at.getParentFile.mkdirs(); Files.createSymbolicLink(at.toPath, to) }
    Seq(modelsDir, testModelsDir).flatMap(r => Option(r.listFiles()).toSeq.flatten).filter(_.isDirectory).foreach { m =>
      link(new File(real, m.getName), m.toPath.toAbsolutePath)
    }
    link(new File(store, "linear-2026-11-27"), new File(modelsDir, "linear/1").toPath.toAbsolutePath)
    link(new File(store, "covid-2026-11-28"), new File(modelsDir, "covid/1").toPath.toAbsolutePath)
    link(new File(real, "rolled/1"), new File(store, "linear-2026-11-27").toPath.toAbsolutePath)
    link(new File(real, "rolled/2"), java.nio.file.Paths.get("../../store/covid-2026-11-28"))
    val titanic = new File(modelsDir, "titanic/1").toPath.toAbsolutePath
    val files = Files.walk(titanic).iterator()
    while (files.hasNext) {
      val f = files.next()
      if (Files.isRegularFile(f)) link(new File(real, s"filelinks/1/${titanic.relativize(f)}"), f)
    }
    val root = new File(base, "linked-repo")
    Files.createSymbolicLink(root.toPath, real.toPath.getFileName) // relative root link
    root
  }
}
