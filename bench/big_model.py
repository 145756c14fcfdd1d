"""A SavedModel over 2 GiB for ``bench/big_model.sh``: its weight lives in checkpoint variables.

``saved_model.pb`` stays a few KB (protobuf caps a message at 2 GiB, so the weights cannot be
constants in the graph); ``variables/variables.data-*`` holds two float32 variables of ``n`` elements
each, whose values are known in closed form so the JVM can check every prediction exactly:

- ``low[j] = j % 1000`` and ``high[j] = (j // 1000) % 1000``;
- ``serving_default``: ``index`` int64 [-1] → ``value`` float32 [-1], with
  ``value = low[index % n] + 1000 * high[index % n]`` (an integer below 10**6, exact in float32).

Usage: ``python bench/big_model.py OUT_REPOSITORY [--gib 2.2]`` writes ``OUT_REPOSITORY/big/1``
unless it is there, and prints its size in bytes and ``n``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

BLOCK = 1000


def variable(n: int, high: bool) -> tf.Variable:
    """A float32 variable of ``n`` elements built from one int32 range (about 2 × 4n bytes at the peak)."""
    j = tf.range(n, dtype=tf.int32)
    values = (j // BLOCK) % BLOCK if high else j % BLOCK
    return tf.Variable(tf.cast(values, tf.float32), trainable=False)


class Big(tf.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.low = variable(n, high=False)
        self.high = variable(n, high=True)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="index")])
    def serve(self, index):
        j = tf.math.floormod(index, self.n)
        return {"value": tf.gather(self.low, j) + float(BLOCK) * tf.gather(self.high, j)}


def size_of(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", type=Path)
    parser.add_argument("--gib", type=float, default=2.2, help="total size of the two variables, in GiB")
    args = parser.parse_args()
    n = int(args.gib * 2**30 / 8)  # two float32 variables of n elements
    export = args.repository / "big" / "1"
    if not (export / "saved_model.pb").is_file():
        staging = args.repository / "big" / ".staging"
        shutil.rmtree(staging, ignore_errors=True)
        module = Big(n)
        tf.saved_model.save(module, str(staging), signatures={"serving_default": module.serve})
        del module
        (staging / "assets.extra").mkdir(exist_ok=True)
        (staging / "assets.extra" / "big.json").write_text(json.dumps({"n": n}))
        staging.rename(export)
    n = json.loads((export / "assets.extra" / "big.json").read_text())["n"]
    print(json.dumps({"export": str(export), "bytes": size_of(export), "n": n}))


if __name__ == "__main__":
    main()
