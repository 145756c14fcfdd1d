"""The Python error catalog. Each error has a stable ``error_class`` shared in spirit with the JVM
catalog (``tfspark.errors.TFSparkErrors``), and keeps its parameters for tests and tooling."""

from __future__ import annotations


class TrainerError(Exception):
    """Base class: ``error_class`` is stable; ``params`` names what was expected and what came."""

    error_class = "TRAINER_ERROR"

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(f"[{self.error_class}] {message}")
        self.params = params


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
    """An export whose signatures do not follow the model contract (DESIGN.md §4)."""

    error_class = "EXPORT_CONTRACT_VIOLATION"
