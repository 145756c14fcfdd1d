"""The example models that the README's pyspark code scores, shipped in the wheel.

A pip user has no clone and so no ``models/`` folder; ``python -m tfspark examples --out DIR``
writes ``DIR/<name>/1/`` for each example model (``imdb``, ``linear``, ``titanic``: 3.5 MB of
committed SavedModels, no TensorFlow needed), and ``DIR`` is then a model repository:
``configure_spark_with_tfspark(builder, repository=DIR)``.

The models live in the package folder ``tfspark/example_models/``: in a checkout, links to the
committed ``models/<name>``; in the wheel, copies of them (``bin/wheel`` stages them).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tfspark.errors import TFSparkClientError

EXAMPLES_DIR = Path(__file__).resolve().parent / "example_models"


def example_names() -> list[str]:
    """The example models this installation carries, sorted (``[]`` if its folder is missing)."""
    if not EXAMPLES_DIR.is_dir():
        return []
    return sorted(p.name for p in EXAMPLES_DIR.iterdir() if p.is_dir())


def write_examples(out: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Copies every example model to ``out/<name>/<version>/``; returns the model folders written.

    >>> import tempfile
    >>> written = write_examples(tempfile.mkdtemp())
    >>> [p.name for p in written]
    ['imdb', 'linear', 'titanic']
    >>> sorted(p.name for p in (written[1] / "1").iterdir())
    ['assets.extra', 'fingerprint.pb', 'saved_model.pb', 'variables']

    Raises
    ------
    TFSparkClientError
        ``INVALID_ARGUMENT`` when ``out/<name>`` exists and ``overwrite`` is false (nothing is
        written then), or when this installation carries no example models.
    """
    names = example_names()
    if not names:
        raise TFSparkClientError.from_template(
            "INVALID_ARGUMENT",
            what="this installation's example models folder",
            got=f"missing ({EXAMPLES_DIR})",
            expected="the folder the wheel installs; reinstall the wheel",
        )
    root = Path(out)
    existing = [str(root / n) for n in names if (root / n).exists()]
    if existing and not overwrite:
        raise TFSparkClientError.from_template(
            "INVALID_ARGUMENT",
            what="--out",
            got=f"{root}, where {', '.join(existing)} already exist",
            expected="a folder without these models; pass --force to replace them",
        )
    written = []
    for name in names:
        target = root / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(EXAMPLES_DIR / name, target)  # follows the checkout's links: real files
        written.append(target)
    return written
