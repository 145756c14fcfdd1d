"""The one error registry (tfspark/error-classes.json) as Python reads it, and the one version.

The JVM's side (every class it raises, its templates, docs/errors.md's table) is ErrorCatalogSuite's.
No JVM here: these run in the fast tier.
"""

from __future__ import annotations

import ast
import json
import re

import pytest
from conftest import REPO_ROOT

import python_trainer
import tfspark
import tfspark.jars
from python_trainer import errors as trainer_errors
from tfspark.errors import TFSparkClientError, error_classes, render


def _raised_in(package: str) -> set[str]:
    """The literal error classes that ``package``'s sources pass to TFSparkClientError(...)/from_template(...)."""
    found = set()
    for path in (REPO_ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in ("TFSparkClientError", "from_template"):
                    found.add(node.args[0].value)
    return found


def _classes(side: str) -> set[str]:
    return {name for name, entry in error_classes().items() if side in entry["raisedBy"]}


def test_both_packages_read_the_one_file_and_it_is_sorted():
    text = (REPO_ROOT / "tfspark" / "error-classes.json").read_text(encoding="utf-8")
    registry = json.loads(text)
    assert list(registry) == sorted(registry)
    assert text == json.dumps(registry, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    assert error_classes() == registry == trainer_errors.error_classes()


def test_the_python_classes_are_the_registrys():
    assert _raised_in("tfspark") == _classes("tfspark")
    trainer = {  # every `error_class = "..."` of the trainer's error classes (python_trainer and the toolkit)
        match
        for folder in (REPO_ROOT / "python_trainer", REPO_ROOT / "tfspark" / "toolkit")
        for path in folder.rglob("*.py")
        for match in re.findall(r'^    error_class = "([A-Z_]+)"$', path.read_text(encoding="utf-8"), re.M)
    }
    assert trainer == _classes("python_trainer")
    assert {cls.error_class for cls in _subclasses(trainer_errors.TrainerError)} <= trainer
    # one meaning per class: the trainer refusing to publish an export is not the JVM's load failure
    assert trainer_errors.ExportNotLoadableError.error_class == "EXPORT_NOT_LOADABLE"
    assert "MODEL_LOAD_FAILED" not in trainer and "INVALID_ARGUMENT" not in trainer


def _subclasses(cls: type) -> list[type]:
    return [s for sub in cls.__subclasses__() for s in (sub, *_subclasses(sub))]


def test_client_errors_take_their_sqlstate_from_the_registry_and_refuse_other_classes():
    e = TFSparkClientError("SESSION_WITHOUT_TFSPARK", "this process runs a plain session")
    assert e.getSqlState() == error_classes()["SESSION_WITHOUT_TFSPARK"]["sqlState"] == "55000"
    for not_ours in ("NO_SUCH_CLASS", "MODEL_NOT_FOUND", "DATA_NOT_FOUND"):  # unknown, the JVM's, the trainer's
        with pytest.raises(ValueError, match=not_ours):
            TFSparkClientError(not_ours, "text")
    assert trainer_errors.VersionExistsError("exists").sql_state == "42K04"
    with pytest.raises(ValueError, match="MODEL_NOT_FOUND"):
        type("Wrong", (trainer_errors.TrainerError,), {"error_class": "MODEL_NOT_FOUND"})


def test_invalid_argument_reads_as_the_jvm_renders_it():
    e = TFSparkClientError.from_template("INVALID_ARGUMENT", what="batchSize", got="0.", expected="a positive integer")
    assert str(e) == "[INVALID_ARGUMENT] batchSize is 0.; expected a positive integer."
    assert e.getCondition() == "INVALID_ARGUMENT" and e.getSqlState() == "22023"
    assert e.getMessageParameters() == {"what": "batchSize", "got": "0.", "expected": "a positive integer"}
    # a value that ends the sentence gives one full stop, as TFSparkErrors.message does
    assert render("INVALID_ARGUMENT", {"what": "w", "got": "g", "expected": "e."}) == "w is g; expected e."
    with pytest.raises(ValueError, match="expected"):
        render("INVALID_ARGUMENT", {"what": "w", "got": "g"})
    with pytest.raises(ValueError, match="no message template"):
        render("JAR_NOT_FOUND", {})


def test_tfpredict_without_a_model_is_invalid_argument_with_the_jvms_parameters():
    with pytest.raises(TFSparkClientError) as e:
        tfspark.tfpredict(["titanic"])
    assert e.value.getCondition() == "INVALID_ARGUMENT"
    assert set(e.value.getMessageParameters()) == {"what", "got", "expected"}
    assert str(e.value).startswith("[INVALID_ARGUMENT] tfpredict's first argument is ['titanic']; expected the model")


def test_check_words_the_causes_and_fixes_as_the_registry_does():
    pytest.importorskip("tensorflow")
    from tfspark.toolkit import check

    diagnoses = error_classes()["MODEL_LOAD_FAILED"]["diagnoses"]
    assert (check.UNRESTORED_CAUSE, check.UNRESTORED_FIX) == tuple(diagnoses["variablesNotRestored"].values())
    assert (check.INCOMPLETE_CAUSE_SUFFIX, check.INCOMPLETE_FIX) == tuple(diagnoses["incompleteVersion"].values())
    assert check.ERROR_CLASS == "MODEL_LOAD_FAILED"
    assert "python_trainer check" in error_classes()[check.ERROR_CLASS]["raisedBy"]


def test_one_version():
    version = (REPO_ROOT / "tfspark" / "VERSION").read_text(encoding="ascii").strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert tfspark.__version__ == python_trainer.__version__ == version
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and 'version = {file = "tfspark/VERSION"}' in pyproject
    assert not re.search(r'^version = "', pyproject, re.M)
    build = (REPO_ROOT / "build.sbt").read_text(encoding="utf-8")
    assert 'IO.read(file("tfspark/VERSION"))' in build and "0.1.0" not in build
    tf_java = (REPO_ROOT / "tfspark" / "TF_JAVA_VERSION").read_text(encoding="ascii").strip()
    assert tfspark.jars.TF_JAVA_VERSION == tf_java and f'"{tf_java}"' not in build
