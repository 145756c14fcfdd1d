"""The Python packages' import graph, read from the sources (nothing is imported, no TensorFlow).

- no module of ``tfspark/`` or ``python_trainer/`` reaches itself through imports, function-local
  ones included (they used to hide two circles: ``check`` ↔ ``golden``, ``export`` ↔ ``endpoints``);
- the toolkit imports its own modules at the top of the file, never inside a function;
- the pyspark side of ``tfspark`` imports no toolkit and nothing of ``python_trainer``; the toolkit
  imports only the error catalog of ``python_trainer`` (the book's workflows and CLI import the toolkit).
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO_ROOT

PACKAGES = ("tfspark", "python_trainer")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> list[tuple[str, bool]]:
    """(imported module, whether the import is inside a function) for each import of a known module."""
    tree = ast.parse(path.read_text())
    local = {
        id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(f)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            # `from pkg import sub` imports the submodule sub; `from mod import name` imports mod
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known]
            targets = subs or [node.module]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        found += [(t, id(node) in local) for t in targets if t in known]
    return found


def test_no_import_cycles():
    known = modules()
    graph = {m: {t for t, _ in imports(p, known) if t != m} for m, p in known.items()}
    cycles = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt == start:
                cycles.append(" -> ".join([*path, nxt]))
            elif nxt > start and nxt not in path:  # each cycle once, from its smallest module
                walk(start, nxt, [*path, nxt])

    for module in sorted(graph):
        walk(module, module, [module])
    assert cycles == []
    assert "tfspark.toolkit.endpoints" in graph["tfspark.toolkit.export"], "the graph is read at all"


def test_toolkit_imports_its_modules_at_the_top():
    known = modules()
    hidden = [
        f"{m} imports {t} in a function"
        for m, p in known.items()
        if m.startswith("tfspark.toolkit")
        for t, in_function in imports(p, known)
        if in_function and t.startswith("tfspark.toolkit")
    ]
    assert hidden == []


def test_layers_point_one_way():
    known = modules()
    wrong = []
    for m, p in known.items():
        targets = {t for t, _ in imports(p, known)}
        if m.startswith("tfspark.toolkit"):
            wrong += [f"{m} -> {t}" for t in targets if t.startswith("python_trainer") and t != "python_trainer.errors"]
        elif m.startswith("tfspark"):
            wrong += [f"{m} -> {t}" for t in targets if t.startswith(("python_trainer", "tfspark.toolkit"))]
    assert wrong == []
