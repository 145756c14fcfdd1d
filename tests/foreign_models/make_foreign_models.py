"""Generates the foreign-model corpus: SavedModels exported the ways users export them.

None of these models goes through this project's export helpers (``tfspark.toolkit.export``). Each
one is written the way a user who never heard of tfspark would write it: Keras 3 ``model.export``,
``keras.export.ExportArchive``, ``tf.saved_model.save`` of a Keras model or of a hand-written
``tf.Module``, keras.applications, Keras 2's ``model.save``, TF1's ``Builder``, keras-hub, jax2tf.
The JVM tests (ScalaTest and the pyspark cross-language tests) run every entry point over this
corpus; ``tests/test_check_and_foreign.py`` proves that the expectations are right.

Usage::

    python tests/foreign_models/make_foreign_models.py OUT_DIR [--force]

The exporters beyond TF and Keras 3 (jax, tf_keras, keras-hub) are pinned in pyproject.toml's
``foreign`` extra and bin/setup. A run takes about 40 s of CPU (the two MobileNets 10 s each).

The run is idempotent: ``OUT_DIR/.stamp`` records the hash of this script and the TF, Keras,
tf_keras, keras-hub, jax and jaxlib versions, and a second run with the same stamp does nothing.
Otherwise ``plain/``, ``linked/``, ``store/``, ``expected/`` and ``corpus.json`` are deleted and
written again. Weights are seeded, so every run computes the same outputs (the ``saved_model.pb``
bytes may differ between runs: TF names its functions with fresh ids).

Models (``OUT_DIR/plain/<name>/1/``)
-------------------------------------
``keras_export``
    Keras 3 functional model ``x float32 [-1,4] → Dense(8, relu) → Dense(1)``, ``model.export(dir)``.
    Signatures ``serving_default`` and ``serve``: ``x`` → ``output_0 float32 [-1,1]``.
``export_archive``
    ``keras.export.ExportArchive`` with two endpoints: ``serve`` (``x`` → ``output_0 [-1,1]``, also
    written as ``serving_default``) and ``embed`` (``x`` → ``embedding float32 [-1,8]``, the hidden layer).
``saved_model_save``
    ``tf.saved_model.save(keras_model, dir)``. TF's C++ loader does not restore its variables: a
    negative case (``MODEL_LOAD_FAILED``).
``scalar_module``
    A ``tf.Module`` with scalar signatures, as in the book: ``serving_default(x float32 [])`` →
    ``y float32 []``; ``threshold(threshold float32 [], text string [-1])`` → ``above int64 [-1]``,
    ``margin float32 [-1]`` (UTF-8 character count minus the threshold, and whether it is positive).
``vocab_asset``
    A ``tf.lookup.StaticHashTable`` over a vocabulary file in ``assets/`` (``tf.saved_model.Asset``):
    ``word string [-1]`` → ``word_id int64 [-1]`` (-1 when unknown), ``score float32 [-1]``.
``mixed_dtypes``
    ``count int32 [-1]``, ``flag bool [-1]``, ``payload string [-1]`` (raw bytes), ``pair float64 [-1,2]``
    → ``score float32 [-1]``, ``length int32 [-1]`` (byte length of ``payload``).
``with_warmup``
    ``features float32 [-1,3]`` → ``prediction float32 [-1,1]``, with
    ``assets.extra/tf_serving_warmup_requests`` written as TF Serving expects it: a TFRecord file of
    ``tensorflow.serving.PredictionLog`` protos (three ``predict_log`` requests).
``keras_broken``
    A ``tf.Module`` that wraps a Keras 3 model without tracking its variables (the TF guide's
    pattern), saved with ``tf.saved_model.save``. Python's ``tf.saved_model.load`` runs it; TF's C++
    loader (TF Java, TF Serving) fails with "Could not find variable prediction/bias" (or another of its
    variables: whichever op reads first): the negative case.

``py_function``
    A ``tf.Module`` whose signature calls ``tf.py_function`` (op ``EagerPyFunc``), saved with
    ``tf.saved_model.save`` (``tests/foreign_models/op_library_models.py``). Python runs it; a JVM never
    can (no Python interpreter): ``MODEL_LOAD_FAILED`` at load, whose message must contain the words in
    the entry's ``load_failure`` field of corpus.json.

The routes users export by (issue 17; all ``expect: agree``: TF Serving serves every one)
    ``keras_app_mobilenet_v3_uint8``
        ``keras.applications.MobileNetV3Small(weights=None, alpha=0.75)`` at 32x32 behind
        ``keras.Input(dtype="uint8")`` and a ``Rescaling`` layer (the cast), ``model.export(dir)``: the
        image-serving contract, ``image uint8 [-1,32,32,3]`` → ``output_0 float32 [-1,5]`` (softmax).
        Biases and batch-norm statistics are seeded too, with small variances so that each image gets its
        own output.
    ``keras_app_mobilenet_v2``
        ``keras.applications.MobileNetV2(weights=None, alpha=0.35)`` at 32x32, ``model.export(dir)``:
        ``keras_tensor float32 [-1,32,32,3]`` (Keras names the application's input) → ``output_0 [-1,4]``.
        (EfficientNetB0 and ResNet50 are left out: 16 and 94 MB of variables, 30 s and more to export on
        two cores, for no route the MobileNets do not take.)
    ``tf_keras_save``
        Keras 2 (``tf_keras`` 2.18) Sequential, ``model.save(dir)`` (the SavedModel format):
        ``features float32 [-1,5]`` → ``probabilities float32 [-1,2]``.
    ``tf1_builder``
        TF1 ``tf.compat.v1.saved_model.Builder``, the classic TF Serving layout: ``serving_default`` and
        ``predict`` (``predict_signature_def``: ``x float32 [-1,3]`` → ``scores float32 [-1,3]``,
        ``class_id int64 [-1]``), ``classify`` (``classification_signature_def``: ``inputs string [-1]``,
        serialized ``tf.train.Example`` protos with a float feature ``x`` of 3 values → ``classes string
        [-1,3]``, ``scores float32 [-1,3]``), and a TF Serving warm-up file for ``predict``.
    ``keras_hub_bert``
        ``keras_hub.models.BertBackbone`` from a config (vocabulary 100, 2 layers, 2 heads, hidden 16),
        random weights, ``model.export(dir)``: ``token_ids``, ``padding_mask``, ``segment_ids int32
        [-1,-1]`` → ``sequence_output float32 [-1,-1,16]``, ``pooled_output float32 [-1,16]``.
    ``jax2tf``
        ``jax2tf.convert(fn, with_gradient=False, polymorphic_shapes=["(b, 3)"])`` (native serialization,
        jax 0.4.38's default: one ``XlaCallModule`` op) in a ``tf.Module``, ``tf.saved_model.save``:
        ``x float32 [-1,3]`` → ``output_0 float32 [-1,2]``.
    ``mixed_float16_output``
        Keras 3 under ``mixed_float16`` with no float32 output layer, ``model.export(dir)``:
        ``x float32 [-1,4]`` → ``output_0 float16 [-1,2]`` (tolerance 1e-3: float16's precision).
    ``ragged_input``
        ``tf.Module`` with ``tf.RaggedTensorSpec`` inputs: ``serving_default`` (``[None, None]``, ragged_rank
        1) → ``total float32 [-1]``, ``count int64 [-1]``; ``nested`` (``[None, None, None]``, ragged_rank 2)
        → ``total``, ``inner_rows int64 [-1]``. Its SignatureDef shows the components: ``x`` (flat values),
        ``x_1`` (and ``x_2``) the row splits; the golden cases feed one ragged ``x`` (see ``golden.py``).
    ``bytes_output``
        ``pixels float32 [-1,4]`` → ``png string [-1]`` (a 2x2 PNG per row: bytes that are not UTF-8),
        ``brightness float32 [-1]``. corpus.json ``binary_outputs: ["png"]``: the JVM serves it as binary
        when ``spark.tfpredict.binaryOutputs`` names it.
    ``narrow_ints``
        ``level int8 [-1]``, ``offset int16 [-1]``, ``reading uint16 [-1,2]`` → ``score float32 [-1]``,
        ``score_bf16 bfloat16 [-1]``; the cases hold each type's extremes.
    ``wide_unsigned``
        ``count uint32 [-1]`` → ``total uint64 [-1]`` (above 2^32), ``ratio float64 [-1]``.
    ``uint8_input``
        ``pixels uint8 [-1,4]``, ``scale float32 [-1]`` → ``score float32 [-1]`` (an odd signature until
        issue 17).
    ``half_output``
        ``x float32 [-1,2]`` → ``probability float16 [-1]`` (an odd signature until issue 17).

Odd signatures (``expect: UNSUPPORTED_SIGNATURE``, ``odd: true``)
    ``tf.Module`` exports whose variables are tracked: they load in TF's C++ loader and run (``check``
    passes on them), but their SignatureDef has a shape tfspark does not serve, so every JVM
    entry point must refuse them with ``UNSUPPORTED_SIGNATURE``, naming the input or output
    (``offending`` in corpus.json) and the reason (``reason``: words the message must contain). Each has
    ``feed``: the SQL argument a user would plausibly pass, as in ``tfpredict('<name>', <feed>)``. All
    have one signature, ``serving_default``:

    ``odd_fixed_batch``          ``x float32 [8,2]`` → ``y float32 [8]`` (a fixed batch size)
    ``odd_scalar_output``        ``x float32 [-1,2]`` → ``total float32 []`` (sum over the batch)
    ``odd_unknown_rank_output``  ``x float32 [-1,2]`` → ``flat float32 <unknown rank>`` (reshape to a
                                 shape read from a variable of unknown shape)
    ``odd_no_inputs``            no inputs → ``constant float32 [-1]`` (a variable of shape [None])
    ``odd_fixed_output``         ``x float32 [-1,2]`` → ``column_sums float32 [3]`` (sum over the batch)

No model carries ``assets.extra/golden.json``: the JVM must use its synthetic warm-up on them (and
the warm-up requests on ``with_warmup`` and ``tf1_builder``).

Other outputs
-------------
``OUT_DIR/expected/<name>.json``
    For every model expected to work, golden vectors in the format of ``tfspark/toolkit/golden.py``
    (one-row and multi-row cases for every signature; ``[]``-shaped cases for scalar inputs), with
    the outputs computed by Python TF through ``tf.saved_model.load(dir).signatures[key]``.
``OUT_DIR/corpus.json``
    A list of ``{name, exporter, path, linked_path, link_shape, signatures, expect, odd}``, plus
    ``feed``, ``offending`` and ``reason`` where ``odd`` is true, and ``binary_outputs`` (the string outputs
    that hold bytes, to name in ``spark.tfpredict.binaryOutputs``) where a model has them. ``expect`` is
    ``"agree"`` or the expected error class (``"MODEL_LOAD_FAILED"``, or ``"UNSUPPORTED_SIGNATURE"`` for
    the odd signatures). ``signatures`` are the SignatureDefs as written (a ragged input as its components).

Linked layout (``OUT_DIR/linked/repo``, the same models through symbolic links)
-------------------------------------------------------------------------------
::

    linked/repo -> real_repo                                   the repository root is a link
    linked/real_repo/
      keras_export -> ../../store/keras_export                 name link, relative (store/keras_export/1/ real)
      export_archive/1 -> /ABS/OUT_DIR/store/export_archive-2026-11-27   version link, absolute
      scalar_module/1 -> ../../../store/scalar_module-2026-11-28         version link, relative
      vocab_asset/1/                                           real folders, every file a link:
        saved_model.pb -> ../../../../store/files/vocab_asset/saved_model.pb           (relative)
        fingerprint.pb -> ../../../../store/files/vocab_asset/fingerprint.pb           (relative)
        variables/variables.index -> /ABS/OUT_DIR/store/files/vocab_asset/variables/variables.index
        variables/variables.data-00000-of-00001 -> /ABS/.../variables.data-00000-of-00001 (absolute)
        assets/vocab.txt -> /ABS/OUT_DIR/store/files/vocab_asset/assets/vocab.txt      (absolute)
      mixed_dtypes -> /ABS/OUT_DIR/store/mixed_dtypes           name link, absolute, to a folder whose
                                                               version is itself a link (a chain):
                                                               store/mixed_dtypes/1 -> ../mixed_dtypes-v1
      with_warmup/1 -> ../../../store/with_warmup-2026-11-26    version link, relative
      keras_broken/1 -> /ABS/OUT_DIR/store/keras_broken-2026-11-25       version link, absolute (negative)
      saved_model_save/1/                                      a plain copy, no link (negative)
      odd_*  -> ../../store/odd/odd_*                          name link, relative (the odd signatures)
      the routes of issue 17 (ROUTE_MODELS), in turn:
        keras_app_mobilenet_v3_uint8 -> ../../store/routes/keras_app_mobilenet_v3_uint8   name link, relative
        keras_app_mobilenet_v2/1 -> /ABS/OUT_DIR/store/keras_app_mobilenet_v2-2026-12-01 version link, absolute
        tf_keras_save/1 -> ../../../store/tf_keras_save-2026-12-02                         version link, relative
        ...

Every link target under ``store/`` is a byte copy of the model in ``plain/``, so the linked layout
resolves to the same bytes as the plain one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import op_library_models  # noqa: E402  (beside this script)

SEED = 20261127
VERSION = 1
TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}
STAMP = ".stamp"
MANAGED = ("plain", "linked", "store", "expected", "corpus.json")
AGREE = "agree"
LOAD_FAILED = "MODEL_LOAD_FAILED"
UNSUPPORTED = "UNSUPPORTED_SIGNATURE"
# the exporters besides TF and Keras 3 (pyproject.toml's `foreign` extra and bin/setup): their versions are in the stamp
EXPORTER_PACKAGES = ("tf_keras", "keras-hub", "jax", "jaxlib")
VOCABULARY = ["spark", "tensor", "flow", "model", "café", "naïve", "日本", "serving"]


def stamp_text() -> str:
    """What ``OUT_DIR/.stamp`` holds for this script and the installed TF/Keras: a run is skipped when it matches."""
    import keras
    import tensorflow as tf

    digest = hashlib.sha256(Path(__file__).read_bytes() + Path(op_library_models.__file__).read_bytes()).hexdigest()
    versions = {package: metadata.version(package) for package in EXPORTER_PACKAGES}
    return json.dumps({"script_sha256": digest, "tensorflow": tf.__version__, "keras": keras.__version__, **versions})


def is_fresh(out_dir: Path) -> bool:
    """True when ``out_dir`` holds a complete corpus written by this very script and TF version."""
    out_dir = Path(out_dir)
    stamp = out_dir / STAMP
    if not stamp.is_file() or stamp.read_text(encoding="utf-8") != stamp_text():
        return False
    # absolute links break when the folder moves: the corpus is then stale whatever the stamp says
    return all(
        (out_dir / layout / name / str(VERSION) / "saved_model.pb").is_file()
        for layout in ("plain", "linked/repo")
        for name in MODELS
    )


# ----------------------------------------------------------------------------------------------
# The models, one function each: (export_dir, rng) -> (exporter description, expected cases)
# A case is (name, signature, {input key: numpy array}).
# ----------------------------------------------------------------------------------------------


def _mlp(rng, n_in: int, n_hidden: int, input_name: str):
    """A seeded Keras 3 functional model ``input → Dense(n_hidden, relu) → Dense(1)``; returns (model, hidden)."""
    import keras

    keras.backend.clear_session()
    inp = keras.Input(shape=(n_in,), name=input_name)
    hidden = keras.layers.Dense(n_hidden, activation="relu", name="hidden")(inp)
    out = keras.layers.Dense(1, name="prediction")(hidden)
    model = keras.Model(inp, out)
    for layer in model.layers[1:]:
        kernel, bias = layer.get_weights()
        layer.set_weights(
            [rng.normal(0, 0.5, kernel.shape).astype("float32"), rng.normal(0, 0.2, bias.shape).astype("float32")]
        )
    return model, keras.Model(inp, hidden)


def _float_rows(rng, rows: int, cols: int, dtype="float32"):
    import numpy as np

    data = rng.normal(0, 2, (rows, cols))
    if rows >= 5:
        data[0] = 0.0
        data[1, 0] = 1e3
        data[2, -1] = -1e3
    return data.astype(np.dtype(dtype))


def make_keras_export(out: Path, rng):
    model, _ = _mlp(rng, 4, 8, "x")
    model.export(str(out), verbose=False)
    cases = [
        (f"{n}_row{'s' if n > 1 else ''}", sig, {"x": _float_rows(rng, n, 4)})
        for sig in ("serving_default", "serve")
        for n in (1, 6)
    ]
    return "keras.Model.export(dir) (Keras 3 functional model)", cases


def make_export_archive(out: Path, rng):
    import keras
    import tensorflow as tf

    model, embed = _mlp(rng, 4, 8, "x")
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = [tf.TensorSpec([None, 4], tf.float32, name="x")]
    archive.add_endpoint(name="serve", fn=model.call, input_signature=spec)
    archive.add_endpoint(name="embed", fn=lambda x: {"embedding": embed(x)}, input_signature=spec)
    archive.write_out(str(out), verbose=False)
    cases = [
        (f"{n}_row{'s' if n > 1 else ''}", sig, {"x": _float_rows(rng, n, 4)})
        for sig in ("serving_default", "serve", "embed")
        for n in (1, 6)
    ]
    return "keras.export.ExportArchive, endpoints serve and embed, write_out(dir)", cases


def make_saved_model_save(out: Path, rng):
    import tensorflow as tf

    model, _ = _mlp(rng, 4, 8, "x")
    tf.saved_model.save(model, str(out))
    return "tf.saved_model.save(keras_model, dir) (Keras 3): the C++ loader does not restore its variables", []


def make_scalar_module(out: Path, rng):
    import numpy as np
    import tensorflow as tf

    class Scalar(tf.Module):
        def __init__(self):
            super().__init__()
            self.slope = tf.Variable(float(rng.uniform(1, 3)), name="slope")
            self.offset = tf.Variable(float(rng.uniform(-1, 1)), name="offset")

        @tf.function(input_signature=[tf.TensorSpec(shape=[], dtype=tf.float32)])
        def __call__(self, x):
            return {"y": self.slope * x + self.offset}

        @tf.function(
            input_signature=[tf.TensorSpec(shape=[], dtype=tf.float32), tf.TensorSpec(shape=[None], dtype=tf.string)]
        )
        def threshold(self, threshold, text):
            margin = tf.cast(tf.strings.length(text, unit="UTF8_CHAR"), tf.float32) - threshold * self.slope
            return {"above": tf.cast(margin > 0, tf.int64), "margin": margin}

    module = Scalar()
    tf.saved_model.save(
        module, str(out), signatures={"serving_default": module.__call__, "threshold": module.threshold}
    )
    texts = ["", "a", "héllo wörld", "spark", "x" * 300, "日本語のテキスト", "tensorflow serving"]
    cases = [
        ("zero", "serving_default", {"x": np.array(0.0, np.float32)}),
        ("positive", "serving_default", {"x": np.array(1.5, np.float32)}),
        ("negative", "serving_default", {"x": np.array(-2.25, np.float32)}),
        ("1_row", "threshold", {"threshold": np.array(2.0, np.float32), "text": np.array([b"hello"], object)}),
        (
            "7_rows",
            "threshold",
            {"threshold": np.array(3.5, np.float32), "text": np.array([t.encode() for t in texts], object)},
        ),
    ]
    return "tf.saved_model.save(tf.Module) with scalar input signatures (the book's tf.Module examples)", cases


def make_vocab_asset(out: Path, rng):
    import numpy as np
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_file.write_text("\n".join(VOCABULARY) + "\n", encoding="utf-8")

        class Vocab(tf.Module):
            def __init__(self):
                super().__init__()
                self.vocab = tf.saved_model.Asset(str(vocab_file))
                init = tf.lookup.TextFileInitializer(
                    self.vocab,
                    key_dtype=tf.string,
                    key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
                    value_dtype=tf.int64,
                    value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
                )
                self.table = tf.lookup.StaticHashTable(init, default_value=-1)
                self.weights = tf.Variable(rng.normal(0, 1, len(VOCABULARY) + 1).astype("float32"), name="weights")

            @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="word")])
            def serve(self, word):
                ids = self.table.lookup(word)
                slot = tf.where(ids < 0, tf.cast(len(VOCABULARY), tf.int64), ids)
                return {"word_id": ids, "score": tf.gather(self.weights, slot)}

        module = Vocab()
        tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    words = ["spark", "", "café", "unknown", "SPARK", "日本", "serving"]
    cases = [
        ("1_row", "serving_default", {"word": np.array([b"tensor"], object)}),
        ("7_rows", "serving_default", {"word": np.array([w.encode() for w in words], object)}),
    ]
    return "tf.saved_model.save(tf.Module) with a StaticHashTable over a vocabulary file in assets/", cases


def make_mixed_dtypes(out: Path, rng):
    import numpy as np
    import tensorflow as tf

    class Mixed(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(rng.normal(0, 1, 4).astype("float32"), name="w")

        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.int32, name="count"),
                tf.TensorSpec([None], tf.bool, name="flag"),
                tf.TensorSpec([None], tf.string, name="payload"),
                tf.TensorSpec([None, 2], tf.float64, name="pair"),
            ]
        )
        def serve(self, count, flag, payload, pair):
            length = tf.strings.length(payload)
            score = (
                tf.cast(count, tf.float32) * self.w[0]
                + tf.where(flag, self.w[1], 0.0)
                + tf.cast(tf.reduce_sum(pair, axis=1), tf.float32) * self.w[2]
                + tf.cast(length, tf.float32) * self.w[3]
            )
            return {"score": score, "length": length}

    module = Mixed()
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    payloads = [b"", b"abc", b"\xff\xfe\x00\x01", "é".encode(), b"\x00" * 40, b"plain"]
    cases = [
        (
            "1_row",
            "serving_default",
            {
                "count": np.array([3], np.int32),
                "flag": np.array([True]),
                "payload": np.array([b"hi"], object),
                "pair": np.array([[0.5, -1.25]], np.float64),
            },
        ),
        (
            "6_rows_raw_bytes",
            "serving_default",
            {
                "count": np.array([0, 1, -7, 2**31 - 1, -(2**31), 42], np.int32),
                "flag": np.array([False, True, True, False, True, False]),
                "payload": np.array(payloads, object),
                "pair": _float_rows(rng, 6, 2, "float64"),
            },
        ),
    ]
    return "tf.saved_model.save(tf.Module) with int32, bool, raw-bytes and float64 inputs", cases


def make_with_warmup(out: Path, rng):
    import tensorflow as tf

    class Dense(tf.Module):
        def __init__(self):
            super().__init__()
            self.kernel = tf.Variable(rng.normal(0, 1, (3, 1)).astype("float32"), name="kernel")
            self.bias = tf.Variable(rng.normal(0, 1, (1,)).astype("float32"), name="bias")

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="features")])
        def serve(self, features):
            return {"prediction": tf.matmul(features, self.kernel) + self.bias}

    module = Dense()
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    requests = [
        ("serving_default", {"features": _float_rows(rng, 1, 3)}),
        ("serving_default", {"features": _float_rows(rng, 3, 3)}),
        ("", {"features": _float_rows(rng, 2, 3)}),  # an empty signature_name means serving_default
    ]
    write_warmup_requests(out / "assets.extra" / "tf_serving_warmup_requests", "with_warmup", requests)
    cases = [
        (f"{n}_row{'s' if n > 1 else ''}", "serving_default", {"features": _float_rows(rng, n, 3)}) for n in (1, 5)
    ]
    return "tf.saved_model.save(tf.Module) + assets.extra/tf_serving_warmup_requests (TF Serving warm-up)", cases


def make_keras_broken(out: Path, rng):
    import tensorflow as tf

    model, _ = _mlp(rng, 4, 8, "features")

    class Wrapper(tf.Module):  # the TF guide's wrapper: the Keras 3 model's variables are not tracked
        def __init__(self, model):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="features")])
        def serve(self, features):
            return {"prediction": self.model(features)}

    module = Wrapper(model)
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    return "tf.Module wrapping a Keras 3 model without tracking its variables, tf.saved_model.save", []


# ----------------------------------------------------------------------------------------------
# The routes users export by (issue 17): keras.applications, Keras 2 (tf_keras), TF1's Builder,
# keras-hub, jax2tf, mixed precision, ragged inputs, bytes outputs and the narrow numeric dtypes.
# Each returns (exporter, cases) or (exporter, cases, extra corpus.json fields).
# ----------------------------------------------------------------------------------------------


def _randomize_normalization(model, rng, variance=(0.5, 1.5)) -> None:
    """Seeded biases and batch-norm statistics (Keras leaves them 0 and 1). In a deep network the input's
    signal fades with variances near 1: small ``variance`` values amplify it, so each image gets its own
    output (not the same softmax for every input)."""
    for weight in model.weights:
        path = weight.path
        shape = tuple(weight.shape)
        if path.endswith("moving_variance") or path.endswith("/variance"):
            value = rng.uniform(*variance, shape)
        elif path.endswith("gamma"):
            value = rng.uniform(0.8, 1.2, shape)
        elif path.endswith(("bias", "beta", "moving_mean", "/mean")):
            value = rng.normal(0, 0.1, shape)
        else:
            continue
        weight.assign(value.astype(weight.dtype))


def _images(rng, rows: int, size: int, channels: int = 3):
    import numpy as np

    images = rng.integers(0, 256, (rows, size, size, channels)).astype(np.uint8)
    if rows > 1:
        images[0] = 0
        images[1] = 255
    return images


def make_keras_app_mobilenet_v3_uint8(out: Path, rng):
    import keras

    keras.backend.clear_session()
    image = keras.Input((32, 32, 3), dtype="uint8", name="image")
    pixels = keras.layers.Rescaling(1.0, name="to_float")(image)  # uint8 → float32, values 0..255
    base = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), alpha=0.75, weights=None, classes=5, dropout_rate=0.0
    )  # include_preprocessing: 0..255 → -1..1
    model = keras.Model(image, base(pixels))
    _randomize_normalization(model, rng, variance=(0.07, 0.14))
    model.export(str(out), verbose=False)
    cases = [
        (name, sig, {"image": _images(rng, n, 32)})
        for sig in ("serving_default", "serve")
        for name, n in (("1_image", 1), ("5_images_black_white_noise", 5))
    ]
    return (
        "keras.applications.MobileNetV3Small(weights=None, alpha=0.75, 32x32) behind keras.Input(dtype='uint8') "
        "+ Rescaling, model.export(dir): the image-serving contract",
        cases,
        {"tolerance": {"atol": 1e-5, "rtol": 1e-4}},
    )


def make_keras_app_mobilenet_v2(out: Path, rng):
    import keras

    keras.backend.clear_session()
    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=4)
    _randomize_normalization(model, rng, variance=(0.05, 0.1))
    model.export(str(out), verbose=False)
    key = model.inputs[0].name  # Keras names the application's input: the signature's key
    images = [_images(rng, n, 32).astype("float32") / 127.5 - 1.0 for n in (1, 5)]
    cases = [
        (f"{len(x)}_image{'s' if len(x) > 1 else ''}", sig, {key: x})
        for sig in ("serving_default", "serve")
        for x in images
    ]
    return (
        "keras.applications.MobileNetV2(weights=None, alpha=0.35, 32x32) float32 images, model.export(dir)",
        cases,
        {"tolerance": {"atol": 1e-5, "rtol": 1e-4}},
    )


def make_tf_keras_save(out: Path, rng):
    import tf_keras

    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    model = tf_keras.Sequential(
        [
            tf_keras.Input((5,), name="features"),
            tf_keras.layers.Dense(6, activation="tanh", name="hidden"),
            tf_keras.layers.Dense(2, activation="softmax", name="probabilities"),
        ]
    )
    model.save(str(out))  # a folder path: Keras 2 writes the TF SavedModel format
    cases = [
        (f"{n}_row{'s' if n > 1 else ''}", "serving_default", {"features": _float_rows(rng, n, 5)}) for n in (1, 6)
    ]
    return "tf_keras (Keras 2) Sequential, model.save(dir): the SavedModel format", cases


CLASS_NAMES = [b"setosa", b"versicolor", b"virginica"]


def _examples(rng, rows: int) -> list[bytes]:
    """Serialized ``tf.train.Example``s with a float feature ``x`` of 3 values (binary: not UTF-8 text)."""
    import tensorflow as tf

    return [
        tf.train.Example(
            features=tf.train.Features(
                feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=rng.normal(0, 2, 3).tolist()))}
            )
        ).SerializeToString()
        for _ in range(rows)
    ]


def make_tf1_builder(out: Path, rng):
    import numpy as np
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        examples = v1.placeholder(tf.string, [None], name="tf_example")
        w = v1.get_variable("w", initializer=rng.normal(0, 1, (3, 3)).astype("float32"))
        b = v1.get_variable("b", initializer=rng.normal(0, 0.5, 3).astype("float32"))

        def scores_of(features):
            return tf.nn.softmax(tf.matmul(features, w) + b)

        scores = scores_of(x)
        parsed = tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([3], tf.float32)})
        example_scores = scores_of(parsed["x"])
        classes = tf.tile(tf.constant([CLASS_NAMES]), [tf.shape(example_scores)[0], 1])
        utils = v1.saved_model.signature_def_utils
        predict = utils.predict_signature_def(
            inputs={"x": x}, outputs={"scores": scores, "class_id": tf.argmax(scores, axis=1)}
        )
        classify = utils.classification_signature_def(examples=examples, classes=classes, scores=example_scores)
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(out))
            builder.add_meta_graph_and_variables(
                session,
                [tf.saved_model.SERVING],
                signature_def_map={"serving_default": predict, "predict": predict, "classify": classify},
            )
            builder.save()
    write_warmup_requests(
        out / "assets.extra" / "tf_serving_warmup_requests",
        "tf1_builder",
        [("predict", {"x": _float_rows(rng, 2, 3)})],
    )
    cases = [
        (f"{n}_row{'s' if n > 1 else ''}", sig, {"x": _float_rows(rng, n, 3)})
        for sig in ("serving_default", "predict")
        for n in (1, 5)
    ]
    cases += [
        (f"{n}_example{'s' if n > 1 else ''}", "classify", {"inputs": np.array(_examples(rng, n), object)})
        for n in (1, 5)
    ]
    return (
        "TF1 tf.compat.v1.saved_model.Builder: predict_signature_def (serving_default, predict) and "
        "classification_signature_def (classify, serialized tf.Example strings), TF Serving warm-up file",
        cases,
    )


def make_keras_hub_bert(out: Path, rng):
    import keras
    import keras_hub
    import numpy as np

    keras.backend.clear_session()
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=100,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=16,
        num_segments=2,
        dropout=0.0,
    )
    _randomize_normalization(backbone, rng)
    backbone.export(str(out), verbose=False)

    def batch(rows: int, length: int):
        lengths = rng.integers(1, length + 1, rows)
        lengths[0] = length
        mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int32)
        token_ids = rng.integers(1, 100, (rows, length)).astype(np.int32) * mask  # 0: padding
        segment_ids = ((np.arange(length)[None, :] >= lengths[:, None] // 2) * mask).astype(np.int32)
        return {"token_ids": token_ids, "padding_mask": mask, "segment_ids": segment_ids}

    cases = [
        (f"{n}_sequence{'s' if n > 1 else ''}", sig, batch(n, 8))
        for sig in ("serving_default", "serve")
        for n in (1, 5)
    ]
    return (
        "keras_hub.models.BertBackbone from a config (vocabulary 100, 2 layers, hidden 16), random weights, "
        "model.export(dir): token_ids, padding_mask, segment_ids int32 [-1,-1]",
        cases,
        {"tolerance": {"atol": 1e-5, "rtol": 1e-4}},
    )


def make_jax2tf(out: Path, rng):
    import jax
    import jax.numpy as jnp
    import tensorflow as tf
    from jax.experimental import jax2tf

    w = rng.normal(0, 1, (3, 2)).astype("float32")
    b = rng.normal(0, 0.5, 2).astype("float32")

    def predict(x):
        return jax.nn.sigmoid(jnp.tanh(x @ w) + b)

    module = tf.Module()
    module.serve = tf.function(
        jax2tf.convert(predict, with_gradient=False, polymorphic_shapes=["(b, 3)"]),
        autograph=False,
        input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")],
    )
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    cases = [(f"{n}_row{'s' if n > 1 else ''}", "serving_default", {"x": _float_rows(rng, n, 3)}) for n in (1, 5)]
    return (
        f"jax2tf.convert(with_gradient=False, native serialization: XlaCallModule) of a jax {jax.__version__} "
        "function in a tf.Module, tf.saved_model.save",
        cases,
    )


def make_mixed_float16_output(out: Path, rng):
    import keras

    keras.backend.clear_session()  # (it also resets the global policy: set it after)
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:  # every layer computes in float16, the last one too (no float32 output layer): a float16 output
        x = keras.Input(shape=(4,), name="x")
        hidden = keras.layers.Dense(8, activation="relu", name="hidden")(x)
        model = keras.Model(x, keras.layers.Dense(2, name="logits")(hidden))
        for layer in model.layers[1:]:
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0, 0.5, kernel.shape), rng.normal(0, 0.2, bias.shape)])
        model.export(str(out), verbose=False)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    cases = [
        (f"{n}_row{'s' if n > 1 else ''}", sig, {"x": _float_rows(rng, n, 4) / 100})
        for sig in ("serving_default", "serve")
        for n in (1, 6)
    ]
    return (
        "Keras 3 mixed_float16 policy, the final Dense left at float16, model.export(dir): output float16 [-1,2]",
        cases,
        {"tolerance": {"atol": 1e-3, "rtol": 1e-3}},  # float16 has 11 significant bits
    )


def make_ragged_input(out: Path, rng):
    import tensorflow as tf

    class Ragged(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(float(rng.uniform(1, 2)), name="w")

        @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.float32, ragged_rank=1)])
        def serve(self, x):
            return {"total": tf.reduce_sum(x, axis=1) * self.w, "count": x.row_lengths()}

        @tf.function(input_signature=[tf.RaggedTensorSpec([None, None, None], tf.float32, ragged_rank=2)])
        def nested(self, x):
            return {"total": tf.reduce_sum(x, axis=[1, 2]) * self.w, "inner_rows": x.row_lengths()}

    module = Ragged()
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve, "nested": module.nested})

    def ragged(rows):
        return tf.ragged.constant(rows, dtype=tf.float32, ragged_rank=len(tf.ragged.constant(rows).shape) - 1)

    cases = [
        ("1_row", "serving_default", {"x": ragged([[1.5, -2.0, 4.0]])}),
        (
            "5_rows_one_empty",
            "serving_default",
            {"x": ragged([[1.0, 2.0], [], [3.0], [0.5, 0.25, 0.125, 8.0], [-1.0]])},
        ),
        ("1_row_nested", "nested", {"x": ragged([[[1.0, 2.0], [], [3.0]]])}),
        (
            "5_rows_nested",
            "nested",
            {"x": ragged([[[1.0, 2.0], [3.0]], [], [[4.0], [], [5.0, 6.0, 7.0]], [[]], [[-8.0, 0.5]]])},
        ),
    ]
    return (
        "tf.Module with RaggedTensorSpec inputs, tf.saved_model.save: serving_default [None, None] (ragged_rank 1), "
        "nested [None, None, None] (ragged_rank 2); the SignatureDef shows the components x, x_1[, x_2]",
        cases,
    )


def make_bytes_output(out: Path, rng):
    import tensorflow as tf

    class Thumbnail(tf.Module):
        def __init__(self):
            super().__init__()
            self.gain = tf.Variable(float(rng.uniform(200, 255)), name="gain")

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="pixels")])
        def serve(self, pixels):
            image = tf.cast(tf.clip_by_value(pixels * self.gain, 0.0, 255.0), tf.uint8)
            png = tf.map_fn(
                lambda row: tf.io.encode_png(tf.reshape(row, [2, 2, 1])), image, fn_output_signature=tf.string
            )
            return {"png": png, "brightness": tf.reduce_mean(pixels, axis=1)}

    module = Thumbnail()
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    cases = [
        (f"{n}_row{'s' if n > 1 else ''}", "serving_default", {"pixels": rng.uniform(0, 1, (n, 4)).astype("float32")})
        for n in (1, 5)
    ]
    return (
        "tf.Module returning a PNG per row (tf.io.encode_png: bytes that are not UTF-8) beside a float, "
        "tf.saved_model.save; served as binary when spark.tfpredict.binaryOutputs names png",
        cases,
        {"binary_outputs": ["png"]},
    )


def make_narrow_ints(out: Path, rng):
    import numpy as np
    import tensorflow as tf

    class Narrow(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(rng.normal(0, 1, 3).astype("float32"), name="w")

        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.int8, name="level"),
                tf.TensorSpec([None], tf.int16, name="offset"),
                tf.TensorSpec([None, 2], tf.uint16, name="reading"),
            ]
        )
        def serve(self, level, offset, reading):
            score = (
                tf.cast(level, tf.float32) * self.w[0]
                + tf.cast(offset, tf.float32) * self.w[1]
                + tf.reduce_sum(tf.cast(reading, tf.float32), axis=1) * self.w[2] / 1000.0
            )
            return {"score": score, "score_bf16": tf.cast(score, tf.bfloat16)}

    module = Narrow()
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    cases = [
        (
            "1_row",
            "serving_default",
            {
                "level": np.array([3], np.int8),
                "offset": np.array([-300], np.int16),
                "reading": np.array([[1, 2]], np.uint16),
            },
        ),
        (
            "5_rows_extremes",
            "serving_default",
            {
                "level": np.array([-128, 127, 0, -1, 5], np.int8),
                "offset": np.array([-32768, 32767, 0, 1, -2], np.int16),
                "reading": np.array([[0, 65535], [65535, 65535], [0, 0], [1000, 2000], [7, 9]], np.uint16),
            },
        ),
    ]
    return (
        "tf.Module with int8, int16 and uint16 inputs and a bfloat16 output, tf.saved_model.save",
        cases,
        {"tolerance": {"atol": 1e-5, "rtol": 1e-5}},
    )


def make_wide_unsigned(out: Path, rng):
    import numpy as np
    import tensorflow as tf

    class Wide(tf.Module):
        def __init__(self):
            super().__init__()
            self.shift = tf.Variable(int(rng.integers(1, 1000)), dtype=tf.int64, name="shift")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.uint32, name="count")])
        def serve(self, count):
            wide = tf.cast(count, tf.int64) * 4 + self.shift  # above 2^32: needs 64 bits
            return {"total": tf.cast(wide, tf.uint64), "ratio": tf.cast(count, tf.float64) / 4294967295.0}

    module = Wide()
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    cases = [
        ("1_row", "serving_default", {"count": np.array([7], np.uint32)}),
        ("5_rows_extremes", "serving_default", {"count": np.array([0, 1, 2**31, 2**32 - 1, 12345], np.uint32)}),
    ]
    return "tf.Module with a uint32 input and a uint64 output, tf.saved_model.save", cases


def make_uint8_input(out: Path, rng):
    import numpy as np
    import tensorflow as tf

    module = _odd_module(rng, (4,))

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 4], tf.uint8, name="pixels"),
            tf.TensorSpec([None], tf.float32, name="scale"),
        ]
    )
    def serve(pixels, scale):
        return {"score": tf.linalg.matvec(tf.cast(pixels, tf.float32), module.w) * scale}

    _save_odd(module, serve, out)
    cases = [
        ("1_row", "serving_default", {"pixels": np.array([[1, 2, 3, 250]], np.uint8), "scale": np.float32([0.5])}),
        (
            "5_rows",
            "serving_default",
            {"pixels": _images(rng, 5, 2, 1).reshape(5, 4), "scale": rng.uniform(0, 2, 5).astype("float32")},
        ),
    ]
    return "tf.Module, inputs pixels uint8 [-1,4] and scale float32 [-1], tf.saved_model.save", cases


def make_half_output(out: Path, rng):
    import tensorflow as tf

    module = _odd_module(rng, (2,))

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def serve(x):
        return {"probability": tf.sigmoid(tf.cast(tf.linalg.matvec(x, module.w), tf.float16))}

    _save_odd(module, serve, out)
    cases = [(f"{n}_row{'s' if n > 1 else ''}", "serving_default", {"x": _float_rows(rng, n, 2)}) for n in (1, 5)]
    return "tf.Module, batched input x [-1,2], output probability float16 [-1], tf.saved_model.save", cases


# ----------------------------------------------------------------------------------------------
# Odd signatures: SavedModels that load and run in TF (their variables are tracked and restore in
# the C++ loader), but whose SignatureDef has a shape or dtype tfspark does not serve. The JVM must
# refuse each with UNSUPPORTED_SIGNATURE, naming the input or output, never with a load failure or
# an exception without an error class. Each returns (exporter, feed): ``feed`` is the SQL argument a
# user would plausibly pass to ``tfpredict('<name>', <feed>)``.
# ----------------------------------------------------------------------------------------------


def _odd_module(rng, shape, **extra):
    """A ``tf.Module`` holding one seeded float32 variable ``w`` of ``shape`` (plus ``extra`` variables)."""
    import tensorflow as tf

    module = tf.Module()
    module.w = tf.Variable(rng.normal(0, 1, shape).astype("float32"), name="w")
    for key, value in extra.items():
        setattr(module, key, value)
    return module


def _save_odd(module, fn, out: Path) -> None:
    import tensorflow as tf

    module.serve = fn
    tf.saved_model.save(module, str(out), signatures={"serving_default": fn})


def make_odd_fixed_batch(out: Path, rng):
    import tensorflow as tf

    module = _odd_module(rng, (2,))

    @tf.function(input_signature=[tf.TensorSpec([8, 2], tf.float32, name="x")])
    def serve(x):
        return {"y": tf.linalg.matvec(x, module.w)}

    _save_odd(module, serve, out)
    return "tf.Module, input x float32 [8,2]: a fixed batch size", "array(1.0f, 2.0f)"


def make_odd_scalar_output(out: Path, rng):
    import tensorflow as tf

    module = _odd_module(rng, (2,))

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def serve(x):
        return {"total": tf.reduce_sum(x * module.w)}

    _save_odd(module, serve, out)
    return (
        "tf.Module, batched input x [-1,2], output total of shape [] (a sum over the whole batch)",
        "array(1.0f, 2.0f)",
    )


def make_odd_unknown_rank_output(out: Path, rng):
    import tensorflow as tf

    # a reshape to a shape read from a variable of unknown shape: TF cannot infer the output's rank
    target = tf.Variable([-1], shape=tf.TensorShape(None), dtype=tf.int32, name="target_shape")
    module = _odd_module(rng, (2,), target=target)

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def serve(x):
        return {"flat": tf.reshape(x * module.w, module.target)}

    _save_odd(module, serve, out)
    return "tf.Module, batched input x [-1,2], output flat of unknown rank (tf.reshape to a dynamic shape)", (
        "array(1.0f, 2.0f)"
    )


def make_odd_no_inputs(out: Path, rng):
    import tensorflow as tf

    # a variable of shape [None]: the output's SignatureDef shape is [-1] although nothing is fed
    values = tf.Variable(rng.normal(0, 1, 3).astype("float32"), shape=tf.TensorShape([None]), name="values")
    module = _odd_module(rng, (), values=values)

    @tf.function(input_signature=[])
    def serve():
        return {"constant": module.values * module.w}

    _save_odd(module, serve, out)
    return "tf.Module, a signature with no inputs returning a [-1] float32 constant", "struct()"


def make_odd_fixed_output(out: Path, rng):
    import tensorflow as tf

    module = _odd_module(rng, (2, 3))

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def serve(x):
        return {"column_sums": tf.reduce_sum(tf.matmul(x, module.w), axis=0)}

    _save_odd(module, serve, out)
    return "tf.Module, batched input x [-1,2], output column_sums of fixed shape [3] (a sum over the batch)", (
        "array(1.0f, 2.0f)"
    )


# name → (make, the input or output key the refusal must name (None where there is none), words of the reason)
ODD_MODELS = {
    "odd_fixed_batch": (make_odd_fixed_batch, "x", "fixed first dimension 8"),
    "odd_scalar_output": (make_odd_scalar_output, "total", "shape []"),
    "odd_unknown_rank_output": (make_odd_unknown_rank_output, "flat", "unknown rank"),
    "odd_no_inputs": (make_odd_no_inputs, None, "no inputs"),
    "odd_fixed_output": (make_odd_fixed_output, "column_sums", "shape [3]"),
}


# the routes users export by (issue 17): name → (make, expectation)
def make_py_function(out: Path, rng):
    """A ``tf.Module`` calling ``tf.py_function`` (op ``EagerPyFunc``): refused at load, as no JVM has Python."""
    description, cases = op_library_models.make_py_function_model(out, rng)
    return description, cases, {"load_failure": ["EagerPyFunc", "tf.py_function"]}


ROUTE_MODELS = {
    "keras_app_mobilenet_v3_uint8": (make_keras_app_mobilenet_v3_uint8, AGREE),
    "keras_app_mobilenet_v2": (make_keras_app_mobilenet_v2, AGREE),
    "tf_keras_save": (make_tf_keras_save, AGREE),
    "tf1_builder": (make_tf1_builder, AGREE),
    "keras_hub_bert": (make_keras_hub_bert, AGREE),
    "jax2tf": (make_jax2tf, AGREE),
    "mixed_float16_output": (make_mixed_float16_output, AGREE),
    "ragged_input": (make_ragged_input, AGREE),
    "bytes_output": (make_bytes_output, AGREE),
    "narrow_ints": (make_narrow_ints, AGREE),
    "wide_unsigned": (make_wide_unsigned, AGREE),
    "uint8_input": (make_uint8_input, AGREE),
    "half_output": (make_half_output, AGREE),
}


MODELS = {
    "keras_export": (make_keras_export, AGREE),
    "export_archive": (make_export_archive, AGREE),
    "saved_model_save": (make_saved_model_save, LOAD_FAILED),
    "scalar_module": (make_scalar_module, AGREE),
    "vocab_asset": (make_vocab_asset, AGREE),
    "mixed_dtypes": (make_mixed_dtypes, AGREE),
    "with_warmup": (make_with_warmup, AGREE),
    "keras_broken": (make_keras_broken, LOAD_FAILED),
    "py_function": (make_py_function, LOAD_FAILED),
    **ROUTE_MODELS,
    **{name: (make, UNSUPPORTED) for name, (make, _, _) in ODD_MODELS.items()},
}


# ----------------------------------------------------------------------------------------------
# TF Serving's warm-up file, written with protobuf classes built from TF Serving's schema
# (tensorflow-serving-api is not installed; the field numbers are those of its .proto files).
# ----------------------------------------------------------------------------------------------


def _prediction_log_class():
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from tensorflow.core.framework import tensor_pb2

    pool = descriptor_pool.DescriptorPool()
    tensor_file = descriptor_pb2.FileDescriptorProto()
    for dep in _file_and_deps(tensor_pb2.DESCRIPTOR):
        dep.CopyToProto(tensor_file)
        pool.Add(tensor_file)
        tensor_file.Clear()
    f = descriptor_pb2.FileDescriptorProto(
        name="tfspark_test/prediction_log.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=[tensor_pb2.DESCRIPTOR.name],
    )
    F = descriptor_pb2.FieldDescriptorProto

    def message(name, *fields):
        m = f.message_type.add(name=name)
        for field_name, number, kind, type_name, label in fields:
            m.field.add(name=field_name, number=number, type=kind, type_name=type_name or None, label=label)
        return m

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message("ModelSpec", ("name", 1, F.TYPE_STRING, "", opt), ("signature_name", 3, F.TYPE_STRING, "", opt))
    req = message(
        "PredictRequest",
        ("model_spec", 1, F.TYPE_MESSAGE, ".tensorflow.serving.ModelSpec", opt),
        ("inputs", 2, F.TYPE_MESSAGE, ".tensorflow.serving.PredictRequest.InputsEntry", rep),
        ("output_filter", 3, F.TYPE_STRING, "", rep),
    )
    entry = req.nested_type.add(name="InputsEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=opt)
    entry.field.add(name="value", number=2, type=F.TYPE_MESSAGE, type_name=".tensorflow.TensorProto", label=opt)
    message("PredictLog", ("request", 1, F.TYPE_MESSAGE, ".tensorflow.serving.PredictRequest", opt))
    message("PredictionLog", ("predict_log", 6, F.TYPE_MESSAGE, ".tensorflow.serving.PredictLog", opt))
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.PredictionLog"))


def _file_and_deps(file_descriptor, seen=None):
    """``file_descriptor`` and its imports, dependencies first."""
    seen = set() if seen is None else seen
    for dep in file_descriptor.dependencies:
        yield from _file_and_deps(dep, seen)
    if file_descriptor.name not in seen:
        seen.add(file_descriptor.name)
        yield file_descriptor


def write_warmup_requests(path: Path, model_name: str, requests) -> None:
    """Writes ``requests`` ([(signature_name, {key: array})]) as TF Serving's TFRecord of PredictionLog."""
    import tensorflow as tf

    prediction_log = _prediction_log_class()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature, inputs in requests:
            log = prediction_log()
            request = log.predict_log.request
            request.model_spec.name = model_name
            request.model_spec.signature_name = signature
            for key, value in inputs.items():
                request.inputs[key].ParseFromString(tf.make_tensor_proto(value).SerializeToString())
            writer.write(log.SerializeToString())


