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

  def tempDir(prefix: String): File = Files.createTempDirectory(prefix).toFile

  /**
   * A repository laid out through symbolic links, as TF Serving deployments are: one link per
   * model name, to the committed models and the test-only ones. The SQL suites use it, so that
   * every model in one session is reachable by name, through a link.
   */
  lazy val linkedRepository: File = {
    val root = tempDir("tfspark-linked-repo")
    Seq(modelsDir, testModelsDir).flatMap(r => Option(r.listFiles()).toSeq.flatten).filter(_.isDirectory).foreach { m =>
      Files.createSymbolicLink(new File(root, m.getName).toPath, m.toPath.toAbsolutePath)
    }
    root
  }
}
