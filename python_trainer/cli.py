"""Command line: ``python -m python_trainer {train,evaluate,verify,check,signatures,sample} ...``.

Examples
--------
    python -m python_trainer train linear
    python -m python_trainer train --all
    python -m python_trainer train titanic --epochs 5 --out /tmp/models --version 2
    python -m python_trainer evaluate imdb
    python -m python_trainer verify models/linear/1
    python -m python_trainer check models/linear/1
    python -m python_trainer signatures models/linear/1
    python -m python_trainer sample linear --rows 1000 --out data/linear_features.csv
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from python_trainer.data_dir import ENV_VAR, REPO_ROOT
from python_trainer.errors import TrainerError

DEFAULT_OUT = REPO_ROOT / "models"


def _parser() -> argparse.ArgumentParser:
    from python_trainer.workflows import WORKFLOWS

    p = argparse.ArgumentParser(prog="python -m python_trainer", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a workflow and export models/<name>/<version>/")
    t.add_argument("name", nargs="?", choices=sorted(WORKFLOWS), help="the workflow to train")
    t.add_argument("--all", action="store_true", help="train every workflow, one after another")
    t.add_argument("--smoke", action="store_true", help="a few steps on a tiny subset (for tests)")
    t.add_argument("--epochs", type=int, default=None, help="epochs (default: the workflow's own)")
    t.add_argument("--seed", type=int, default=None, help="random seed (default: the workflow's own)")
    t.add_argument("--data-dir", default=None, help=f"data directory (default: ${ENV_VAR}, then ../shared/data)")
    t.add_argument("--out", default=str(DEFAULT_OUT), help="model repository root (default: %(default)s)")
    t.add_argument("--version", type=int, default=1, help="export version, a positive integer (default: 1)")
    t.add_argument("--quiet", action="store_true", help="no Keras progress output")

    e = sub.add_parser("evaluate", help="measure an export on its workflow's held-out data")
    e.add_argument("name", choices=sorted(WORKFLOWS), help="the workflow")
    e.add_argument("--model-dir", default=None, help="an export (default: the latest in models/<name>/)")
    e.add_argument("--data-dir", default=None, help=f"data directory (default: ${ENV_VAR}, then ../shared/data)")

    v = sub.add_parser("verify", help="replay an export's golden vectors through Python TF")
    v.add_argument("export_dir", help="a models/<name>/<version> directory")

    c = sub.add_parser(
        "check",
        help="load a SavedModel as TF Java / TF Serving do and warm up every signature (exit 0 ok, 1 fails, 2 usage)",
    )
    c.add_argument("export_dir", help="a SavedModel directory (any exporter), e.g. models/linear/1")
    c.add_argument("--json", action="store_true", help="print the report as JSON")

    f = sub.add_parser("sample", help="write a CSV of generated feature rows for batch scoring")
    f.add_argument("name", choices=["linear"], help="the workflow whose features to generate")
    f.add_argument("--rows", type=int, default=100_000, help="number of rows (default: %(default)s)")
    f.add_argument("--out", required=True, help="the CSV file to write")

    s = sub.add_parser("signatures", help="print an export's signatures as JSON")
    s.add_argument("export_dir", help="a models/<name>/<version> directory")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            from python_trainer.workflows import get_workflow

            model_dir = Path(args.model_dir) if args.model_dir else _latest(DEFAULT_OUT / args.name)
            print(json.dumps(get_workflow(args.name).evaluate(model_dir, args.data_dir)))
            return 0
        if args.command == "verify":
            from python_trainer.golden import verify_golden

            worst = verify_golden(Path(args.export_dir))
            print(f"golden vectors of {args.export_dir} reproduce; max |diff| = {worst:.3g}")
            return 0
        if args.command == "check":
            from python_trainer.check import main_check

            return main_check(args.export_dir, as_json=args.json)
        if args.command == "sample":
            from python_trainer.workflows import get_workflow

            path = get_workflow(args.name).write_sample_features(Path(args.out), rows=args.rows)
            print(f"wrote {args.rows} rows of features to {path}")
            return 0
        if args.command == "signatures":
            from python_trainer.export import read_signatures

            sigs = read_signatures(Path(args.export_dir))
            print(json.dumps({k: {io: [vars(t) for t in v[io]] for io in v} for k, v in sigs.items()}, indent=1))
            return 0
    except TrainerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 1


def _latest(model_root: Path) -> Path:
    versions = sorted((int(p.name) for p in model_root.glob("[0-9]*") if p.name.isdigit()), reverse=True)
    if not versions:
        raise TrainerError(f"no exported versions in {model_root}; train it first", looked_at=str(model_root))
    return model_root / str(versions[0])


def _train(args: argparse.Namespace) -> int:
    from python_trainer.workflows import WORKFLOWS, get_workflow
    from python_trainer.workflows.common import TrainConfig

    if args.all == bool(args.name):
        raise TrainerError("train takes a workflow name or --all, not both", expected=sorted(WORKFLOWS))
    for name in sorted(WORKFLOWS) if args.all else [args.name]:
        wf = get_workflow(name)
        started = time.monotonic()
        config = TrainConfig(
            out_root=Path(args.out),
            version=args.version,
            epochs=args.epochs or (1 if args.smoke else None),
            seed=args.seed,
            data_dir=args.data_dir,
            verbose=0 if args.quiet else 2,
            smoke=args.smoke,
        )
        result = wf.train(config)
        print(f"exported {result.export_dir} in {time.monotonic() - started:.1f} s")
        for key, value in result.metrics.items():
            print(f"  {key}: {value}")
    return 0
