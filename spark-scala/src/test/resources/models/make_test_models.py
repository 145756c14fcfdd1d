"""Writes the small test-only SavedModels beside this script (run from the repository root):

    .venv/bin/python spark-scala/src/test/resources/models/make_test_models.py [OUT_DIR]

``tokens/1`` covers what the book models do not: an int64 token-id input of variable length
(``tokens`` int64 [-1,-1], 0 = padding) with float32 and int64 outputs, and a ``scale`` signature
with scalar float64 and bool inputs and float64 and int32 outputs. Weights come from a seeded
generator, so the export and its golden vectors are the same on every run.

``thumbnail/1`` returns bytes in string outputs, as image models do: ``n`` int64 [-1] → ``png``
(``tf.io.encode_png`` of a 4x4 RGB image whose pixels depend on ``n``: not UTF-8), ``head`` (its
first ``n`` bytes: ``""`` for n = 0, not UTF-8 from n = 1, as it starts with 0x89) and ``label``
(the UTF-8 text ``"café #<n>"``). It has no golden vectors (the golden suites read every output as
text); ``assets.extra/expected_bytes.json`` holds Python TF's outputs for :data:`THUMBNAIL_CASES`,
base64-encoded, for the byte-exact round-trip tests.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from python_trainer import export, golden

VOCAB, DIM = 50, 4


class TokensModel(tf.Module):
    def __init__(self, seed: int = 3) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.embedding = tf.Variable(rng.normal(size=(VOCAB, DIM)).astype(np.float32), name="embedding")
        self.kernel = tf.Variable(rng.normal(size=(DIM, 1)).astype(np.float32), name="kernel")

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int64, name="tokens")])
    def serve(self, tokens):
        valid = tf.cast(tokens > 0, tf.float32)
        vectors = tf.gather(self.embedding, tf.clip_by_value(tokens, 0, VOCAB - 1)) * valid[..., None]
        count = tf.reduce_sum(valid, axis=1, keepdims=True)
        mean = tf.reduce_sum(vectors, axis=1) / tf.maximum(count, 1.0)
        return {"probability": tf.sigmoid(mean @ self.kernel), "length": tf.cast(count[:, 0], tf.int64)}

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.float64, name="x"), tf.TensorSpec([None], tf.bool, name="flag")]
    )
    def scale(self, x, flag):
        y = tf.where(flag, 2.0 * x, x)
        return {"y": y, "sign": tf.cast(tf.sign(y), tf.int32)}


def cases() -> list[golden.GoldenCase]:
    t = np.int64
    return [
        golden.GoldenCase("two_rows", "serving_default", {"tokens": np.array([[1, 2, 3], [4, 5, 0]], t)}),
        golden.GoldenCase("batch_of_one", "serving_default", {"tokens": np.array([[7, 8]], t)}),
        golden.GoldenCase("out_of_vocabulary", "serving_default", {"tokens": np.array([[999, 49, 1]], t)}),
        golden.GoldenCase("all_padding", "serving_default", {"tokens": np.zeros((2, 4), t)}),
        golden.GoldenCase("hundred_tokens", "serving_default", {"tokens": (np.arange(100, dtype=t) % 49 + 1)[None]}),
        golden.GoldenCase("empty_batch", "serving_default", {"tokens": np.zeros((0, 3), t)}),
        golden.GoldenCase("scalars", "scale", {"x": np.array([1.5, -2.0, 0.0]), "flag": np.array([True, False, True])}),
        golden.GoldenCase("scalars_empty", "scale", {"x": np.zeros((0,)), "flag": np.zeros((0,), bool)}),
    ]


THUMBNAIL_CASES = [0, 1, 2, 3, 8, 1000]


class ThumbnailModel(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="n")])
    def serve(self, n):
        base = tf.reshape(tf.range(48, dtype=tf.int64), [4, 4, 3]) * 5

        def encode(k):
            return tf.io.encode_png(tf.cast((base + k * 7) % 256, tf.uint8))

        png = tf.map_fn(encode, n, fn_output_signature=tf.TensorSpec([], tf.string))
        head = tf.strings.substr(png, tf.zeros_like(n, tf.int32), tf.cast(n, tf.int32))
        label = tf.strings.join(["café #", tf.strings.as_string(n)])
        return {"png": png, "head": head, "label": label}


def make_thumbnail(out: Path) -> Path:
    """Writes ``thumbnail/1`` and its expected outputs (base64), computed by Python TF from the export."""
    module = ThumbnailModel()
    final = export.save_module(module, {"serving_default": module.serve}, out_root=out, name="thumbnail", version=1)
    serve = tf.saved_model.load(str(final)).signatures["serving_default"]
    outputs = serve(n=tf.constant(THUMBNAIL_CASES, tf.int64))
    expected = {
        "n": THUMBNAIL_CASES,
        "outputs": {k: [base64.b64encode(v).decode("ascii") for v in outputs[k].numpy()] for k in sorted(outputs)},
    }
    (final / "assets.extra").mkdir(exist_ok=True)
    (final / "assets.extra" / "expected_bytes.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    return final


def main(out: Path) -> Path:
    module = TokensModel()
    final = export.save_module(
        module, {"serving_default": module.serve, "scale": module.scale}, out_root=out, name="tokens", version=1
    )
    golden.write_golden(final, model="tokens", version=1, cases=cases(), atol=1e-6, rtol=1e-6)
    make_thumbnail(out)
    return final


# ----------------------------------------------------------------------------------------------
# Op-library models (issue 17), in their own repository ``../op-library-models`` so that the suites
# that load every test model do not meet them: ``text_ops/1`` (tensorflow-text ops),
# ``decision_forest/1`` (TF-DF ops, trained by ydf) and ``py_function/1`` (EagerPyFunc). Written by
# ``make_test_models.py --op-library-models [OUT_DIR]`` with the generators of the foreign corpus
# (tests/foreign_models/op_library_models.py), which need bin/setup's .cache/oplib-python.
# ----------------------------------------------------------------------------------------------
OP_LIBRARY_MODELS = Path(__file__).resolve().parent.parent / "op-library-models"


def make_op_library_test_models(out: Path = OP_LIBRARY_MODELS) -> Path:
    import importlib.util

    source = Path(__file__).resolve().parents[5] / "tests" / "foreign_models" / "op_library_models.py"
    spec = importlib.util.spec_from_file_location("op_library_models", source)
    generators = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generators)
    rng = np.random.default_rng(17)
    made = generators.make_op_library_models(out, rng)
    generators.make_py_function_model(out / "py_function" / "1", rng)
    for name, (_, cases) in made.items():
        _write_expected(out / name / "1", cases)
    _make_unregistered_text_op(out / "normalize_utf8" / "1")
    return out


def _write_expected(version: Path, cases) -> None:
    """``assets.extra/expected.json``: each case's inputs and Python TF's outputs, as JSON lists (text as UTF-8)."""

    def plain(a):
        a = np.asarray(a)
        return [v.decode() for v in a.ravel()] if a.dtype == object else a.ravel().tolist()

    model = tf.saved_model.load(str(version))
    doc = []
    for name, signature, inputs in cases:
        outputs = model.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        doc.append(
            {
                "case": name,
                "signature": signature,
                "inputs": {k: plain(v) for k, v in inputs.items()},
                "outputs": {k: plain(v.numpy()) for k, v in outputs.items()},
            }
        )
    extra = version / "assets.extra"
    extra.mkdir(exist_ok=True)
    (extra / "expected.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")


def _make_unregistered_text_op(out: Path) -> None:
    """``normalize_utf8/1``: tensorflow_text.normalize_utf8 (op NormalizeUTF8), whose library the tests never load."""
    import tensorflow_text as text

    class Normalize(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, s):
            return {"normalized": text.normalize_utf8(s, "NFKC")}

    module = Normalize()
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})


if __name__ == "__main__":
    if sys.argv[1:2] == ["--op-library-models"]:
        print(make_op_library_test_models(Path(sys.argv[2]) if len(sys.argv) > 2 else OP_LIBRARY_MODELS))
    else:
        print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent))
