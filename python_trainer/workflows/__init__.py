"""One module per book workflow. Each exposes ``NAME``, ``DEFAULT_EPOCHS`` and ``train(...)``."""

from __future__ import annotations

from types import ModuleType

from python_trainer.errors import UnknownWorkflowError
from python_trainer.workflows import cifar2, covid, imdb, linear, titanic

WORKFLOWS: dict[str, ModuleType] = {m.NAME: m for m in (linear, titanic, cifar2, imdb, covid)}


def get_workflow(name: str) -> ModuleType:
    """Returns the workflow module; raises :class:`UnknownWorkflowError` for an unknown name."""
    try:
        return WORKFLOWS[name]
    except KeyError:
        raise UnknownWorkflowError(
            f"unknown workflow '{name}'; expected one of: {', '.join(sorted(WORKFLOWS))}",
            expected=sorted(WORKFLOWS),
            got=name,
        ) from None
