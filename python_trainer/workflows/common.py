"""What every workflow does after training: export, golden vectors, metrics, card and curves."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from python_trainer import export, golden, report


@dataclass(frozen=True)
class TrainResult:
    """Where the export went, and the report that was written beside it."""

    export_dir: Path
    report: dict
    metrics: dict = field(default_factory=dict)


@dataclass
class Stopwatch:
    started: float = field(default_factory=time.monotonic)

    def seconds(self) -> float:
        return round(time.monotonic() - self.started, 1)


def finish_export(
    module: tf.Module,
    signatures: dict,
    *,
    name: str,
    version: int,
    out_root: Path,
    cases: list[golden.GoldenCase],
    atol: float,
    rtol: float,
    history: dict[str, list[float]],
    curves: list[str],
    metrics: dict,
    card: dict,
) -> TrainResult:
    """Saves ``module`` and writes golden vectors, ``metrics.json``, the model card and the curves."""
    final = export.save_module(module, signatures, out_root=out_root, name=name, version=version)
    golden.write_golden(final, model=name, version=version, cases=cases, atol=atol, rtol=rtol)
    report.write_metrics(final, metrics)
    card = {"model": name, "version": version, "tensorflow": tf.__version__, **card, "metrics": metrics}
    report.write_model_card(final, card, export.read_signatures(final))
    report.write_report(final, {k: v for k, v in card.items() if k != "description"})
    report.plot_history(final, history, curves)
    return TrainResult(final, card, metrics)
