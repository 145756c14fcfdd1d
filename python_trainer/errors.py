"""The trainer's errors. Each has a stable ``error_class`` of the one error registry,
``tfspark/error-classes.json`` (read in place: the trainer never imports pyspark, so not through
:mod:`tfspark.errors`), which gives its SQLSTATE and meaning; its parameters stay for tests and tooling."""

from __future__ import annotations

import functools
import json
from pathlib import Path

# The registry of both packages: python_trainer and tfspark always travel together (the checkout, the wheel).
REGISTRY = Path(__file__).resolve().parent.parent / "tfspark" / "error-classes.json"


@functools.cache
def error_classes() -> dict[str, dict]:
    """The error registry, read once (``FileNotFoundError`` for a broken installation)."""
    return json.loads(REGISTRY.read_text(encoding="utf-8"))


def diagnosis(error_class: str, name: str) -> tuple[str, str]:
    """The registry's cause and fix ``name`` of ``error_class``, worded as the JVM words them."""
    entry = error_classes()[error_class]["diagnoses"][name]
    return entry["cause"], entry["fix"]


class TrainerError(Exception):
    """Base class: ``error_class`` is stable; ``params`` names what was expected and what came.

    Every subclass's ``error_class`` is a class of the registry that ``python_trainer`` raises
    (``ValueError`` at import otherwise); ``sql_state`` is the registry's.
    """

    error_class = "TRAINER_ERROR"

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(f"[{self.error_class}] {message}")
        self.params = params

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _check_registered(cls.error_class)

    @property
    def sql_state(self) -> str:
        """The registry's SQLSTATE of ``error_class``."""
        return error_classes()[self.error_class]["sqlState"]


def _check_registered(error_class: str) -> None:
    entry = error_classes().get(error_class)
    if entry is None or "python_trainer" not in entry["raisedBy"]:
        raise ValueError(f"{error_class} is not an error class that python_trainer raises ({REGISTRY.name})")


_check_registered(TrainerError.error_class)


class DataNotFoundError(TrainerError, FileNotFoundError):
    """A data set file is missing from the data directory."""

    error_class = "DATA_NOT_FOUND"


class UnknownWorkflowError(TrainerError, ValueError):
    """A workflow name that the trainer does not know."""

    error_class = "UNKNOWN_WORKFLOW"


class GoldenMismatchError(TrainerError, AssertionError):
    """A model's outputs differ from its golden vectors beyond tolerance."""

    error_class = "GOLDEN_MISMATCH"


class ExportError(TrainerError, ValueError):
    """An export whose signatures do not follow the model contract: named lower_snake keys, none made up by Keras."""

    error_class = "EXPORT_CONTRACT_VIOLATION"


class NotASavedModelError(TrainerError, ValueError):
    """A path given as a SavedModel directory is not one (a usage error: the CLI exits 2)."""

    error_class = "NOT_A_SAVED_MODEL"


class VersionExistsError(TrainerError, FileExistsError):
    """An export would replace an existing model version; ``params`` name the folder and the next free version."""

    error_class = "MODEL_VERSION_EXISTS"


class GoldenVectorsMissingError(TrainerError, FileNotFoundError):
    """A SavedModel has no ``assets.extra/golden.json`` to replay; the message says how to make one."""

    error_class = "GOLDEN_VECTORS_MISSING"


class SampleInputError(TrainerError, ValueError):
    """Sample inputs (for golden vectors) that cannot feed a signature: unreadable, missing, wrong type or shape."""

    error_class = "INVALID_SAMPLE_INPUTS"


class ModelNotExportableError(TrainerError, TypeError):
    """An object that ``export_keras`` cannot turn into named signatures (and what to pass instead)."""

    error_class = "MODEL_NOT_EXPORTABLE"


class ExportNotLoadableError(TrainerError, RuntimeError):
    """A fresh export that TF's C++ loader (TF Java, TF Serving) cannot restore or run; nothing was published.

    Not ``MODEL_LOAD_FAILED``, which is the JVM's (and ``check``'s) class for a published model that
    does not load: this one is the trainer refusing to publish."""

    error_class = "EXPORT_NOT_LOADABLE"


class OutputExistsError(TrainerError, FileExistsError):
    """A command would replace an existing output file or folder without ``--force``."""

    error_class = "OUTPUT_EXISTS"
