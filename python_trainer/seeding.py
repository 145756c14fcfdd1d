"""Deterministic training: one call fixes every seed and asks TF for deterministic kernels."""

from __future__ import annotations

import tensorflow as tf


def make_deterministic(seed: int) -> None:
    """Seeds Python, NumPy, TF and Keras, and enables TF op determinism for this process."""
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
