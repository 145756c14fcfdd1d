"""Finds the data directory. The data sets are never copied into the repository.

Resolution order: an explicit ``--data-dir``; ``$TFSPARK_DATA_DIR``; ``<repo>/data`` when it holds
data sets; ``<repo>/../shared/data`` (where CI and every developer machine have the book's data).
"""

from __future__ import annotations

import os
from pathlib import Path

from python_trainer.errors import DataNotFoundError

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "TFSPARK_DATA_DIR"


def candidate_dirs(explicit: str | os.PathLike | None = None) -> list[Path]:
    """The directories searched, in order."""
    if explicit is not None:
        return [Path(explicit)]
    dirs = []
    if os.environ.get(ENV_VAR):
        dirs.append(Path(os.environ[ENV_VAR]))
    dirs += [REPO_ROOT / "data", REPO_ROOT.parent / "shared" / "data"]
    return dirs


def resolve_data_file(relative: str, *, data_dir: str | os.PathLike | None = None) -> Path:
    """Returns the first ``<dir>/<relative>`` that exists.

    Raises
    ------
    DataNotFoundError
        If no candidate directory holds the file; the message lists every place looked at.
    """
    dirs = candidate_dirs(data_dir)
    for d in dirs:
        path = d / relative
        if path.exists():
            return path
    looked = ", ".join(str(d / relative) for d in dirs)
    raise DataNotFoundError(
        f"data file '{relative}' not found; looked at: {looked}. "
        f"Pass --data-dir or set ${ENV_VAR} to the folder that holds the book's data sets.",
        expected=relative,
        looked_at=[str(d) for d in dirs],
    )
