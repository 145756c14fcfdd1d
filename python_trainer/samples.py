"""``python -m python_trainer sample NAME``: raw input rows that a book model's ``serving_default`` takes.

Each sample is written in a format that Spark reads as-is, so it can go straight to BatchScore or to
``tfpredict`` in SQL:

- linear: CSV ``x1,x2``, generated from U[-10, 10]. Spark: ``csv`` (header, inferSchema);
  ``tfpredict('linear', array(x1, x2))``, BatchScore ``--features x1,x2``.
- titanic: CSV of passengers with every raw column (``PassengerId``, ``Name``, ``Age``, ...). Spark:
  ``csv``; ``tfpredict('titanic', struct(*))`` with ``spark.tfpredict.nullPolicy=fill``.
- imdb: CSV ``id,label,review``. Spark: ``csv``; ``tfpredict('imdb', review)``.
- cifar2: a folder of JPEG files. Spark: ``binaryFile``; ``tfpredict('cifar2', content)``.
- covid: JSON lines ``{"date": ..., "window": [[confirmed, cured, dead], ...]}``, 8 days of daily new
  counts. Spark: ``json``; ``tfpredict('covid', window)``.

Rows are drawn from the data sets in the data directory (``../shared/data``) with a seeded
generator, and repeated when more rows are asked for than the data set has. The data sets are never
copied into the repository: the sample goes where ``--out`` says. CSV text is quoted with ``"`` and
escaped with ``\\``, which is what Spark's CSV reader expects by default (header and inferSchema on,
as BatchScore reads CSV).
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from python_trainer.data_dir import resolve_data_file
from python_trainer.errors import OutputExistsError, TrainerError, UnknownWorkflowError

DEFAULT_SEED = 42


@dataclass(frozen=True)
class Sample:
    """What :func:`write_sample` wrote: where, how many rows, and how Spark scores it."""

    path: Path
    rows: int
    description: str
    score_with: str


@dataclass(frozen=True)
class _Writer:
    default_rows: int
    write: Callable[..., Sample]


def write_sample(
    name: str,
    out: str | Path,
    *,
    rows: int | None = None,
    seed: int = DEFAULT_SEED,
    data_dir=None,
    overwrite: bool = False,
) -> Sample:
    """Writes ``rows`` raw input rows for book model ``name`` to ``out`` (a file, or a folder for cifar2).

    Parameters
    ----------
    name : str
        ``linear``, ``titanic``, ``imdb``, ``cifar2`` or ``covid``.
    out : path
        Where to write; its parent folders are created.
    rows : int, optional
        How many rows (images for cifar2); default: the model's own (see :data:`DEFAULT_ROWS`).
    seed : int
        Seeds the draw (and linear's generated values).
    data_dir : path, optional
        The data directory (default: ``$TFSPARK_DATA_DIR``, then ``data/``, then ``../shared/data``).
    overwrite : bool
        Replace an existing ``out`` (default: refuse).

    Raises
    ------
    UnknownWorkflowError
        ``name`` is not a book model.
    OutputExistsError
        ``out`` exists and ``overwrite`` is False.
    DataNotFoundError
        The data set is missing (linear needs none).
    TrainerError
        ``rows`` is not positive.
    """
    if name not in WRITERS:
        raise UnknownWorkflowError(
            f"no sample for '{name}'; expected one of: {', '.join(sorted(WRITERS))}",
            expected=sorted(WRITERS),
            got=name,
        )
    writer = WRITERS[name]
    rows = writer.default_rows if rows is None else rows
    if rows < 1:
        raise TrainerError(f"--rows must be a positive integer, got {rows}", got=rows)
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not overwrite:
            raise OutputExistsError(f"{out} exists; choose another --out or replace it with --force", path=str(out))
        if out.is_dir() and not out.is_symlink():
            shutil.rmtree(out)
        else:
            out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    return writer.write(out, rows=rows, seed=seed, data_dir=data_dir)


def _draw(count: int, rows: int, seed: int) -> np.ndarray:
    """``rows`` indices into ``count`` items: a seeded permutation, repeated (re-shuffled) as needed."""
    rng = np.random.default_rng(seed)
    chunks, left = [], rows
    while left > 0:
        chunks.append(rng.permutation(count)[:left])
        left -= len(chunks[-1])
    return np.concatenate(chunks)


def _write_csv(frame, out: Path) -> None:
    """Text quoted, ``"`` inside it escaped as ``\\"``, missing values as ``""``: Spark's CSV defaults read
    that back exactly (RFC 4180's ``""`` inside a value is not always, e.g. titanic's nicknames)."""
    frame.to_csv(out, index=False, quoting=csv.QUOTE_NONNUMERIC, escapechar="\\", doublequote=False)


def write_linear(out: Path, *, rows: int, seed: int = DEFAULT_SEED, data_dir=None) -> Sample:
    """``x1,x2`` drawn from U[-10, 10], the distribution the book's linear model was trained on."""
    del data_dir
    rng = np.random.default_rng(seed + 2)
    x = rng.uniform(-10.0, 10.0, size=(rows, 2)).astype(np.float32)
    np.savetxt(out, x, delimiter=",", header="x1,x2", comments="", fmt="%.6f")
    return Sample(
        out, rows, "generated feature rows x1,x2", "tfpredict('linear', array(x1, x2)); BatchScore --features x1,x2"
    )


def write_titanic(out: Path, *, rows: int, seed: int = DEFAULT_SEED, data_dir=None) -> Sample:
    """Passengers with every raw column, from ``titanic/test.csv`` first, then ``train.csv``."""
    import pandas as pd

    frames = [pd.read_csv(resolve_data_file(f"titanic/{split}.csv", data_dir=data_dir)) for split in ("test", "train")]
    passengers = pd.concat(frames, ignore_index=True)
    first = len(frames[0])
    order = _draw(first, min(rows, first), seed)
    if rows > first:
        order = np.concatenate([order, _draw(len(passengers), rows - first, seed + 1)])
    sample = passengers.iloc[order].reset_index(drop=True)
    if sample["PassengerId"].duplicated().any():  # repeated passengers get fresh ids, so ids stay unique
        sample["PassengerId"] = np.arange(1, len(sample) + 1)
    _write_csv(sample, out)
    return Sample(
        out,
        rows,
        "passengers with their raw columns (PassengerId, Survived, Pclass, Name, Sex, Age, ...)",
        "tfpredict('titanic', struct(*)) with spark.tfpredict.nullPolicy=fill; BatchScore --null-policy fill",
    )


def write_imdb(out: Path, *, rows: int, seed: int = DEFAULT_SEED, data_dir=None) -> Sample:
    """Reviews of the test split: ``id,label,review``, the raw text as written."""
    import pandas as pd

    with gzip.open(resolve_data_file("imdb/imdb_full_50k.csv.gz", data_dir=data_dir), "rt", encoding="utf-8") as f:
        reviews = pd.read_csv(f)
    test = reviews[reviews["split"] == "test"].reset_index(drop=True)
    sample = test.iloc[_draw(len(test), rows, seed)]
    frame = pd.DataFrame(
        {
            "id": np.arange(1, rows + 1),
            "label": sample["label"].to_numpy(),
            # Spark's CSV reader takes one line per row unless multiLine is on.
            "review": sample["text"].fillna("").str.replace(r"[\r\n]+", " ", regex=True).to_numpy(),
        }
    )
    _write_csv(frame, out)
    return Sample(out, rows, "movie reviews (id, label 1 = positive, review)", "tfpredict('imdb', review)")


def write_cifar2(out: Path, *, rows: int, seed: int = DEFAULT_SEED, data_dir=None) -> Sample:
    """JPEG files of the test split, both classes, named ``<n>_<class>_<file>``."""
    root = resolve_data_file("cifar2/test", data_dir=data_dir)
    files = sorted(root.glob("*/*.jpg"))
    if not files:
        raise TrainerError(f"no JPEG files in {root}/<class>/", path=str(root))
    out.mkdir(parents=True)
    for n, index in enumerate(_draw(len(files), rows, seed)):
        source = files[index]
        shutil.copyfile(source, out / f"{n:05d}_{source.parent.name}_{source.name}")
    return Sample(
        out,
        rows,
        "JPEG images (airplane, automobile), one file per row",
        "spark.read.format('binaryFile') and tfpredict('cifar2', content); BatchScore --input-format binaryFile "
        "--input-map image_bytes=content",
    )


def write_covid(out: Path, *, rows: int, seed: int = DEFAULT_SEED, data_dir=None) -> Sample:
    """8-day windows of daily new (confirmed, cured, dead) in date order, with the ``date`` each one predicts."""
    import pandas as pd

    from python_trainer.workflows.covid import COLUMNS, WINDOW

    del seed  # the windows go in date order
    days = pd.read_csv(resolve_data_file("covid-19.csv", data_dir=data_dir), sep="\t")
    daily = days[COLUMNS].diff().iloc[1:]
    dates = days["date"].iloc[1:].to_numpy()
    values = daily.to_numpy(np.float64)
    targets = np.arange(WINDOW, len(values))  # each window predicts a day the data set has
    with open(out, "w", encoding="utf-8") as f:
        for index in np.arange(rows) % len(targets):  # in date order, from the start again when rows > windows
            t = int(targets[index])
            f.write(json.dumps({"date": str(dates[t]), "window": values[t - WINDOW : t].tolist()}) + "\n")
    return Sample(
        out,
        rows,
        f"{WINDOW}-day windows of daily new confirmed, cured, dead (JSON lines)",
        "tfpredict('covid', window)",
    )


WRITERS: dict[str, _Writer] = {
    "linear": _Writer(100_000, write_linear),
    "titanic": _Writer(179, write_titanic),
    "imdb": _Writer(1_000, write_imdb),
    "cifar2": _Writer(100, write_cifar2),
    "covid": _Writer(37, write_covid),
}
DEFAULT_ROWS = {name: w.default_rows for name, w in WRITERS.items()}
