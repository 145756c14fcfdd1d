"""``python -m python_trainer check`` and the foreign-model corpus (tests/foreign_models/make_foreign_models.py).

The corpus holds SavedModels exported the ways users export them. These tests prove that its
expectations are right (through Python's loader and through the graph-mode loader that mirrors TF
Java and TF Serving), that its linked layout is byte-for-byte the plain one, and that ``check``
tells the working models from the broken Keras 3 exports.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from python_trainer import cli
from python_trainer.errors import NotASavedModelError
from tfspark.toolkit.check import (
    ERROR_CLASS,
    SOURCE_GOLDEN,
    SOURCE_SYNTHETIC,
    SOURCE_WARMUP,
    UNRESTORED_CAUSE,
    UNRESTORED_FIX,
    check_saved_model,
)
from tfspark.toolkit.golden import GOLDEN_FILE, load_golden, signature_feed, verify_golden
from tfspark.toolkit.warmup import decode_prediction_log, read_warmup_requests, warmup_path

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERATOR = REPO_ROOT / "tests" / "foreign_models" / "make_foreign_models.py"
SHARED_CORPUS = REPO_ROOT / "target" / "foreign-models"

pytestmark = pytest.mark.corpus


def _generator():
    spec = importlib.util.spec_from_file_location("make_foreign_models", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generator()
AGREE_MODELS = sorted(name for name, (_, expect) in gen.MODELS.items() if expect == gen.AGREE)
# the Keras traps: TF's C++ loader does not restore their variables
BROKEN_MODELS = sorted(
    name for name, (_, expect) in gen.MODELS.items() if expect == gen.LOAD_FAILED and name != "py_function"
)
PYTHON_ONLY_MODELS = ["py_function"]  # they call back into Python: refused at load, in the JVM and by check
ODD_MODELS = sorted(gen.ODD_MODELS)

# The corpus's contract with the JVM tests: signature → {input or output key: (dtype, shape)}.
SIGNATURES = {
    "keras_export": {
        "serving_default": ({"x": ("float32", [-1, 4])}, {"output_0": ("float32", [-1, 1])}),
        "serve": ({"x": ("float32", [-1, 4])}, {"output_0": ("float32", [-1, 1])}),
    },
    "export_archive": {
        "serving_default": ({"x": ("float32", [-1, 4])}, {"output_0": ("float32", [-1, 1])}),
        "serve": ({"x": ("float32", [-1, 4])}, {"output_0": ("float32", [-1, 1])}),
        "embed": ({"x": ("float32", [-1, 4])}, {"embedding": ("float32", [-1, 8])}),
    },
    "saved_model_save": {
        "serving_default": ({"inputs": ("float32", [-1, 4])}, {"output_0": ("float32", [-1, 1])}),
    },
    "scalar_module": {
        "serving_default": ({"x": ("float32", [])}, {"y": ("float32", [])}),
        "threshold": (
            {"threshold": ("float32", []), "text": ("string", [-1])},
            {"above": ("int64", [-1]), "margin": ("float32", [-1])},
        ),
    },
    "vocab_asset": {
        "serving_default": ({"word": ("string", [-1])}, {"word_id": ("int64", [-1]), "score": ("float32", [-1])}),
    },
    "mixed_dtypes": {
        "serving_default": (
            {
                "count": ("int32", [-1]),
                "flag": ("bool", [-1]),
                "payload": ("string", [-1]),
                "pair": ("float64", [-1, 2]),
            },
            {"score": ("float32", [-1]), "length": ("int32", [-1])},
        ),
    },
    "with_warmup": {
        "serving_default": ({"features": ("float32", [-1, 3])}, {"prediction": ("float32", [-1, 1])}),
    },
    "keras_broken": {
        "serving_default": ({"features": ("float32", [-1, 4])}, {"prediction": ("float32", [-1, 1])}),
    },
    "py_function": {
        "serving_default": ({"x": ("float32", [-1])}, {"y": ("float32", [-1])}),
    },
    # the routes users export by (issue 17)
    "keras_app_mobilenet_v3_uint8": {
        key: ({"image": ("uint8", [-1, 32, 32, 3])}, {"output_0": ("float32", [-1, 5])})
        for key in ("serving_default", "serve")
    },
    "keras_app_mobilenet_v2": {
        key: ({"keras_tensor": ("float32", [-1, 32, 32, 3])}, {"output_0": ("float32", [-1, 4])})
        for key in ("serving_default", "serve")
    },
    "tf_keras_save": {
        "serving_default": ({"features": ("float32", [-1, 5])}, {"probabilities": ("float32", [-1, 2])}),
    },
    "tf1_builder": {
        **{
            key: ({"x": ("float32", [-1, 3])}, {"scores": ("float32", [-1, 3]), "class_id": ("int64", [-1])})
            for key in ("serving_default", "predict")
        },
        "classify": ({"inputs": ("string", [-1])}, {"classes": ("string", [-1, 3]), "scores": ("float32", [-1, 3])}),
    },
    "keras_hub_bert": {
        key: (
            {k: ("int32", [-1, -1]) for k in ("token_ids", "padding_mask", "segment_ids")},
            {"sequence_output": ("float32", [-1, -1, 16]), "pooled_output": ("float32", [-1, 16])},
        )
        for key in ("serving_default", "serve")
    },
    "jax2tf": {"serving_default": ({"x": ("float32", [-1, 3])}, {"output_0": ("float32", [-1, 2])})},
    "mixed_float16_output": {
        key: ({"x": ("float32", [-1, 4])}, {"output_0": ("float16", [-1, 2])}) for key in ("serving_default", "serve")
    },
    # a RaggedTensorSpec input is its components in the SignatureDef: flat values, then row splits
    "ragged_input": {
        "serving_default": (
            {"x": ("float32", [-1]), "x_1": ("int64", [-1])},
            {"total": ("float32", [-1]), "count": ("int64", [-1])},
        ),
        "nested": (
            {"x": ("float32", [-1]), "x_1": ("int64", [-1]), "x_2": ("int64", [-1])},
            {"total": ("float32", [-1]), "inner_rows": ("int64", [-1])},
        ),
    },
    "bytes_output": {
        "serving_default": (
            {"pixels": ("float32", [-1, 4])},
            {"png": ("string", [-1]), "brightness": ("float32", [-1])},
        ),
    },
    "narrow_ints": {
        "serving_default": (
            {"level": ("int8", [-1]), "offset": ("int16", [-1]), "reading": ("uint16", [-1, 2])},
            {"score": ("float32", [-1]), "score_bf16": ("bfloat16", [-1])},
        ),
    },
    "wide_unsigned": {
        "serving_default": ({"count": ("uint32", [-1])}, {"total": ("uint64", [-1]), "ratio": ("float64", [-1])}),
    },
    "uint8_input": {
        "serving_default": (
            {"pixels": ("uint8", [-1, 4]), "scale": ("float32", [-1])},
            {"score": ("float32", [-1])},
        ),
    },
    "half_output": {"serving_default": ({"x": ("float32", [-1, 2])}, {"probability": ("float16", [-1])})},
    # the odd signatures (shape None: unknown rank)
    "odd_fixed_batch": {"serving_default": ({"x": ("float32", [8, 2])}, {"y": ("float32", [8])})},
    "odd_scalar_output": {"serving_default": ({"x": ("float32", [-1, 2])}, {"total": ("float32", [])})},
    "odd_unknown_rank_output": {"serving_default": ({"x": ("float32", [-1, 2])}, {"flat": ("float32", None)})},
    "odd_no_inputs": {"serving_default": ({}, {"constant": ("float32", [-1])})},
    "odd_fixed_output": {"serving_default": ({"x": ("float32", [-1, 2])}, {"column_sums": ("float32", [3])})},
}


def _run_generator(out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, str(GENERATOR), str(out)], capture_output=True, text=True, check=False, env=env, timeout=600
    )


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """The corpus: ``target/foreign-models`` when its stamp matches this script, else a fresh one in a tmp dir."""
    if gen.is_fresh(SHARED_CORPUS):
        return SHARED_CORPUS
    out = tmp_path_factory.mktemp("foreign-models")
    result = _run_generator(out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _check_cli(*args: str, capsys) -> tuple[int, str, str]:
    code = cli.main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _copy_model(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=False)
    return dest


# ------------------------------------------------------------------------------------------------
# The corpus itself
# ------------------------------------------------------------------------------------------------


def test_corpus_lists_every_model_with_its_real_signatures(corpus):
    entries = {e["name"]: e for e in json.loads((corpus / "corpus.json").read_text(encoding="utf-8"))}
    assert sorted(entries) == sorted(SIGNATURES)
    for name, signatures in SIGNATURES.items():
        entry = entries[name]
        if name in AGREE_MODELS:
            assert entry["expect"] == "agree"
        elif name in BROKEN_MODELS or name in PYTHON_ONLY_MODELS:
            assert entry["expect"] == ERROR_CLASS
            assert ("load_failure" in entry) is (name in PYTHON_ONLY_MODELS)
        else:
            assert name in ODD_MODELS and name.startswith("odd_")
            assert entry["expect"] == "UNSUPPORTED_SIGNATURE"
        assert entry["odd"] is (name in ODD_MODELS)
        assert {"feed", "offending", "reason"} & set(entry) == (
            {"feed", "offending", "reason"} if entry["odd"] else set()
        )
        assert entry["exporter"] and entry["link_shape"]
        assert (corpus / entry["path"] / "saved_model.pb").is_file()
        assert (corpus / entry["linked_path"] / "saved_model.pb").is_file()
        want = {
            key: {
                "inputs": {k: {"dtype": d, "shape": s} for k, (d, s) in sorted(ins.items())},
                "outputs": {k: {"dtype": d, "shape": s} for k, (d, s) in sorted(outs.items())},
            }
            for key, (ins, outs) in signatures.items()
        }
        assert entry["signatures"] == want, name
        assert gen.read_signature_defs(corpus / entry["path"]) == want, name


def test_only_the_warmup_models_carry_assets_extra(corpus):
    for name in SIGNATURES:
        extra = corpus / "plain" / name / "1" / "assets.extra"
        if name in ("with_warmup", "tf1_builder"):
            assert sorted(p.name for p in extra.iterdir()) == ["tf_serving_warmup_requests"]
        else:
            assert not extra.exists(), f"{name} must not carry assets.extra (the JVM must warm it up synthetically)"
    assert (corpus / "plain" / "vocab_asset" / "1" / "assets" / "vocab.txt").read_text(encoding="utf-8").split() == (
        gen.VOCABULARY
    )


@pytest.mark.parametrize("name", AGREE_MODELS)
def test_expected_vectors_cover_every_signature_with_one_and_many_rows(corpus, name):
    doc = json.loads((corpus / "expected" / f"{name}.json").read_text(encoding="utf-8"))
    assert doc["format"] == 1 and doc["model"] == name and doc["version"] == 1
    assert set(doc["tolerance"]) == {"atol", "rtol"}
    for signature, (inputs, outputs) in SIGNATURES[name].items():
        cases = [c for c in doc["cases"] if c["signature"] == signature]
        assert cases, f"{name}: no expected case for signature {signature}"
        for case in cases:
            assert set(_signature_keys(case["inputs"])) == set(inputs) and set(case["outputs"]) == set(outputs)
            for key, (dtype, _) in outputs.items():
                assert case["outputs"][key]["dtype"] == dtype, (name, case["name"], key)
            for key, entry in case["inputs"].items():
                assert entry["dtype"] == inputs[key][0], (name, case["name"], key)
                if entry.get("ragged"):  # one row split per ragged dimension, the last one indexing data
                    splits = entry["row_splits"]
                    assert len(splits[0]) == entry["shape"][0] + 1 and splits[-1][-1] == len(entry["data"])
        batched = [k for k, entry in cases[0]["inputs"].items() if entry["shape"]]
        if batched:
            rows = {c["inputs"][batched[0]]["shape"][0] for c in cases}
            assert 1 in rows and max(rows) >= 5, (name, signature, rows)
        else:
            assert all(c["inputs"][k]["shape"] == [] for c in cases for k in inputs)
            assert len(cases) >= 2
    for other in BROKEN_MODELS + ODD_MODELS:
        assert not (corpus / "expected" / f"{other}.json").exists(), other


@pytest.mark.parametrize("name", AGREE_MODELS)
def test_expected_vectors_reproduce_through_python_tf(corpus, tmp_path, name):
    model = _copy_model(corpus / "plain" / name / "1", tmp_path / "model")
    (model / "assets.extra").mkdir(exist_ok=True)
    shutil.copy(corpus / "expected" / f"{name}.json", model / "assets.extra" / GOLDEN_FILE)
    verify_golden(model)  # raises GoldenMismatchError naming the case and element


@pytest.mark.parametrize("layout", ["plain", "linked/repo"])
@pytest.mark.parametrize("name", AGREE_MODELS)
def test_expected_vectors_reproduce_through_the_graph_mode_loader(corpus, tmp_path, name, layout):
    """Independently of ``check``: a v1 Session over the SignatureDef's tensor names, as TF Java feeds them."""
    import tensorflow as tf

    model = corpus / layout / name / "1"
    scratch = tmp_path / "golden"
    (scratch / "assets.extra").mkdir(parents=True)
    shutil.copy(corpus / "expected" / f"{name}.json", scratch / "assets.extra" / GOLDEN_FILE)
    doc, cases = load_golden(scratch)
    atol, rtol = doc["tolerance"]["atol"], doc["tolerance"]["rtol"]
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(model))
        for case in cases:
            sd = meta.signature_def[case.signature]
            feed = {sd.inputs[k].name: np.asarray(v) for k, v in signature_feed(case.inputs).items()}
            got = session.run({k: v.name for k, v in sd.outputs.items()}, feed_dict=feed)
            assert set(got) == set(case.outputs)
            for key, want in case.outputs.items():
                have = np.asarray(got[key])
                assert have.shape == want.shape, (case.name, key)
                assert have.dtype == want.dtype, (case.name, key)
                if want.dtype == object or want.dtype.kind in "iub":
                    assert have.tolist() == want.tolist(), (case.name, key)
                else:  # (float16 and bfloat16 compared as the float64 values they are)
                    np.testing.assert_allclose(
                        have.astype(np.float64),
                        want.astype(np.float64),
                        atol=atol,
                        rtol=rtol,
                        err_msg=f"{name} {case.name} {key}",
                    )


