"""What every workflow does after training: export, golden vectors, metrics, card and curves."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import tensorflow as tf

from python_trainer import report
from tfspark.toolkit import export, golden


@dataclass(frozen=True)
class TrainResult:
    """Where the export went, and the report that was written beside it."""

    export_dir: Path
    report: dict
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """How to train one workflow. ``None`` for epochs or seed means the workflow's own default.

    ``overwrite``: replace an existing ``<out_root>/<name>/<version>`` (otherwise the export raises
    :class:`~python_trainer.errors.VersionExistsError`). ``verbose`` is Keras's ``fit`` verbosity.
    """

    out_root: Path
    version: int = 1
    epochs: int | None = None
    seed: int | None = None
    data_dir: Path | None = None
    verbose: int = 2
    smoke: bool = False
    overwrite: bool = False

    def resolved(self, default_epochs: int, default_seed: int) -> TrainConfig:
        """This config with the workflow's defaults filled in."""
        return replace(
            self,
            epochs=self.epochs or default_epochs,
            seed=default_seed if self.seed is None else self.seed,
        )


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
    config: TrainConfig,
    clock: Stopwatch,
    cases: list[golden.GoldenCase],
    atol: float,
    rtol: float,
    history: dict[str, list[float]],
    curves: list[str],
    metrics: dict,
    card: dict,
) -> TrainResult:
    """Saves ``module`` and writes golden vectors, ``metrics.json``, the model card and the curves.

    ``config`` is the resolved config the model was trained with. ``card`` gives the description,
    data and split; epochs, seed, smoke and the training time are added here (``card`` may
    override them, as covid does with the epochs that early stopping ran).
    """
    version = config.version
    final = export.save_module(
        module, signatures, out_root=config.out_root, name=name, version=version, overwrite=config.overwrite
    )
    golden.write_golden(final, model=name, version=version, cases=cases, atol=atol, rtol=rtol)
    report.write_metrics(final, metrics)
    card = {
        "model": name,
        "version": version,
        "tensorflow": tf.__version__,
        "epochs": config.epochs,
        "seed": config.seed,
        "smoke": config.smoke,
        "training_seconds": clock.seconds(),
        **card,
        "metrics": metrics,
    }
    report.write_model_card(final, card, export.read_signatures(final))
    report.write_report(final, {k: v for k, v in card.items() if k != "description"})
    report.plot_history(final, history, curves)
    return TrainResult(final, card, metrics)
