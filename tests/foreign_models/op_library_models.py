"""Foreign-corpus models that a JVM serves only with an op library, or never (see docs/op-libraries.md).

Each ``make_*`` function follows the corpus convention ``(export_dir, rng) -> (exporter description, cases)``
(a case is ``(name, signature, {input key: numpy array})``):

* :func:`make_py_function_model`: a ``tf.Module`` whose signature calls ``tf.py_function`` (op
  ``EagerPyFunc``); tfspark refuses it at load with ``MODEL_LOAD_FAILED``, as no JVM has a Python
  interpreter. No cases: nothing can agree.
* :func:`make_text_ops_model`: ``tensorflow_text.regex_split`` and a ``WhitespaceTokenizer`` (ops
  ``RegexSplitWithOffsets``, ``TFText>WhitespaceTokenizeWithOffsetsV2`` from tensorflow-text 2.18's op libraries).
* :func:`make_decision_forest_model`: a 5-tree gradient-boosted model trained by ydf 0.9.0 and exported
  to TensorFlow (ops ``SimpleML*`` from tensorflow-decision-forests 1.11.0's ``inference.so``).
* :func:`make_op_library_models` writes both op-library models under ``out/<name>/1``.

The op-library models need ``tensorflow_text``, ``tensorflow_decision_forests`` and ``ydf`` importable:
bin/setup installs them, without their dependencies (which would replace tensorflow-cpu), into
``.cache/oplib-python``; :func:`op_library_python_path` puts that folder on ``sys.path``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPLIB_PYTHON = Path(os.environ.get("TFSPARK_CACHE") or ROOT / ".cache") / "oplib-python"
TEXT_OPS_MODEL = "text_ops"
DECISION_FOREST_MODEL = "decision_forest"


def op_library_python_path() -> None:
    """Makes tensorflow_text, tensorflow_decision_forests and ydf importable (bin/setup installs them)."""
    if not OPLIB_PYTHON.is_dir():
        raise RuntimeError(f"{OPLIB_PYTHON} is missing: run bin/setup, which installs the op-library packages there")
    if str(OPLIB_PYTHON) not in sys.path:
        sys.path.append(str(OPLIB_PYTHON))


def make_py_function_model(out: Path, rng):
    import numpy as np
    import tensorflow as tf

    scale = float(rng.uniform(1, 3))

    class WithPyFunction(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            y = tf.py_function(lambda v: v * scale, [x], tf.float32)
            return {"y": tf.reshape(y, [-1])}

    module = WithPyFunction()
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    description = "tf.saved_model.save of a tf.Module calling tf.py_function (EagerPyFunc): never runs in a JVM"
    del np
    return description, []


def make_text_ops_model(out: Path, rng):
    import numpy as np
    import tensorflow as tf

    op_library_python_path()
    import tensorflow_text as text

    tokenizer = text.WhitespaceTokenizer()
    pattern = r"[\s,;]+"

    class TextOps(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, s):
            pieces = text.regex_split(s, pattern)
            words = tokenizer.tokenize(s)
            return {
                "pieces": tf.cast(pieces.row_lengths(), tf.int64),
                "words": tf.cast(words.row_lengths(), tf.int64),
                "first": pieces.to_tensor(default_value=b"")[:, :1],
            }

    module = TextOps()
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    words = ["spark", "tensor", "flow", "serving", "jvm", "café", "日本"]
    rows = [" ".join(rng.choice(words, size=int(rng.integers(1, 6)))) for _ in range(5)]
    cases = [
        ("1_row", "serving_default", {"text": np.array([b"a, b;c  d"], object)}),
        ("5_rows", "serving_default", {"text": np.array([r.encode() for r in rows], object)}),
    ]
    return (
        "tf.Module with tensorflow_text.regex_split and WhitespaceTokenizer (tensorflow-text 2.18 op libraries)",
        cases,
    )


def make_decision_forest_model(out: Path, rng):
    import numpy as np

    op_library_python_path()
    import ydf

    x = rng.normal(size=(200, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    learner = ydf.GradientBoostedTreesLearner(label="y", num_trees=5, max_depth=3, task=ydf.Task.CLASSIFICATION)
    model = learner.train({"a": x[:, 0], "b": x[:, 1], "y": y})
    model.to_tensorflow_saved_model(str(out), mode="tf")
    probe = rng.normal(size=(4, 2)).astype(np.float32)
    cases = [("4_rows", "serving_default", {"a": probe[:, 0], "b": probe[:, 1]})]
    return "ydf 0.9.0 gradient-boosted trees, to_tensorflow_saved_model(mode='tf') (TF-DF 1.11 SimpleML* ops)", cases


def make_op_library_models(out: Path, rng) -> dict[str, tuple[str, list]]:
    """Writes ``out/text_ops/1`` and ``out/decision_forest/1``; returns each one's (description, cases)."""
    made = {}
    for name, make in ((TEXT_OPS_MODEL, make_text_ops_model), (DECISION_FOREST_MODEL, make_decision_forest_model)):
        made[name] = make(out / name / "1", rng)
    return made
