"""Command line: ``python -m python_trainer {train,evaluate,export,golden,verify,check,signatures,sample} ...``.

Examples
--------
    python -m python_trainer train linear --out /tmp/models      # -> /tmp/models/linear/1
    python -m python_trainer train titanic --version 2           # a new version beside models/titanic/1
    python -m python_trainer train linear --force                # replace models/linear/1
    python -m python_trainer evaluate imdb
    python -m python_trainer export --keras churn.keras --sample rows.csv --out repo/churn/1
    python -m python_trainer golden repo/churn/1 --sample rows.csv
    python -m python_trainer verify models/linear/1
    python -m python_trainer check models/linear/1
    python -m python_trainer signatures models/linear/1
    python -m python_trainer sample titanic --out out/passengers.csv

Quiet by default: no TensorFlow INFO/WARNING lines, no Keras progress. ``--verbose`` (``-v``), before
or after the command, brings them back. Exit status: 0 success, 1 a model that fails ``check``, 2 an
error, printed as one line ``error: [ERROR_CLASS] ...`` (also when a command needs TensorFlow and
the ``train`` extra is not installed: ``pip install 'tfspark[train]'``).

Installed from the wheel (``tfspark-train``, outside a clone), ``train --out`` and ``evaluate``
default to ``./models`` in the current directory, and the data directory is ``--data-dir`` or
``$TFSPARK_DATA_DIR`` (:mod:`python_trainer.data_dir`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from python_trainer.data_dir import ENV_VAR, default_repository
from python_trainer.errors import TrainerError

# What the ``train`` extra installs: a command that imports one of these without it says so.
TRAIN_EXTRA_MODULES = {"tensorflow", "keras", "tf_keras", "ml_dtypes", "numpy", "pandas", "matplotlib"}
TRAIN_EXTRA_HINT = "pip install 'tfspark[train]'"
BOOK_MODELS = ["cifar2", "covid", "imdb", "linear", "titanic"]


def _parser() -> argparse.ArgumentParser:
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show TensorFlow's INFO/WARNING lines and Keras progress (quiet by default)",
    )
    p = argparse.ArgumentParser(
        prog="python -m python_trainer",
        description="Train the book's models, export your own, check, verify and sample them (quiet unless -v).",
        parents=[verbose],
    )
    sub = p.add_subparsers(dest="command", required=True)
    data_help = f"data directory (default: ${ENV_VAR}; in a clone, then data/, then ../shared/data)"
    repository_help = "model repository root (default: models/ of the clone; installed: ./models)"
    tracking_help = "the MLflow tracking server (default: $MLFLOW_TRACKING_URI)"

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[verbose], **kwargs)

    t = command("train", help="train a workflow and export <out>/<name>/<version>/ (never replaces one unless --force)")
    t.add_argument("name", nargs="?", choices=BOOK_MODELS, help="the workflow to train")
    t.add_argument("--all", action="store_true", help="train every workflow, one after another")
    t.add_argument("--smoke", action="store_true", help="a few steps on a tiny subset (for tests)")
    t.add_argument("--epochs", type=int, default=None, help="epochs (default: the workflow's own)")
    t.add_argument("--seed", type=int, default=None, help="random seed (default: the workflow's own)")
    t.add_argument("--data-dir", default=None, help=data_help)
    t.add_argument("--out", default=None, help=repository_help)
    t.add_argument("--version", type=int, default=1, help="export version, a positive integer (default: 1)")
    t.add_argument("--force", action="store_true", help="replace the version if it exists")
    t.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for scripts
    t.add_argument("--register", default=None, metavar="NAME", help="also log the export to MLflow as model NAME")
    t.add_argument("--alias", default=None, help="with --register: move this alias (e.g. champion) to the new version")
    t.add_argument("--tracking-uri", default=None, help=tracking_help)

    e = command("evaluate", help="measure an export on its workflow's held-out data")
    e.add_argument("name", choices=BOOK_MODELS, help="the workflow")
    e.add_argument("--model-dir", default=None, help="an export (default: the latest in <repository>/<name>/)")
    e.add_argument("--repository", default=None, help=repository_help)
    e.add_argument("--data-dir", default=None, help=data_help)

    x = command(
        "export",
        help="export a Keras 3 .keras file as <repository>/<name>/<version> with named signatures and golden vectors",
    )
    x.add_argument("--keras", required=True, metavar="MODEL.keras", help="a model saved with model.save('m.keras')")
    x.add_argument(
        "--sample",
        required=True,
        metavar="FILE",
        help="a few real input rows: .csv, .json/.jsonl, .npz, or a folder of image files",
    )
    x.add_argument("--out", required=True, metavar="DIR", help="the version folder, e.g. models/churn/1")
    x.add_argument("--input-names", default=None, help="comma-separated input keys (default: the Input names)")
    x.add_argument("--output-names", default=None, help="comma-separated output keys (default: the output layers')")
    x.add_argument("--force", action="store_true", help="replace DIR if it exists")

    g = command("golden", help="write golden vectors into an existing SavedModel from sample input rows")
    g.add_argument("export_dir", help="a SavedModel directory")
    g.add_argument("--sample", required=True, metavar="FILE", help="as for export")
    g.add_argument("--force", action="store_true", help="replace existing golden vectors")

    v = command("verify", help="replay an export's golden vectors through Python TF")
    v.add_argument("export_dir", help="a models/<name>/<version> directory")

    c = command(
        "check",
        help="load a SavedModel as TF Java / TF Serving do and warm up every signature (exit 0 ok, 1 fails, 2 usage)",
    )
    c.add_argument("export_dir", help="a SavedModel directory (any exporter), e.g. models/linear/1")
    c.add_argument("--json", action="store_true", help="print the report as JSON")

    s = command("signatures", help="print an export's signatures as JSON")
    s.add_argument("export_dir", help="a models/<name>/<version> directory")

    r = command(
        "register",
        help="log a SavedModel to the MLflow registry as the next version of NAME (mlflow.pyfunc and tfspark load it)",
    )
    r.add_argument("export_dir", help="a SavedModel directory, e.g. models/titanic/1")
    r.add_argument("--name", required=True, help="the registered model's name, e.g. titanic")
    r.add_argument("--alias", default=None, help="move this alias (e.g. champion) to the new version")
    r.add_argument("--tracking-uri", default=None, help=tracking_help)

    f = command("sample", help="write raw input rows of a book model, for BatchScore or tfpredict")
    f.add_argument("name", choices=BOOK_MODELS, help="the book model")
    f.add_argument("--out", required=True, help="the file to write (a folder for cifar2)")
    f.add_argument("--rows", type=int, default=None, help="rows (images for cifar2; default: the model's own)")
    f.add_argument("--seed", type=int, default=42, help="seed of the draw (default: %(default)s)")
    f.add_argument("--data-dir", default=None, help=data_help)
    f.add_argument("--force", action="store_true", help="replace --out if it exists")
    return p


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the exit status (errors from the catalog print one line and give 2).

    Called as a program (``argv`` None: ``python -m python_trainer``, the ``tfspark-train`` script),
    it first makes the process quiet unless ``--verbose`` (:mod:`python_trainer.quiet`); called with
    ``argv`` from Python, it leaves the process's logging alone.
    """
    if argv is None:
        from python_trainer.quiet import quiet_process, wants_verbose

        quiet_process(verbose=wants_verbose(sys.argv[1:]))
    args = _parser().parse_args(argv)
    args.verbose = getattr(args, "verbose", False)
    try:
        return COMMANDS[args.command](args)
    except TrainerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in TRAIN_EXTRA_MODULES:
            raise
        missing = TrainerError(
            f"'{args.command}' needs the train extra ({e.name} is not installed): {TRAIN_EXTRA_HINT}", missing=e.name
        )
        print(f"error: {missing}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    from python_trainer.workflows import get_workflow
    from python_trainer.workflows.common import TrainConfig
    from tfspark.toolkit.export import ensure_version_free, export_dir

    if args.all == bool(args.name):
        raise TrainerError("train takes a workflow name or --all, not both", expected=BOOK_MODELS)
    if args.version < 1:
        raise TrainerError(f"--version must be a positive integer, got {args.version}", got=args.version)
    if args.register and args.all:
        raise TrainerError("--register names one registered model: train one workflow with it, not --all", got="--all")
    if args.alias and not args.register:
        raise TrainerError("--alias moves an alias of the version --register logs: add --register NAME", got=args.alias)
    names = BOOK_MODELS if args.all else [args.name]
    out = Path(args.out) if args.out else default_repository()
    for name in names:  # before any training: a refusal costs nothing
        ensure_version_free(
            export_dir(out, name, args.version),
            overwrite=args.force,
            how="train it with --version {next} (or --out another repository), or pass --force to replace it",
        )
    for name in names:
        started = time.monotonic()
        config = TrainConfig(
            out_root=out,
            version=args.version,
            epochs=args.epochs or (1 if args.smoke else None),
            seed=args.seed,
            data_dir=args.data_dir,
            verbose=2 if args.verbose else 0,
            smoke=args.smoke,
            overwrite=args.force,
        )
        print(f"training {name}{' (smoke)' if args.smoke else ''} ...", flush=True)
        result = get_workflow(name).train(config)
        print(f"exported {result.export_dir} in {time.monotonic() - started:.1f} s")
        for key, value in result.metrics.items():
            print(f"  {key}: {value}")
        if args.register and _log_to_registry(Path(result.export_dir), args.register, args.alias, args.tracking_uri):
            return 2
    return 0


def _register(args: argparse.Namespace) -> int:
    return _log_to_registry(Path(args.export_dir), args.name, args.alias, args.tracking_uri)


def _log_to_registry(export_dir: Path, name: str, alias: str | None, tracking_uri: str | None) -> int:
    """Logs ``export_dir`` with :func:`tfspark.mlflow.log_model` and prints the version and its ``models:/``
    URI; returns 0, or 2 after printing tfspark's or MLflow's error."""
    from tfspark.errors import TFSparkError
    from tfspark.mlflow import log_model

    try:
        info = log_model(export_dir, registered_model_name=name, alias=alias, tracking_uri=tracking_uri)
    except TFSparkError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # mlflow's own errors (MlflowException, a refused connection after its retries)
        if type(e).__module__.split(".")[0] != "mlflow" and not isinstance(e, OSError):
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"error: MLflow could not register {export_dir} as {name}: {type(e).__name__}: {first}", file=sys.stderr)
        return 2
    version = info.registered_model_version
    print(f"registered {export_dir} as version {version} of {name}: models:/{name}/{version}")
    if alias:
        print(f"alias {alias} -> version {version}: models:/{name}@{alias}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from python_trainer.workflows import get_workflow

    repository = Path(args.repository) if args.repository else default_repository()
    model_dir = Path(args.model_dir) if args.model_dir else _latest(repository / args.name)
    print(json.dumps(get_workflow(args.name).evaluate(model_dir, args.data_dir)))
    return 0


def _export(args: argparse.Namespace) -> int:
    from python_trainer.errors import ModelNotExportableError
    from tfspark.toolkit.export import ensure_version_free, export_keras, parse_version_dir, read_signatures

    parse_version_dir(Path(args.out))  # usage errors first, before Keras loads the model
    ensure_version_free(Path(args.out), overwrite=args.force, how="export to {next_dir}, or pass --force to replace it")
    path = Path(args.keras)
    if not path.is_file():
        raise ModelNotExportableError(f"{path} does not exist; save the model with model.save('{path.name}')")
    import keras

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as e:  # Keras raises ValueError, TypeError, OSError... for files it cannot rebuild
        raise ModelNotExportableError(
            f"Keras cannot load {path}: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e) else ''} "
            "(a model with custom layers needs them registered: use tfspark.toolkit.export.export_keras from Python)",
            got=str(path),
        ) from None
    out = export_keras(
        model,
        args.out,
        sample_inputs=args.sample,
        input_names=_names(args.input_names),
        output_names=_names(args.output_names),
        overwrite=args.force,
    )
    print(f"exported {out}")
    _print_signatures(read_signatures(out))
    print(f"golden vectors from {args.sample}; TF's C++ loader (TF Java, TF Serving) restores and runs it")
    return 0


def _golden(args: argparse.Namespace) -> int:
    from tfspark.toolkit.export import add_golden_vectors

    path = add_golden_vectors(args.export_dir, sample_inputs=args.sample, overwrite=args.force)
    print(f"wrote {path}; replay it with: python -m python_trainer verify {args.export_dir}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from tfspark.toolkit.golden import verify_golden

    worst = verify_golden(Path(args.export_dir))
    print(f"golden vectors of {args.export_dir} reproduce; max |diff| = {worst:.3g}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from tfspark.toolkit.check import main_check

    return main_check(args.export_dir, as_json=args.json)


def _signatures(args: argparse.Namespace) -> int:
    from tfspark.toolkit.export import read_signatures
    from tfspark.toolkit.layout import validate_saved_model_dir

    sigs = read_signatures(validate_saved_model_dir(Path(args.export_dir)))
    print(json.dumps({k: {io: [vars(t) for t in v[io]] for io in v} for k, v in sigs.items()}, indent=1))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from python_trainer.samples import write_sample

    sample = write_sample(
        args.name, args.out, rows=args.rows, seed=args.seed, data_dir=args.data_dir, overwrite=args.force
    )
    print(f"wrote {sample.rows} rows to {sample.path}: {sample.description}")
    print(f"score with: {sample.score_with}")
    return 0


def _print_signatures(sigs: dict) -> None:
    def spec(t) -> str:
        return f"{t.key} {t.dtype} {'<unknown rank>' if t.shape is None else [-1 if d is None else d for d in t.shape]}"

    for key, io in sigs.items():
        print(f"  {key}: ({', '.join(map(spec, io['inputs']))}) -> ({', '.join(map(spec, io['outputs']))})")


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def _latest(model_root: Path) -> Path:
    versions = sorted((int(p.name) for p in model_root.glob("[0-9]*") if p.name.isdigit()), reverse=True)
    if not versions:
        raise TrainerError(f"no exported versions in {model_root}; train it first", looked_at=str(model_root))
    return model_root / str(versions[0])


COMMANDS = {
    "train": _train,
    "evaluate": _evaluate,
    "export": _export,
    "golden": _golden,
    "verify": _verify,
    "check": _check,
    "signatures": _signatures,
    "sample": _sample,
    "register": _register,
}
