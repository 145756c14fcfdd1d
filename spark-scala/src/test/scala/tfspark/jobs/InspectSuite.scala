package tfspark.jobs

import org.scalatest.funsuite.AnyFunSuite

import tfspark.TestModels

class InspectSuite extends AnyFunSuite {

  private def render(args: String*) = Inspect.render(JobArguments.parse(args, Set("repository", "model", "version")))

  test("lists every committed model with its versions") {
    val lines = render("--repository", TestModels.modelsDir.getPath)
    Seq("cifar2", "covid", "imdb", "linear", "titanic").foreach(m => assert(lines.contains(s"  $m: versions 1")))
  }

  test("prints a model's signatures with keys, dtypes and shapes, and its model card") {
    val text = render("--repository", TestModels.modelsDir.getPath, "--model", "titanic").mkString("\n")
    assert(text.contains("signature_def['serving_default']:"))
    assert(text.contains("signature_def['features']:"))
    assert(text.contains("    pclass: int64 [-1]"))
    assert(text.contains("    probability: float32 [-1,1]"))
    assert(text.contains("# Model card: titanic"))
  }

  test("exit codes: 0 for --help, 2 for a bad flag, 1 for an unknown model") {
    assert(Inspect.exitCode(Array("--help")) === 0)
    assert(Inspect.exitCode(Array("--nope")) === 2)
    assert(Inspect.exitCode(Array("--repository", TestModels.modelsDir.getPath, "--model", "missing")) === 1)
  }
}
