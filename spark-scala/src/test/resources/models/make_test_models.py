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

``dtypes/1`` (issue 17) takes and returns every numeric dtype: see :class:`DTypesModel`.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfspark.toolkit import export, golden

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


# --- Composite and unknown-rank signatures (issue 17) -------------------------------------------
#
# ``ragged/1`` takes ``tf.RaggedTensorSpec`` inputs: ``serving_default`` ``x`` float32 [-1,-1]
# (ragged_rank 1, int64 row_splits) → ``total``, ``weighted`` (sum of x[i,j]*(j+1): catches a wrong
# element order) and ``length``; ``nested`` ``x`` float32 [-1,-1,-1] (ragged_rank 2, int32
# row_splits) → ``total`` and ``weighted`` (x[i,j,k]*(10*(j+1)+k+1)); ``points`` ``p`` float32
# [-1,-1,3] (ragged_rank 1, fixed inner dimension) → ``total`` [-1,3]; ``doubled`` returns a ragged
# output (refused). ``assets.extra/expected_ragged.json`` holds Python TF's outputs for
# :data:`RAGGED_CASES`. ``sparse_tf1/1`` (a ``tf.compat.v1.sparse_placeholder`` ``bow``) and
# ``sparse_tf2/1`` (a ``tf.SparseTensorSpec`` ``bow``) are refused, and so is ``ragged_tf1/1`` (a
# TF1 ``build_tensor_info`` of a RaggedTensor: one ``composite_tensor`` TensorInfo without a name).
# ``unknown_rank/1`` is a TF1 ``Builder`` export whose ``x`` placeholder has no shape:
# ``serving_default`` → ``y = 2x+1`` and ``row_sum`` (sum over all but the first axis), both of
# unknown rank; ``varying`` → ``grow``, whose rank is x's, or one more when x sums above 1000.

RAGGED_CASES = {
    "serving_default": [[1.5, -2.0, 3.0], [], [4.0], [0.25, 0.5, 0.75, 1.0, 1.25]],
    "nested": [[[1.0, 2.0], [], [3.0]], [], [[4.0, 5.0, 6.0]], [[], []]],
    "points": [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [], [[-1.0, 0.5, 2.0]]],
}


class RaggedModel(tf.Module):
    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.float32)])
    def serve(self, x):
        position = tf.cast(tf.ragged.range(x.row_lengths()) + 1, tf.float32)
        return {
            "total": tf.reduce_sum(x, axis=1),
            "weighted": tf.reduce_sum(x * position, axis=1),
            "length": x.row_lengths(),
        }

    @tf.function(
        input_signature=[tf.RaggedTensorSpec([None, None, None], tf.float32, ragged_rank=2, row_splits_dtype=tf.int32)]
    )
    def nested(self, x):
        inner = tf.cast(tf.ragged.range(x.values.row_lengths(), row_splits_dtype=tf.int32) + 1, tf.float32)  # k+1
        outer = tf.cast(tf.ragged.range(x.row_lengths(), row_splits_dtype=tf.int32).values + 1, tf.float32)  # j+1
        weights = x.with_values(inner + 10.0 * tf.expand_dims(outer, 1))
        return {"total": tf.reduce_sum(x, axis=[1, 2]), "weighted": tf.reduce_sum(x * weights, axis=[1, 2])}

    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None, 3], tf.float32, ragged_rank=1)])
    def points(self, p):
        return {"total": tf.reduce_sum(p, axis=1)}

    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.float32)])
    def doubled(self, x):
        return {"doubled": x * 2.0}


class SparseModel(tf.Module):
    @tf.function(input_signature=[tf.SparseTensorSpec([None, 10], tf.float32)])
    def serve(self, bow):
        return {"total": tf.sparse.reduce_sum(bow, axis=1)}


def _tf1_export(path: Path, signatures) -> None:
    """Writes a TF1 ``saved_model.Builder`` export; ``signatures(graph)`` returns {key: (inputs, outputs)}."""
    import shutil

    tf1 = tf.compat.v1
    shutil.rmtree(path, ignore_errors=True)
    graph = tf.Graph()
    with graph.as_default(), tf1.Session(graph=graph) as session:
        defs = {
            key: tf1.saved_model.signature_def_utils.build_signature_def(
                {k: tf1.saved_model.build_tensor_info(v) for k, v in inputs.items()},
                {k: tf1.saved_model.build_tensor_info(v) for k, v in outputs.items()},
                "tensorflow/serving/predict",
            )
            for key, (inputs, outputs) in signatures().items()
        }
        builder = tf1.saved_model.Builder(str(path))
        builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map=defs)
        builder.save()
    if not any((path / "variables").iterdir()):  # no variables: git keeps no empty folder, and TF needs none
        (path / "variables").rmdir()


