package tfspark.model

import java.io.File

import tfspark.TestModels

/**
 * The op libraries and models of the op-library tests: the libraries bin/setup copies out of the
 * tensorflow-text 2.18.1 and tensorflow-decision-forests 1.11.0 wheels into `.cache/op-libraries/`,
 * and the models `make_test_models.py --op-library-models` wrote into
 * `spark-scala/src/test/resources/op-library-models/`. A missing library fails the suite (never a skip).
 */
object OpLibraryFixtures {

  /** bin/setup's cache folder: `$TFSPARK_CACHE`, else `.cache/` in the checkout. */
  val librariesDir: File =
    new File(
      sys.env.get("TFSPARK_CACHE").filter(_.nonEmpty).map(new File(_)).getOrElse(new File(TestModels.repoRoot, ".cache")),
      "op-libraries"
    )

  private def library(name: String): File = {
    val f = new File(librariesDir, name)
    require(f.isFile, s"op library $f is missing: run bin/setup, which copies it out of its PyPI wheel (docs/op-libraries.md)")
    f
  }

  /** tensorflow-text's `RegexSplitWithOffsets`. */
  lazy val regexSplit: File = library("_regex_split_ops.so")

  /** tensorflow-text's `TFText>WhitespaceTokenizeWithOffsetsV2` (what `WhitespaceTokenizer` uses). */
  lazy val whitespaceTokenizer: File = library("_whitespace_tokenizer_v2.so")

  /** tensorflow-decision-forests' inference ops (`SimpleML*`). */
  lazy val decisionForests: File = library("inference.so")

  /** The value of spark.tfpredict.opLibraries that serves `text_ops` and `decision_forest`. */
  def setting: String = Seq(regexSplit, whitespaceTokenizer, decisionForests).map(_.getPath).mkString(",")

  /** The repository of `text_ops/1`, `decision_forest/1`, `py_function/1` and `normalize_utf8/1`. */
  val repository: File = new File(TestModels.repoRoot, "spark-scala/src/test/resources/op-library-models")

  def expectedJson(model: String): File = new File(repository, s"$model/1/assets.extra/expected.json")
}