def _signature_keys(golden_inputs: dict) -> list[str]:
    """The SignatureDef input keys a case's golden inputs feed: a ragged ``x`` feeds ``x``, ``x_1``, ``x_2``..."""
    keys = []
    for key, entry in golden_inputs.items():
        keys.append(key)
        keys += [f"{key}_{i}" for i in range(1, len(entry.get("row_splits", [])) + 1)]
    return keys


def _tree_hash(root: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under ``root``, links followed at every level."""
    out = {}
    for dirpath, _, files in os.walk(root, followlinks=True):
        for f in files:
            path = Path(dirpath) / f
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_linked_layout_resolves_to_the_plain_bytes(corpus):
    identities = {}
    for name in SIGNATURES:
        plain = _tree_hash(corpus / "plain" / name / "1")
        linked = _tree_hash(corpus / "linked" / "repo" / name / "1")
        assert "saved_model.pb" in plain and any(k.startswith("variables/") for k in plain)
        assert linked == plain, name
        identities[name] = hashlib.sha256(json.dumps(sorted(plain.items())).encode()).hexdigest()
    assert len(set(identities.values())) == len(identities), "two corpus models must never share an identity"


def test_linked_layout_has_every_link_shape(corpus):
    linked = corpus / "linked"
    real = linked / "real_repo"
    assert (linked / "repo").is_symlink() and os.readlink(linked / "repo") == "real_repo"
    assert (real / "keras_export").is_symlink() and not os.path.isabs(os.readlink(real / "keras_export"))
    assert os.path.isabs(os.readlink(real / "mixed_dtypes"))
    assert (corpus / "store" / "mixed_dtypes" / "1").is_symlink()  # a chain: name link → version link
    assert os.path.isabs(os.readlink(real / "export_archive" / "1"))
    assert os.path.isabs(os.readlink(real / "keras_broken" / "1"))
    assert not os.path.isabs(os.readlink(real / "scalar_module" / "1"))
    assert not os.path.isabs(os.readlink(real / "with_warmup" / "1"))
    vocab = real / "vocab_asset" / "1"
    assert not vocab.is_symlink() and not (vocab / "variables").is_symlink()
    files = [p for p in vocab.rglob("*") if not p.is_dir()]
    assert files and all(p.is_symlink() for p in files)
    targets = {os.path.isabs(os.readlink(p)) for p in files}
    assert targets == {True, False}, "both relative and absolute file links"
    assert not any(p.is_symlink() for p in (real / "saved_model_save").rglob("*"))


def test_generator_is_deterministic_and_idempotent(corpus, tmp_path):
    out = tmp_path / "again"
    first = _run_generator(out)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "wrote the foreign-model corpus" in first.stdout
    for name in AGREE_MODELS:
        again = json.loads((out / "expected" / f"{name}.json").read_text(encoding="utf-8"))
        before = json.loads((corpus / "expected" / f"{name}.json").read_text(encoding="utf-8"))
        assert again == before, f"{name}: the expected vectors changed between two runs"
    second = _run_generator(out)
    assert second.returncode == 0 and "up to date" in second.stdout
    (out / "plain" / "keras_export" / "1" / "saved_model.pb").unlink()
    assert not gen.is_fresh(out), "a damaged corpus is not fresh, whatever its stamp says"


# ------------------------------------------------------------------------------------------------
# The odd signatures: they load and run in TF, and tfspark must refuse them (UNSUPPORTED_SIGNATURE)
# ------------------------------------------------------------------------------------------------

# every TF numeric dtype TF Serving serves (issue 17), beside bool and string
SERVED_DTYPES = {
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "string",
}


def served_or_refused(signature: dict) -> str | None:
    """A Python mirror of the JVM's rules (SignatureBinding, InputFeeder, OutputDecoder): None when
    tfspark serves the signature (``{inputs, outputs}`` as in corpus.json), else the key it must name."""
    inputs, outputs = signature["inputs"], signature["outputs"]
    if not inputs:
        return "<no inputs>"
    for key, t in sorted(inputs.items()):
        if t["shape"] and t["shape"][0] != -1:
            return key  # a fixed first dimension
    batched = any(t["shape"] != [] for t in inputs.values())
    for key, t in sorted(outputs.items()):
        if t["shape"] is None:
            return key  # unknown rank
        if batched and (t["shape"] == [] or t["shape"][0] != -1):
            return key  # no batch dimension while the inputs are batched
    for key, t in sorted({**inputs, **outputs}.items()):
        if t["dtype"] not in SERVED_DTYPES:
            return key
    return None


def _entries(corpus) -> dict[str, dict]:
    return {e["name"]: e for e in json.loads((corpus / "corpus.json").read_text(encoding="utf-8"))}


def test_the_odd_signatures_are_exactly_the_ones_tfspark_must_refuse(corpus):
    entries = _entries(corpus)
    assert ODD_MODELS == sorted(n for n, e in entries.items() if e["odd"])
    assert len(ODD_MODELS) == 5
    for name, entry in entries.items():
        refused = {key: served_or_refused(sd) for key, sd in entry["signatures"].items()}
        if entry["odd"]:
            assert list(refused) == ["serving_default"], name
            assert refused["serving_default"] == (entry["offending"] or "<no inputs>"), name
        else:
            assert set(refused.values()) == {None}, f"{name} has a signature tfspark cannot serve: {refused}"


def _feed_values(feed: str) -> dict[str, int]:
    """``array(a, b)`` → {"": 2}; ``named_struct('k', array(a, b), 'j', c)`` → {"k": 2, "j": 1}; ``struct()`` → {}."""
    import re

    if feed == "struct()":
        return {}
    if feed.startswith("array("):
        return {"": len(feed[len("array(") : -1].split(","))}
    assert feed.startswith("named_struct(") and feed.endswith(")"), feed
    pairs = re.findall(r"'(\w+)', (array\([^)]*\)|[^,)]+)", feed)
    return {k: len(v[len("array(") : -1].split(",")) if v.startswith("array(") else 1 for k, v in pairs}


def test_each_odd_model_has_a_plausible_feed(corpus):
    """The feed fits the inputs in everything but the odd shape: the JVM must fail on the signature, not the feed."""
    for name in ODD_MODELS:
        entry = _entries(corpus)[name]
        inputs = entry["signatures"]["serving_default"]["inputs"]
        values = _feed_values(entry["feed"])
        if "" in values:
            ((key, spec),) = inputs.items()
            values = {key: values[""]}
        assert sorted(values) == sorted(inputs), name
        for key, n in values.items():
            shape = inputs[key]["shape"]
            assert n == (shape[-1] if len(shape) == 2 else 1), (name, key, shape, n)


@pytest.mark.parametrize("layout", ["plain", "linked/repo"])
@pytest.mark.parametrize("name", ODD_MODELS)
def test_check_passes_on_the_odd_signatures(corpus, capsys, name, layout):
    """``check`` judges whether TF's C++ loader restores and runs a model, not whether tfspark serves its
    signature: every odd model loads and runs one synthetic row (zeros), so it passes."""
    code, out, _ = _check_cli(str(corpus / layout / name / "1"), capsys=capsys)
    assert code == 0, out
    assert "serving_default: ok (warm-up from a synthetic row)" in out
    assert "verdict: OK: the model loads and 1 of 1 signatures run" in out
    report = check_saved_model(corpus / layout / name / "1")
    assert report.ok and report.diagnosis is None


def test_the_odd_outputs_really_have_the_odd_shapes(corpus):
    """Through the graph-mode loader, as TF Java runs them: the variables restore, and the outputs do not
    follow the batch (a scalar, a fixed [3], a rank only known at run time)."""
    import tensorflow as tf

    def run(name, feed_rows):
        graph = tf.Graph()
        with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
            meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(corpus / "plain" / name / "1"))
            sd = meta.signature_def["serving_default"]
            feed = {sd.inputs[k].name: v for k, v in feed_rows.items()}
            return session.run({k: v.name for k, v in sd.outputs.items()}, feed_dict=feed)

    x5 = np.arange(10, dtype=np.float32).reshape(5, 2)
    assert run("odd_scalar_output", {"x": x5})["total"].shape == ()
    assert run("odd_fixed_output", {"x": x5})["column_sums"].shape == (3,)
    assert run("odd_unknown_rank_output", {"x": x5})["flat"].shape == (10,)
    assert run("odd_fixed_batch", {"x": np.ones((8, 2), np.float32)})["y"].shape == (8,)
    assert run("odd_no_inputs", {})["constant"].shape == (3,)


# ------------------------------------------------------------------------------------------------
# check
# ------------------------------------------------------------------------------------------------


# Signatures whose synthetic row (zeros, one per input) is no valid data, so that ``check`` skips its
# warm-up: a ragged input's components (one flat value with row splits [0]) and a tf.Example parser
# (an empty string has no feature x).
SYNTHETIC_ROW_IS_NO_DATA = {
    ("ragged_input", "serving_default"),
    ("ragged_input", "nested"),
    ("tf1_builder", "classify"),
}


@pytest.mark.parametrize("layout", ["plain", "linked/repo"])
@pytest.mark.parametrize("name", AGREE_MODELS)
def test_check_passes_on_every_agreeing_corpus_model(corpus, capsys, name, layout):
    code, out, _ = _check_cli(str(corpus / layout / name / "1"), capsys=capsys)
    assert code == 0, out
    assert "verdict: OK" in out
    for signature in SIGNATURES[name]:
        if (name, signature) in SYNTHETIC_ROW_IS_NO_DATA:
            assert f"{signature}: warm-up skipped: " in out, out
        else:
            assert f"{signature}: ok (warm-up from " in out


@pytest.mark.parametrize("name", ["linear", "titanic"])
def test_check_passes_on_the_committed_models_with_their_golden_vectors(models_dir, capsys, name):
    code, out, _ = _check_cli(str(models_dir / name / "1"), capsys=capsys)
    assert code == 0, out
    assert "serving_default: ok (warm-up from golden vectors, " in out
    report = check_saved_model(models_dir / name / "1")
    assert report.ok and all(r.source == SOURCE_GOLDEN and r.max_abs_diff is not None for r in report.signatures)


def test_check_names_its_warmup_source(corpus, models_dir):
    warm = check_saved_model(corpus / "plain" / "with_warmup" / "1").signature("serving_default")
    assert (warm.status, warm.source, warm.runs) == ("ok", SOURCE_WARMUP, 3)
    assert warm.line() == "serving_default: ok (warm-up from tf_serving_warmup_requests, 3 requests)"
    golden = check_saved_model(models_dir / "linear" / "1").signature("serving_default")
    assert golden.source == SOURCE_GOLDEN and golden.line().startswith(
        "serving_default: ok (warm-up from golden vectors"
    )
    synthetic = check_saved_model(corpus / "plain" / "keras_export" / "1")
    assert [r.source for r in synthetic.signatures] == [SOURCE_SYNTHETIC, SOURCE_SYNTHETIC]
    assert synthetic.signature("serve").line() == "serve: ok (warm-up from a synthetic row)"
    scalar = check_saved_model(corpus / "plain" / "scalar_module" / "1")
    assert scalar.ok and {r.signature: r.runs for r in scalar.signatures} == {"serving_default": 1, "threshold": 1}


@pytest.mark.parametrize("layout", ["plain", "linked/repo"])
@pytest.mark.parametrize("name", BROKEN_MODELS)
def test_check_fails_on_the_broken_keras_exports_with_the_diagnosis(corpus, capsys, name, layout):
    code, out, _ = _check_cli(str(corpus / layout / name / "1"), capsys=capsys)
    assert code == 1, out
    assert f"verdict: FAILED [{ERROR_CLASS}]" in out
    assert "Could not find variable" in out
    assert f"cause: {UNRESTORED_CAUSE}" in out
    assert f"fix: {UNRESTORED_FIX}" in out
    report = check_saved_model(corpus / layout / name / "1")
    assert not report.ok and report.error_class == ERROR_CLASS
    assert report.diagnosis.cause == UNRESTORED_CAUSE and report.diagnosis.fix == UNRESTORED_FIX
    assert report.signature("serving_default").status == "failed"


@pytest.mark.parametrize(
    "damage, reason",
    [
        ("novars", "its variables/ folder is missing"),
        ("noindex", "variables/variables.index is missing (variables/ holds variables.data-00000-of-00001)"),
        ("noshard", "variables/variables.data-00000-of-00001 is missing (the index names 1 data shard)"),
        ("short", "variables/variables.data-00000-of-00001 is truncated: 308 bytes where the index needs 318"),
    ],
)
def test_check_names_a_half_published_version_not_the_keras_trap(models_dir, tmp_path, capsys, damage, reason):
    """A non-atomic publish (saved_model.pb first, variables/ later): the JVM's diagnosis, word for word."""
    from tfspark.toolkit.check import INCOMPLETE_CAUSE_SUFFIX, INCOMPLETE_FIX, variables_problem

    model = tmp_path / "linear" / "1"
    shutil.copytree(models_dir / "linear" / "1", model)
    assert variables_problem(model) is None
    variables = model / "variables"
    if damage == "novars":
        shutil.rmtree(variables)
    elif damage == "noindex":
        (variables / "variables.index").unlink()
    elif damage == "noshard":
        (variables / "variables.data-00000-of-00001").unlink()
    else:
        data = variables / "variables.data-00000-of-00001"
        data.write_bytes(data.read_bytes()[:-10])
    report = check_saved_model(model)
    assert not report.ok and report.error_class == ERROR_CLASS
    assert report.diagnosis is not None, report.lines()
    assert report.diagnosis.cause == f"{reason}; {INCOMPLETE_CAUSE_SUFFIX}"
    assert report.diagnosis.fix == INCOMPLETE_FIX
    assert "Keras" not in "\n".join(report.lines())


@pytest.mark.parametrize("layout", ["plain", "linked/repo"])
def test_check_refuses_a_model_that_calls_back_into_python(corpus, capsys, layout):
    """tf.py_function calls back into the exporting Python process (even a new Python process cannot run
    the loaded model: its callback is gone), never runs in a JVM: check says so, as the JVM does at load,
    naming the op and the function it sits in."""
    model = corpus / layout / "py_function" / "1"
    code, out, _ = _check_cli(str(model), capsys=capsys)
    assert code == 1, out
    assert f"verdict: FAILED [{ERROR_CLASS}]" in out
    assert "it contains op EagerPyFunc (in function __inference_" in out, out
    assert "fix: re-export the model without tf.py_function" in out, out


@pytest.mark.parametrize("name", BROKEN_MODELS)
def test_python_loader_runs_what_the_graph_loader_cannot(corpus, name):
    """Why the broken exports are traps: Python's own loader runs them without complaint."""
    import tensorflow as tf

    fn = tf.saved_model.load(str(corpus / "plain" / name / "1")).signatures["serving_default"]
    (key,) = SIGNATURES[name]["serving_default"][0]
    result = fn(**{key: tf.ones([2, 4])})
    assert result[next(iter(SIGNATURES[name]["serving_default"][1]))].shape == (2, 1)


def test_check_exit_status_and_json_from_a_real_process(corpus):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    broken = subprocess.run(
        [sys.executable, "-m", "python_trainer", "check", "--json", str(corpus / "plain" / "keras_broken" / "1")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=REPO_ROOT,
    )
    assert broken.returncode == 1, broken.stderr
    doc = json.loads(broken.stdout)
    assert doc["ok"] is False and doc["error_class"] == ERROR_CLASS
    assert doc["diagnosis"] == {"cause": UNRESTORED_CAUSE, "fix": UNRESTORED_FIX}
    assert doc["signatures"][0]["inputs"][0] == {
        "key": "features",
        "name": "serving_default_features:0",
        "dtype": "float32",
        "shape": [-1, 4],
    }


def test_check_usage_errors_exit_2(tmp_path, capsys, models_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _check_cli(str(empty), capsys=capsys)
    assert code == 2 and "NOT_A_SAVED_MODEL" in err and "is empty" in err

    no_pb = _copy_model(models_dir / "linear" / "1", tmp_path / "no_pb")
    (no_pb / "saved_model.pb").unlink()
    code, _, err = _check_cli(str(no_pb), capsys=capsys)
    assert code == 2 and "has no saved_model.pb" in err and "variables" in err

    code, _, err = _check_cli(str(models_dir / "linear"), capsys=capsys)
    assert code == 2 and f"try {models_dir / 'linear' / '1'}" in err

    code, _, err = _check_cli(str(models_dir / "linear" / "1" / "saved_model.pb"), capsys=capsys)
    assert code == 2 and "is not a directory" in err

    code, _, err = _check_cli(str(tmp_path / "nowhere"), capsys=capsys)
    assert code == 2 and "does not exist" in err

    with pytest.raises(NotASavedModelError):
        check_saved_model(empty)


def test_check_fails_when_golden_vectors_disagree(tmp_path, capsys, models_dir):
    model = _copy_model(models_dir / "linear" / "1", tmp_path / "linear")
    golden = model / "assets.extra" / GOLDEN_FILE
    doc = json.loads(golden.read_text(encoding="utf-8"))
    doc["cases"][0]["outputs"]["prediction"]["data"][0] += 1.0
    golden.write_text(json.dumps(doc), encoding="utf-8")
    code, out, _ = _check_cli(str(model), capsys=capsys)
    assert code == 1
    assert "FAILED (warm-up from golden vectors" in out and "output 'prediction' at [0, 0]" in out
    assert "cause:" not in out, "a wrong answer is not the Keras 3 variable problem"


def test_a_synthetic_row_the_model_rejects_as_data_is_skipped_not_failed(tmp_path, models_dir):
    model = _copy_model(models_dir / "cifar2" / "1", tmp_path / "cifar2")
    shutil.rmtree(model / "assets.extra")
    report = check_saved_model(model)
    assert report.ok, report.lines()
    image = report.signature("serving_default")  # b"" is no JPEG: a data error
    assert image.status == "skipped" and image.source == SOURCE_SYNTHETIC
    assert image.line().startswith("serving_default: warm-up skipped: ") and "InvalidArgumentError" in image.line()
    assert report.signature("pixels").status == "ok"
    assert "1 warm-up skipped" in report.lines()[-1]


def test_warmup_requests_other_than_predict_are_skipped_with_a_note(corpus, tmp_path):
    import tensorflow as tf

    model = _copy_model(corpus / "plain" / "with_warmup" / "1", tmp_path / "with_warmup")
    records = [r.numpy() for r in tf.data.TFRecordDataset(str(warmup_path(model)))]
    assert len(records) == 3
    classify_log = b"\x12\x00"  # PredictionLog{2: ClassifyLog{}}
    with tf.io.TFRecordWriter(str(warmup_path(model))) as writer:
        for record in [classify_log, *records]:
            writer.write(record)
    requests, notes = read_warmup_requests(warmup_path(model))
    assert [r.signature for r in requests] == ["serving_default"] * 3
    assert [r.inputs["features"].shape for r in requests] == [(1, 3), (3, 3), (2, 3)]
    assert notes == ["warm-up record 0 holds a classify_log, not a predict_log: skipped"]
    report = check_saved_model(model)
    assert report.ok and report.signature("serving_default").runs == 3
    assert report.notes == notes


def test_a_warmup_request_for_a_missing_signature_fails(corpus, tmp_path):
    model = _copy_model(corpus / "plain" / "with_warmup" / "1", tmp_path / "with_warmup")
    gen.write_warmup_requests(warmup_path(model), "with_warmup", [("nope", {"features": np.zeros((1, 3), np.float32)})])
    report = check_saved_model(model)
    assert not report.ok and report.diagnosis is None
    assert report.signature("nope").status == "failed"
    # the signature that no request names falls back to the next source (here a synthetic row)
    assert report.signature("serving_default").source == SOURCE_SYNTHETIC


def test_decoder_reads_what_protobuf_writes():
    import tensorflow as tf

    log_class = gen._prediction_log_class()
    log = log_class()
    log.predict_log.request.model_spec.signature_name = "threshold"
    log.predict_log.request.inputs["threshold"].ParseFromString(
        tf.make_tensor_proto(np.float32(2.5)).SerializeToString()
    )
    text = np.array([b"a", "é".encode(), b"\xff"], dtype=object)
    log.predict_log.request.inputs["text"].ParseFromString(tf.make_tensor_proto(text).SerializeToString())
    request = decode_prediction_log(log.SerializeToString(), 7)
    assert request.index == 7 and request.signature == "threshold"
    assert request.inputs["threshold"].shape == () and request.inputs["threshold"] == np.float32(2.5)
    assert request.inputs["text"].tolist() == text.tolist()


def test_a_malformed_golden_file_fails_the_check(tmp_path, models_dir):
    model = _copy_model(models_dir / "linear" / "1", tmp_path / "linear")
    (model / "assets.extra" / GOLDEN_FILE).write_text('{"cases": [{}]}', encoding="utf-8")
    report = check_saved_model(model)
    assert not report.ok and report.diagnosis is None
    assert report.signature(GOLDEN_FILE).line().startswith("golden.json: FAILED: assets.extra/golden.json is not")
    assert report.signature("serving_default").source == SOURCE_SYNTHETIC


def test_synthetic_rows_follow_the_declared_shapes():
    from tfspark.toolkit.check import TensorSpecInfo, _synthetic_feed

    def spec(key, dtype, shape):
        return TensorSpecInfo(key=key, name=f"{key}:0", dtype=dtype, shape=shape)

    feed, _ = _synthetic_feed(
        [
            spec("scalar", "float32", []),
            spec("text", "string", [-1]),
            spec("image", "uint8", [-1, -1, -1, 3]),
            spec("anything", "int64", None),
            spec("flag", "bool", [-1, 2]),
        ]
    )
    assert {k: v.shape for k, v in feed.items()} == {
        "scalar": (),
        "text": (1,),
        "image": (1, 1, 1, 3),
        "anything": (1,),
        "flag": (1, 2),
    }
    assert feed["text"].tolist() == [b""] and feed["flag"].dtype == bool and feed["image"].dtype == np.uint8
    fixed, _ = _synthetic_feed([spec("a", "float32", [3, 2]), spec("b", "int32", [-1])])
    assert fixed["a"].shape == (3, 2) and fixed["b"].shape == (3,), "a fixed batch size is shared"
    none, reason = _synthetic_feed([spec("handle", "resource", [])])
    assert none is None and "resource" in reason


# ------------------------------------------------------------------------------------------------
# The routes of issue 17: what each model really holds
# ------------------------------------------------------------------------------------------------


def test_the_bytes_output_is_binary_and_named_for_the_jvm(corpus):
    """``binary_outputs`` tells the JVM tests which outputs to serve as binary: there they are PNGs, not text."""
    import base64

    entries = _entries(corpus)
    assert {n: e["binary_outputs"] for n, e in entries.items() if "binary_outputs" in e} == {"bytes_output": ["png"]}
    doc = json.loads((corpus / "expected" / "bytes_output.json").read_text(encoding="utf-8"))
    for case in doc["cases"]:
        png = case["outputs"]["png"]
        assert png["encoding"] == "base64"
        assert all(base64.b64decode(v).startswith(b"\x89PNG\r\n\x1a\n") for v in png["data"])


def _graph_ops(model_dir: Path) -> set[str]:
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel.FromString((model_dir / "saved_model.pb").read_bytes())
    graph = sm.meta_graphs[0].graph_def
    return {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}


def test_each_route_is_what_its_exporter_writes(corpus):
    """The routes are the real thing: jax2tf's native serialization (XlaCallModule), TF1's classify method,
    the uint8 image input feeding a Keras application, the images telling the outputs apart."""
    from tensorflow.core.protobuf import saved_model_pb2

    assert "XlaCallModule" in _graph_ops(corpus / "plain" / "jax2tf" / "1")
    sm = saved_model_pb2.SavedModel.FromString((corpus / "plain" / "tf1_builder" / "1" / "saved_model.pb").read_bytes())
    methods = {k: v.method_name for k, v in sm.meta_graphs[0].signature_def.items()}
    assert methods == {
        "serving_default": "tensorflow/serving/predict",
        "predict": "tensorflow/serving/predict",
        "classify": "tensorflow/serving/classify",
    }
    assert "ParseExampleV2" in _graph_ops(corpus / "plain" / "tf1_builder" / "1")
    for name in ("keras_app_mobilenet_v3_uint8", "keras_app_mobilenet_v2"):
        doc = json.loads((corpus / "expected" / f"{name}.json").read_text(encoding="utf-8"))
        many = next(c for c in doc["cases"] if c["outputs"]["output_0"]["shape"][0] == 5)["outputs"]["output_0"]
        probabilities = np.array(many["data"]).reshape(many["shape"])
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
        assert np.ptp(probabilities, axis=0).max() > 1e-3, f"{name}: every image gets the same output"
