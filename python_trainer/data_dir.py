"""Where the trainer reads data and writes models: a clone's folders, or the current directory.

In a clone (the folder above ``python_trainer/`` holds ``build.sbt``) the data directory is, in
order: an explicit ``--data-dir``; ``$TFSPARK_DATA_DIR``; ``<clone>/data`` (when it holds the data
set); ``<clone>/../shared/data`` (where CI and every developer machine have the book's data). The
default model repository is ``<clone>/models``.

Installed from the wheel (``tfspark-train``), there is no clone: the data directory is ``--data-dir``
or ``$TFSPARK_DATA_DIR`` and nothing else, and the default model repository is ``./models`` in the
current directory (never a folder inside site-packages).
"""

from __future__ import annotations

import os
from pathlib import Path

from python_trainer.errors import DataNotFoundError

ENV_VAR = "TFSPARK_DATA_DIR"


def checkout_root() -> Path | None:
    """The clone this package runs from, or None when it is installed (site-packages has no build.sbt)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "build.sbt").is_file() and (root / "python_trainer").is_dir() else None


def default_repository() -> Path:
    """The model repository that ``train --out`` and ``evaluate`` default to: ``<clone>/models``, else ``./models``."""
    clone = checkout_root()
    return clone / "models" if clone else Path.cwd() / "models"


def candidate_dirs(explicit: str | os.PathLike | None = None) -> list[Path]:
    """The directories searched, in order (empty when installed and neither is given)."""
    if explicit is not None:
        return [Path(explicit)]
    dirs = []
    if os.environ.get(ENV_VAR):
        dirs.append(Path(os.environ[ENV_VAR]))
    clone = checkout_root()
    if clone:
        dirs += [clone / "data", clone.parent / "shared" / "data"]
    return dirs


def resolve_data_file(relative: str, *, data_dir: str | os.PathLike | None = None) -> Path:
    """Returns the first ``<dir>/<relative>`` that exists.

    Raises
    ------
    DataNotFoundError
        If no candidate directory holds the file; the message lists every place looked at, or,
        installed without ``--data-dir`` and ``$TFSPARK_DATA_DIR``, says that one of them is needed.
    """
    dirs = candidate_dirs(data_dir)
    for d in dirs:
        path = d / relative
        if path.exists():
            return path
    if not dirs:
        raise DataNotFoundError(
            f"data file '{relative}' needs a data directory: outside a clone of tfspark none is assumed. "
            f"Pass --data-dir DIR or set ${ENV_VAR}=DIR, DIR being the folder that holds the book's data sets.",
            expected=relative,
            looked_at=[],
        )
    looked = ", ".join(str(d / relative) for d in dirs)
    raise DataNotFoundError(
        f"data file '{relative}' not found; looked at: {looked}. "
        f"Pass --data-dir or set ${ENV_VAR} to the folder that holds the book's data sets.",
        expected=relative,
        looked_at=[str(d) for d in dirs],
    )
