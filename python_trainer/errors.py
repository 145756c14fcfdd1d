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


class ModelLoadFailedError(TrainerError, RuntimeError):
    """A fresh export that TF's C++ loader (TF Java, TF Serving) cannot restore or run; nothing was published."""

    error_class = "MODEL_LOAD_FAILED"


class OutputExistsError(TrainerError, FileExistsError):
    """A command would replace an existing output file or folder without ``--force``."""

    error_class = "OUTPUT_EXISTS"
