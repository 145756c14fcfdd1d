"""The benchmark's MLP 64→256→256→1, the compute-bound model of bench/RESULTS.md, with generated weights.

Weights come from a seeded generator; only the shape of the computation matters for throughput.
``serving_default``: ``features`` float32 [-1,64] → ``prediction`` float32 [-1,1]. Its golden vectors
are 64 rows drawn like the benchmark's data (``numeric_frame``: uniform in [-10, 10)), so that a bfloat16
load is measured on inputs like the ones it scores (docs/precision.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from tfspark.toolkit import export

WIDTH = 64


class Mlp(tf.Module):
    def __init__(self, seed: int = 11) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)

        def dense(n_in, n_out):
            w = tf.Variable(rng.normal(0, (2 / n_in) ** 0.5, size=(n_in, n_out)).astype(np.float32))
            return w, tf.Variable(np.zeros(n_out, np.float32))

        self.w1, self.b1 = dense(WIDTH, 256)
        self.w2, self.b2 = dense(256, 256)
        self.w3, self.b3 = dense(256, 1)

    @tf.function(input_signature=[tf.TensorSpec([None, WIDTH], tf.float32, name="features")])
    def serve(self, features):
        h = tf.nn.relu(features @ self.w1 + self.b1)
        h = tf.nn.relu(h @ self.w2 + self.b2)
        return {"prediction": tf.sigmoid(h @ self.w3 + self.b3)}


def export_mlp(out_root: Path) -> Path:
    """Writes ``<out_root>/mlp/1`` and its golden vectors unless they are there; returns the export directory."""
    target = Path(out_root) / "mlp" / "1"
    if not (target / "saved_model.pb").is_file():
        module = Mlp()
        export.save_module(module, {"serving_default": module.serve}, out_root=out_root, name="mlp", version=1)
    if not (target / "assets.extra" / "golden.json").is_file():
        rows = np.random.default_rng(7).uniform(-10, 10, size=(64, WIDTH)).astype(np.float32)
        export.add_golden_vectors(target, sample_inputs={"features": rows})
    return target