def make_composite_models(out: Path) -> None:
    """Writes ``ragged/1``, ``sparse_tf1/1``, ``sparse_tf2/1``, ``ragged_tf1/1`` and ``unknown_rank/1`` in ``out``."""
    tf1 = tf.compat.v1
    module = RaggedModel()
    final = export.save_module(
        module,
        {"serving_default": module.serve, "nested": module.nested, "points": module.points, "doubled": module.doubled},
        out_root=out,
        name="ragged",
        version=1,
    )
    loaded = tf.saved_model.load(str(final))
    expected = {}
    for key, rows in RAGGED_CASES.items():
        splits_dtype = tf.int32 if key == "nested" else tf.int64
        ragged_rank = 1 if key == "points" else None
        ragged = tf.ragged.constant(rows, tf.float32, row_splits_dtype=splits_dtype, ragged_rank=ragged_rank)
        fn = getattr(loaded, {"serving_default": "serve"}.get(key, key))
        outputs = fn(ragged)
        expected[key] = {"rows": rows, "outputs": {k: v.numpy().tolist() for k, v in sorted(outputs.items())}}
    (final / "assets.extra").mkdir(exist_ok=True)
    text = json.dumps(expected, indent=1) + "\n"
    (final / "assets.extra" / "expected_ragged.json").write_text(text, encoding="utf-8")

    sparse = SparseModel()
    # tf.saved_model.save: python_trainer's export checks would reject the sparse signature first
    tf.saved_model.save(sparse, str(out / "sparse_tf2" / "1"), signatures={"serving_default": sparse.serve})

    def sparse_tf1():
        bow = tf1.sparse_placeholder(tf.float32, shape=[None, 10], name="bow")
        return {"serving_default": ({"bow": bow}, {"total": tf1.sparse.reduce_sum(bow, axis=1)})}

    _tf1_export(out / "sparse_tf1" / "1", sparse_tf1)

    def unknown_rank():
        x = tf1.placeholder(tf.float32, shape=None, name="x")
        row_sum = tf.reduce_sum(x, axis=tf.range(1, tf.rank(x)))
        grow = tf.cond(tf.reduce_sum(x) > 1000.0, lambda: tf.expand_dims(x, -1), lambda: tf.identity(x))
        return {
            "serving_default": ({"x": x}, {"y": 2.0 * x + 1.0, "row_sum": row_sum}),
            "varying": ({"x": x}, {"grow": grow}),
        }

    _tf1_export(out / "unknown_rank" / "1", unknown_rank)

    def ragged_tf1():  # build_tensor_info of a RaggedTensor: one composite_tensor TensorInfo
        values = tf1.placeholder(tf.float32, [None], name="values")
        splits = tf1.placeholder(tf.int64, [None], name="splits")
        x = tf.RaggedTensor.from_row_splits(values, splits)
        return {"serving_default": ({"x": x}, {"total": tf.reduce_sum(x, axis=1)})}

    _tf1_export(out / "ragged_tf1" / "1", ragged_tf1)


# --- issue 17: dtypes/1, every numeric dtype in and out -------------------------------------------

DTYPE_INPUTS = ("int8", "int16", "uint8", "uint16", "uint32", "uint64", "float16", "bfloat16")