# ----------------------------------------------------------------------------------------------
# Expectations, signatures, and the two layouts
# ----------------------------------------------------------------------------------------------


def write_expected(model_dir: Path, path: Path, name: str, cases, tolerance: dict) -> None:
    """Runs every case through ``tf.saved_model.load(model_dir).signatures[...]``; writes golden.json's format."""
    import tensorflow as tf

    from tfspark.toolkit.golden import FORMAT_VERSION, GoldenCase, _encode, compute_outputs

    loaded = tf.saved_model.load(str(model_dir))
    records = []
    for case_name, signature, inputs in cases:
        outputs = compute_outputs(loaded, GoldenCase(case_name, signature, inputs))
        records.append(
            {
                "name": case_name,
                "signature": signature,
                "inputs": {k: _encode(v) for k, v in inputs.items()},
                "outputs": {k: _encode(v) for k, v in sorted(outputs.items())},
            }
        )
    doc = {
        "format": FORMAT_VERSION,
        "model": name,
        "version": VERSION,
        "tensorflow": tf.__version__,
        "tolerance": tolerance,
        "cases": records,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def read_signature_defs(model_dir: Path) -> dict:
    """The ``serve`` SignatureDefs: {key: {inputs|outputs: {key: {dtype, shape}}}}; shape None: unknown rank."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel.FromString((model_dir / "saved_model.pb").read_bytes())
    meta = next(m for m in sm.meta_graphs if "serve" in m.meta_info_def.tags)

    def info(t):
        shape = None if t.tensor_shape.unknown_rank else [d.size for d in t.tensor_shape.dim]
        return {"dtype": tf.as_dtype(t.dtype).name, "shape": shape}

    return {
        key: {
            "inputs": {k: info(v) for k, v in sorted(sd.inputs.items())},
            "outputs": {k: info(v) for k, v in sorted(sd.outputs.items())},
        }
        for key, sd in sorted(meta.signature_def.items())
        if not key.startswith("__")
    }


def _link(link: Path, target: str | Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=Path(link.parent, target).is_dir())


def build_linked(out: Path) -> dict[str, str]:
    """Lays ``plain/`` out again through links (see the module docstring); returns name → link shape."""
    plain, store, real = out / "plain", out / "store", out / "linked" / "real_repo"
    abs_store = store.resolve()
    real.mkdir(parents=True)
    shapes = {}

    shutil.copytree(plain / "keras_export", store / "keras_export", symlinks=False)
    _link(real / "keras_export", "../../store/keras_export")
    shapes["keras_export"] = "model name is a relative link"

    shutil.copytree(plain / "export_archive" / "1", store / "export_archive-2026-11-27")
    _link(real / "export_archive" / "1", abs_store / "export_archive-2026-11-27")
    shapes["export_archive"] = "version folder is an absolute link"

    shutil.copytree(plain / "scalar_module" / "1", store / "scalar_module-2026-11-28")
    _link(real / "scalar_module" / "1", "../../../store/scalar_module-2026-11-28")
    shapes["scalar_module"] = "version folder is a relative link"

    files = store / "files" / "vocab_asset"
    shutil.copytree(plain / "vocab_asset" / "1", files)
    for f in sorted(p for p in files.rglob("*") if p.is_file()):
        rel = f.relative_to(files)
        link = real / "vocab_asset" / "1" / rel
        if len(rel.parts) == 1:  # top-level files: relative links; the others: absolute
            _link(link, os.path.relpath(f, link.parent))
        else:
            _link(link, f.resolve())
    shapes["vocab_asset"] = "real folders, every file an individual link (relative and absolute)"

    shutil.copytree(plain / "mixed_dtypes" / "1", store / "mixed_dtypes-v1")
    _link(store / "mixed_dtypes" / "1", "../mixed_dtypes-v1")
    _link(real / "mixed_dtypes", abs_store / "mixed_dtypes")
    shapes["mixed_dtypes"] = "model name is an absolute link to a folder whose version is a relative link (a chain)"

    shutil.copytree(plain / "with_warmup" / "1", store / "with_warmup-2026-11-26")
    _link(real / "with_warmup" / "1", "../../../store/with_warmup-2026-11-26")
    shapes["with_warmup"] = "version folder is a relative link"

    shutil.copytree(plain / "keras_broken" / "1", store / "keras_broken-2026-11-25")
    _link(real / "keras_broken" / "1", abs_store / "keras_broken-2026-11-25")
    shapes["keras_broken"] = "version folder is an absolute link"

    shutil.copytree(plain / "saved_model_save", real / "saved_model_save")
    shapes["saved_model_save"] = "plain folders (no link)"

    shutil.copytree(plain / "py_function", store / "py_function")
    _link(real / "py_function", "../../store/py_function")
    shapes["py_function"] = "model name is a relative link"

    for name in ODD_MODELS:
        shutil.copytree(plain / name, store / "odd" / name)
        _link(real / name, f"../../store/odd/{name}")
        shapes[name] = "model name is a relative link"

    # the routes of issue 17, in turn: a relative name link, an absolute version link, a relative version link
    for index, name in enumerate(ROUTE_MODELS):
        if index % 3 == 0:
            shutil.copytree(plain / name, store / "routes" / name)
            _link(real / name, f"../../store/routes/{name}")
            shapes[name] = "model name is a relative link"
        elif index % 3 == 1:
            shutil.copytree(plain / name / "1", store / f"{name}-2026-12-01")
            _link(real / name / "1", abs_store / f"{name}-2026-12-01")
            shapes[name] = "version folder is an absolute link"
        else:
            shutil.copytree(plain / name / "1", store / f"{name}-2026-12-02")
            _link(real / name / "1", f"../../../store/{name}-2026-12-02")
            shapes[name] = "version folder is a relative link"

    _link(out / "linked" / "repo", "real_repo")
    return shapes


def generate(out: Path, *, force: bool = False) -> bool:
    """Writes the corpus into ``out``; returns False when a fresh corpus was already there."""
    if not force and is_fresh(out):
        return False
    import keras
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    out.mkdir(parents=True, exist_ok=True)
    (out / STAMP).unlink(missing_ok=True)
    for name in MANAGED:
        target = out / name
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
    corpus = []
    for index, (name, (make, expect)) in enumerate(MODELS.items()):
        started, cpu = time.monotonic(), time.process_time()
        keras.utils.set_random_seed(SEED + index)
        rng = np.random.default_rng(SEED + index)
        model_dir = out / "plain" / name / str(VERSION)
        model_dir.parent.mkdir(parents=True)
        entry = {"name": name}
        if name in ODD_MODELS:
            entry["exporter"], feed = make(model_dir, rng)
        else:
            entry["exporter"], cases, *extra = make(model_dir, rng)
            fields = extra[0] if extra else {}
            if expect == AGREE:
                tolerance = fields.get("tolerance", TOLERANCE)
                write_expected(model_dir, out / "expected" / f"{name}.json", name, cases, tolerance)
            entry.update({k: v for k, v in fields.items() if k != "tolerance"})
        entry.update(
            path=f"plain/{name}/{VERSION}",
            linked_path=f"linked/repo/{name}/{VERSION}",
            signatures=read_signature_defs(model_dir),
            expect=expect,
            odd=name in ODD_MODELS,
        )
        if name in ODD_MODELS:
            entry["feed"] = feed
            entry["offending"], entry["reason"] = ODD_MODELS[name][1:]
        corpus.append(entry)
        print(f"  {name}: {time.monotonic() - started:.1f} s ({time.process_time() - cpu:.1f} s CPU)", flush=True)
    shapes = build_linked(out)
    for entry in corpus:
        entry["link_shape"] = shapes[entry["name"]]
    (out / "corpus.json").write_text(json.dumps(corpus, indent=1) + "\n", encoding="utf-8")
    (out / STAMP).write_text(stamp_text(), encoding="utf-8")
    return True


def _summary(out: Path) -> str:
    corpus = json.loads((out / "corpus.json").read_text(encoding="utf-8"))
    lines = []

    def tensors(infos: dict) -> str:
        return ", ".join(
            f"{k}: {v['dtype']} {'<unknown rank>' if v['shape'] is None else v['shape']}" for k, v in infos.items()
        )

    for entry in corpus:
        sigs = "; ".join(
            f"{key}({tensors(s['inputs'])}) -> {tensors(s['outputs'])}" for key, s in entry["signatures"].items()
        )
        lines.append(f"  {entry['name']:<23} expect {entry['expect']:<21} {sigs}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out_dir", help="the folder to write (plain/, linked/, store/, expected/, corpus.json)")
    p.add_argument("--force", action="store_true", help="regenerate even when the stamp matches")
    args = p.parse_args(argv)
    out = Path(args.out_dir).absolute()
    started = time.monotonic()
    if generate(out, force=args.force):
        print(f"wrote the foreign-model corpus to {out} in {time.monotonic() - started:.1f} s")
    else:
        print(f"the foreign-model corpus in {out} is up to date (stamp matches)")
    print(_summary(out))
    print(f"  plain: {out / 'plain'}  linked: {out / 'linked' / 'repo'} (links into {out / 'store'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
