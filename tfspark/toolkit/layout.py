"""Layout mistakes of a model repository ``<repo>/<name>/<version>/saved_model.pb``, diagnosed as the JVM does.

tfspark's ``ModelRepository.resolve`` (spark-scala/src/main/scala/tfspark/model/ModelRepository.scala)
and ``python -m python_trainer check`` say the same thing about the same folder, with the error class
``MODEL_LOAD_FAILED``:

* a SavedModel directly in ``<repo>/<name>/`` (``saved_model.pb`` there, no version folder): move it
  into ``<repo>/<name>/1/``;
* a version folder (a positive whole number) without ``saved_model.pb``: names the missing file;
* a model folder whose sub-folders are none of them versions: names them.

Symbolic links are followed (TF-Serving-style linked versions).
"""

from __future__ import annotations

import re
from pathlib import Path

from python_trainer.errors import NotASavedModelError

ERROR_CLASS = "MODEL_LOAD_FAILED"
_VERSION = re.compile(r"[1-9][0-9]{0,17}")
# A folder holding only these is a SavedModel that lost its saved_model.pb, not a model folder: check's
# usage error (NOT_A_SAVED_MODEL, "has no saved_model.pb") says so.
_SAVED_MODEL_PARTS = {"variables", "assets", "assets.extra"}


def is_version(name: str) -> bool:
    """Whether ``name`` is a version folder's name: a positive whole number without leading zeros."""
    return _VERSION.fullmatch(name) is not None


def layout_problem(path: Path | str) -> str | None:
    """What is wrong with the layout of ``path`` (a version folder or a model folder), or None.

    Parameters
    ----------
    path : Path or str
        The folder given to ``check``: ``<repo>/<name>/<version>`` or ``<repo>/<name>``.

    Returns
    -------
    str or None
        The diagnosis, in the JVM's words; None when the layout is right, or ``path`` is not a folder.
    """
    path = Path(path)
    if not path.is_dir():
        return None
    has_pb = (path / "saved_model.pb").is_file()
    folders = sorted(p.name for p in path.iterdir() if p.is_dir())
    versions = sorted((f for f in folders if is_version(f)), key=int)
    if is_version(path.name):
        if has_pb:
            return None
        return (
            f"version folder {path} has no saved_model.pb ({path / 'saved_model.pb'} is missing): the export did "
            "not finish or went elsewhere. Export the SavedModel into that folder (saved_model.pb and variables/), "
            "or remove it"
        )
    if versions:
        # The newest complete version is served; only a folder without any is a mistake (as in the JVM).
        if any((path / v / "saved_model.pb").is_file() for v in versions):
            return None
        return layout_problem(path / versions[-1])
    if has_pb:
        return (
            f"it holds a SavedModel directly ({path / 'saved_model.pb'}), without a version folder: move it into "
            f"{path / '1'}/ (the TF Serving layout <repository>/<name>/<version>/saved_model.pb)"
        )
    if folders and not set(folders) <= _SAVED_MODEL_PARTS:
        return (
            f"none of its sub-folders is a version: {', '.join(folders)} (versions are positive whole numbers). "
            f"Put each version in {path / '<version>'}/, e.g. {path / '1'}/saved_model.pb"
        )
    return None


def validate_saved_model_dir(path: Path) -> Path:
    """Checks that ``path`` is a SavedModel directory; raises :class:`NotASavedModelError` saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise NotASavedModelError(f"{path} does not exist", path=str(path))
    if not path.is_dir():
        raise NotASavedModelError(f"{path} is not a directory; expected a SavedModel directory", path=str(path))
    if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
        return path
    entries = sorted(p.name for p in path.iterdir())
    if not entries:
        raise NotASavedModelError(
            f"{path} is empty; expected a SavedModel directory with saved_model.pb", path=str(path)
        )
    versions = sorted((int(n) for n in entries if n.isdigit() and (path / n).is_dir()), reverse=True)
    hint = f"; it looks like a model with versions {versions}: try {path / str(versions[0])}" if versions else ""
    raise NotASavedModelError(
        f"{path} has no saved_model.pb (it holds {', '.join(entries[:8])}{', ...' if len(entries) > 8 else ''}){hint}",
        path=str(path),
        got=entries[:8],
    )
