"""Training reports beside each export: ``assets.extra/training_report.json`` and a PNG of the
training curves, like the book's plots."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def write_report(export_dir: Path, report: dict) -> Path:
    path = Path(export_dir) / "assets.extra" / "training_report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def plot_history(export_dir: Path, history: dict[str, list[float]], metrics: list[str]) -> Path:
    """Plots each metric (and its ``val_`` twin when present) per epoch; returns the PNG path."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        epochs = range(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], "b-", label=f"train {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "r--", label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(f"training and validation {metric}")
        ax.legend()
    fig.tight_layout()
    path = Path(export_dir) / "assets.extra" / "training_curves.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def write_metrics(export_dir: Path, metrics: dict) -> Path:
    """``metrics.json`` beside the export (the held-out metrics and the quality bar)."""
    path = Path(export_dir) / "assets.extra" / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def write_model_card(export_dir: Path, card: dict, signatures: dict) -> Path:
    """``assets.extra/model_card.md``: data, split, epochs, seed, TF version, signatures, metrics."""
    lines = [f"# Model card: {card['model']} (version {card['version']})", ""]
    for key in ("description", "data", "split", "epochs", "seed", "tensorflow", "training_seconds"):
        if key in card:
            lines.append(f"- **{key.replace('_', ' ')}**: {card[key]}")
    lines += ["", "## Signatures", "", "| signature | direction | key | dtype | shape |", "|---|---|---|---|---|"]
    for sig, io in sorted(signatures.items()):
        for direction in ("inputs", "outputs"):
            for t in io[direction]:
                shape = "[" + ",".join("-1" if d is None else str(d) for d in t.shape) + "]"
                lines.append(f"| {sig} | {direction[:-1]} | `{t.key}` | {t.dtype} | {shape} |")
    lines += ["", "## Metrics", ""]
    lines += [f"- {k}: {v}" for k, v in sorted(card.get("metrics", {}).items())]
    path = Path(export_dir) / "assets.extra" / "model_card.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