class DTypesModel(tf.Module):
    """``dtypes/1``: every numeric dtype TF Serving serves, in and out, without variables.

    * ``serving_default``: one ``[-1]`` input per dtype of :data:`DTYPE_INPUTS` (keys are the dtype
      names); outputs ``echo_<dtype>`` (the input, same dtype) and ``total`` (float64, the sum of
      all inputs cast to float64: proves the model read the values, not just their bytes).
    * ``pixels``: ``image`` uint8 ``[-1,4,4,3]`` → ``mean`` float32 ``[-1]`` (mean pixel) and
      ``inverted`` uint8 ``[-1,4,4,3]`` (255 - pixel): a uint8 image in and out.
    * ``rounding``: ``x`` float32, ``h`` float16, ``b`` bfloat16 (all ``[-1]``) → ``tf_f16_bits`` and
      ``tf_bf16_bits`` (int16 bits of ``tf.cast(x, float16/bfloat16)``), ``fed_f16_bits`` and
      ``fed_bf16_bits`` (int16 bits of ``h`` and ``b`` as fed), ``h`` and ``b`` (echoed): feeding the
      same float32 values to ``x``, ``h`` and ``b`` proves tfspark rounds exactly as TF's Cast.
    """

    @tf.function(input_signature=[tf.TensorSpec([None], getattr(tf, d), name=d) for d in DTYPE_INPUTS])
    def serve(self, int8, int16, uint8, uint16, uint32, uint64, float16, bfloat16):
        inputs = {"int8": int8, "int16": int16, "uint8": uint8, "uint16": uint16}
        inputs.update({"uint32": uint32, "uint64": uint64, "float16": float16, "bfloat16": bfloat16})
        outputs = {f"echo_{k}": tf.identity(v) for k, v in inputs.items()}
        outputs["total"] = tf.add_n([tf.cast(v, tf.float64) for v in inputs.values()])
        return outputs

    @tf.function(input_signature=[tf.TensorSpec([None, 4, 4, 3], tf.uint8, name="image")])
    def pixels(self, image):
        mean = tf.reduce_mean(tf.cast(image, tf.float32), axis=[1, 2, 3])
        return {"mean": mean, "inverted": tf.bitwise.invert(image)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.float32, name="x"),
            tf.TensorSpec([None], tf.float16, name="h"),
            tf.TensorSpec([None], tf.bfloat16, name="b"),
        ]
    )
    def rounding(self, x, h, b):
        return {
            "tf_f16_bits": tf.bitcast(tf.cast(x, tf.float16), tf.int16),
            "tf_bf16_bits": tf.bitcast(tf.cast(x, tf.bfloat16), tf.int16),
            "fed_f16_bits": tf.bitcast(h, tf.int16),
            "fed_bf16_bits": tf.bitcast(b, tf.int16),
            "h": tf.identity(h),
            "b": tf.identity(b),
        }


def dtypes_cases() -> list[golden.GoldenCase]:
    import ml_dtypes

    edges = {
        "int8": np.array([-128, 127, 0, -1], np.int8),
        "int16": np.array([-32768, 32767, 0, -2], np.int16),
        "uint8": np.array([0, 255, 1, 128], np.uint8),
        "uint16": np.array([0, 65535, 1, 32768], np.uint16),
        "uint32": np.array([0, 4294967295, 1, 2147483648], np.uint32),
        "uint64": np.array([0, 18446744073709551615, 1, 9223372036854775808], np.uint64),
        "float16": np.array([65504.0, -65504.0, 2.0**-24, 0.333251953125], np.float16),
        "bfloat16": np.array([3.3895313892515355e38, -1.0, 2.0**-133, 0.333984375], ml_dtypes.bfloat16),
    }
    image = (np.arange(2 * 4 * 4 * 3) * 11 % 256).astype(np.uint8).reshape(2, 4, 4, 3)
    # float32 values whose rounding to float16 / bfloat16 is delicate: ties either way, the largest
    # finite halves, subnormals and their ties, the smallest normals, signed zeros, infinities.
    x = np.array(
        [0.0, -0.0, 1.0, 1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 1.0 + 2.0**-11 + 2.0**-23, 65504.0, 65519.0, -65519.0]
        + [2.0**-24, 2.0**-25, 3 * 2.0**-26, 2.0**-14, 2.0**-14 - 2.0**-25, 1e-8, 0.1, -3.14159]
        + [1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, 1.0 + 2.0**-8 + 2.0**-20, 1e-40, np.inf, -np.inf],
        np.float32,
    )
    rounding = {"x": x, "h": x.astype(np.float16), "b": x.astype(ml_dtypes.bfloat16)}
    nan = np.array([np.nan], np.float32)
    bf16 = ml_dtypes.bfloat16
    return [
        golden.GoldenCase("edges", "serving_default", edges),
        golden.GoldenCase("pixels", "pixels", {"image": image}),
        golden.GoldenCase("rounding", "rounding", rounding),
        golden.GoldenCase("nan", "rounding", {"x": nan, "h": nan.astype(np.float16), "b": nan.astype(bf16)}),
    ]


def make_dtypes(out: Path) -> Path:
    """Writes ``dtypes/1`` and its golden vectors (Python TF's outputs for :func:`dtypes_cases`)."""
    module = DTypesModel()
    signatures = {"serving_default": module.serve, "pixels": module.pixels, "rounding": module.rounding}
    final = export.save_module(module, signatures, out_root=out, name="dtypes", version=1)
    golden.write_golden(final, model="dtypes", version=1, cases=dtypes_cases(), atol=0.0, rtol=0.0)
    return final


def main(out: Path) -> Path:
    module = TokensModel()
    final = export.save_module(
        module, {"serving_default": module.serve, "scale": module.scale}, out_root=out, name="tokens", version=1
    )
    golden.write_golden(final, model="tokens", version=1, cases=cases(), atol=1e-6, rtol=1e-6)
    make_thumbnail(out)
    make_composite_models(out)
    make_dtypes(out)  # issue 17
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
