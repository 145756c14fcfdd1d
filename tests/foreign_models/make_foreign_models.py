"""Generates the foreign-model corpus: SavedModels exported the ways users export them.

None of these models goes through this project's export helpers (``python_trainer.export``). Each
one is written the way a user who never heard of tfspark would write it: Keras 3 ``model.export``,
``keras.export.ExportArchive``, ``tf.saved_model.save`` of a Keras model or of a hand-written
``tf.Module``. The JVM tests (ScalaTest and the pyspark cross-language tests) run every entry point
over this corpus; ``tests/test_check_and_foreign.py`` proves that the expectations are right.

Usage::

    python tests/foreign_models/make_foreign_models.py OUT_DIR [--force]

The run is idempotent: ``OUT_DIR/.stamp`` records the hash of this script and the TF and Keras
versions, and a second run with the same stamp does nothing. Otherwise ``plain/``, ``linked/``,
``store/``, ``expected/`` and ``corpus.json`` are deleted and written again. Weights are seeded, so
every run computes the same outputs (the ``saved_model.pb`` bytes may differ between runs: TF names
its functions with fresh ids).

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

Odd signatures (``expect: UNSUPPORTED_SIGNATURE``, ``odd: true``)
    ``tf.Module`` exports whose variables are tracked: they load in TF's C++ loader and run (``check``
    passes on them), but their SignatureDef has a shape or dtype tfspark does not serve, so every JVM
    entry point must refuse them with ``UNSUPPORTED_SIGNATURE``, naming the input or output
    (``offending`` in corpus.json) and the reason (``reason``: words the message must contain). Each has
    ``feed``: the SQL argument a user would plausibly pass, as in ``tfpredict('<name>', <feed>)``. All
    have one signature, ``serving_default``:

    ``odd_fixed_batch``          ``x float32 [8,2]`` → ``y float32 [8]`` (a fixed batch size)
    ``odd_scalar_output``        ``x float32 [-1,2]`` → ``total float32 []`` (sum over the batch)
    ``odd_unknown_rank_output``  ``x float32 [-1,2]`` → ``flat float32 <unknown rank>`` (reshape to a
                                 shape read from a variable of unknown shape)
    ``odd_uint8_input``          ``pixels uint8 [-1,4]``, ``scale float32 [-1]`` → ``score float32 [-1]``
    ``odd_half_output``          ``x float32 [-1,2]`` → ``probability float16 [-1]``
    ``odd_no_inputs``            no inputs → ``constant float32 [-1]`` (a variable of shape [None])
    ``odd_fixed_output``         ``x float32 [-1,2]`` → ``column_sums float32 [3]`` (sum over the batch)

No model carries ``assets.extra/golden.json``: the JVM must use its synthetic warm-up on them (and
the warm-up requests on ``with_warmup``).

Other outputs
-------------
``OUT_DIR/expected/<name>.json``
    For every model expected to work, golden vectors in the format of ``python_trainer/golden.py``
    (one-row and multi-row cases for every signature; ``[]``-shaped cases for scalar inputs), with
    the outputs computed by Python TF through ``tf.saved_model.load(dir).signatures[key]``.
``OUT_DIR/corpus.json``
    A list of ``{name, exporter, path, linked_path, link_shape, signatures, expect, odd}``, plus
    ``feed``, ``offending`` and ``reason`` where ``odd`` is true. ``expect`` is ``"agree"`` or the expected error
    class (``"MODEL_LOAD_FAILED"``, or ``"UNSUPPORTED_SIGNATURE"`` for the odd signatures).

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
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SEED = 20261127
VERSION = 1
TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}
STAMP = ".stamp"
MANAGED = ("plain", "linked", "store", "expected", "corpus.json")
AGREE = "agree"
LOAD_FAILED = "MODEL_LOAD_FAILED"
UNSUPPORTED = "UNSUPPORTED_SIGNATURE"
VOCABULARY = ["spark", "tensor", "flow", "model", "café", "naïve", "日本", "serving"]


def stamp_text() -> str:
    """What ``OUT_DIR/.stamp`` holds for this script and the installed TF/Keras: a run is skipped when it matches."""
    import keras
    import tensorflow as tf

    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    return json.dumps({"script_sha256": digest, "tensorflow": tf.__version__, "keras": keras.__version__})


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


def make_odd_uint8_input(out: Path, rng):
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
    return "tf.Module, inputs pixels uint8 [-1,4] and scale float32 [-1]", (
        "named_struct('pixels', array(1, 2, 3, 250), 'scale', 0.5f)"
    )


def make_odd_half_output(out: Path, rng):
    import tensorflow as tf

    module = _odd_module(rng, (2,))

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def serve(x):
        return {"probability": tf.sigmoid(tf.cast(tf.linalg.matvec(x, module.w), tf.float16))}

    _save_odd(module, serve, out)
    return "tf.Module, batched input x [-1,2], output probability float16 [-1]", "array(1.0f, 2.0f)"


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
    "odd_uint8_input": (make_odd_uint8_input, "pixels", "uint8"),
    "odd_half_output": (make_odd_half_output, "probability", "half"),
    "odd_no_inputs": (make_odd_no_inputs, None, "no inputs"),
    "odd_fixed_output": (make_odd_fixed_output, "column_sums", "shape [3]"),
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


def write_expected(model_dir: Path, path: Path, name: str, cases) -> None:
    """Runs every case through ``tf.saved_model.load(model_dir).signatures[...]``; writes golden.json's format."""
    import tensorflow as tf

    from python_trainer.golden import FORMAT_VERSION, _encode

    loaded = tf.saved_model.load(str(model_dir))
    records = []
    for case_name, signature, inputs in cases:
        result = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        records.append(
            {
                "name": case_name,
                "signature": signature,
                "inputs": {k: _encode(v) for k, v in inputs.items()},
                "outputs": {k: _encode(v.numpy()) for k, v in sorted(result.items())},
            }
        )
    doc = {
        "format": FORMAT_VERSION,
        "model": name,
        "version": VERSION,
        "tensorflow": tf.__version__,
        "tolerance": TOLERANCE,
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

    for name in ODD_MODELS:
        shutil.copytree(plain / name, store / "odd" / name)
        _link(real / name, f"../../store/odd/{name}")
        shapes[name] = "model name is a relative link"

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
        keras.utils.set_random_seed(SEED + index)
        rng = np.random.default_rng(SEED + index)
        model_dir = out / "plain" / name / str(VERSION)
        model_dir.parent.mkdir(parents=True)
        entry = {"name": name}
        if name in ODD_MODELS:
            entry["exporter"], feed = make(model_dir, rng)
        else:
            entry["exporter"], cases = make(model_dir, rng)
            if expect == AGREE:
                write_expected(model_dir, out / "expected" / f"{name}.json", name, cases)
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
