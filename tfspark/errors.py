"""tfspark's errors as pyspark exceptions that carry the error class.

Every error tfspark raises in Python is a :class:`TFSparkError`, a pyspark
:class:`~pyspark.errors.PySparkException`: ``getCondition()`` is the stable error class (the JVM
catalog's, ``tfspark.errors.TFSparkErrors``, or one of the set-up classes below) and
``getMessageParameters()`` names what was expected, what came and where.

- :class:`TFSparkClientError`: found in Python, before or without the JVM (``JAR_NOT_FOUND``,
  ``NATIVE_JAR_DOWNLOAD_FAILED``, ``MAVEN_SETTINGS_INVALID``, ``UNSUPPORTED_PLATFORM``,
  ``SESSION_WITHOUT_TFSPARK``, ``INVALID_ARGUMENT``).
- A ``tfspark.errors.TFSparkException`` thrown by the JVM (at analysis, or in a task: Spark rethrows
  it from the failed job) reaches Python as a :class:`TFSparkError` too, once
  :func:`install_exception_conversion` ran, which :func:`tfspark.register` and
  :func:`tfspark.configure_spark_with_tfspark` do. It is pyspark's own conversion of Java exceptions,
  extended by one class, as Delta Lake's Python package extends it for Delta's exceptions. On a
  classic session the error is a ``CapturedException``; on a Spark Connect client a
  ``SparkConnectGrpcException``; both are :class:`TFSparkError`.

Every class, its SQLSTATE and its meaning are in the error registry, ``error-classes.json`` beside
this file: the one registry that the JVM (``tfspark.errors.ErrorRegistry``, a copy in the jar),
this package and ``python_trainer`` read, and that docs/errors.md lists.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from pathlib import Path

from pyspark.errors import PySparkException
from pyspark.errors.exceptions.captured import CapturedException

JVM_EXCEPTION = "tfspark.errors.TFSparkException"
REGISTRY = Path(__file__).with_name("error-classes.json")


@functools.cache
def error_classes() -> dict[str, dict]:
    """The error registry: each class's ``sqlState``, ``meaning``, ``raisedBy`` and, for classes rendered
    from a template, its ``message`` (parameters as ``<name>``). Read once; a missing file is a broken
    installation and raises ``FileNotFoundError``."""
    return json.loads(REGISTRY.read_text(encoding="utf-8"))


def render(error_class: str, params: dict[str, str]) -> str:
    """The registry's template of ``error_class`` filled with ``params``, without the ``[CLASS]`` prefix,
    as the JVM renders it (``TFSparkErrors.message``): a value that ends a sentence of its own gives one
    full stop. Raises ``ValueError`` for a class without a template or a parameter left out."""
    template = error_classes()[error_class].get("message")
    if template is None:
        raise ValueError(f"{error_class} has no message template in {REGISTRY.name}")
    missing = [name for name in re.findall(r"<([a-zA-Z]+)>", template) if name not in params]
    if missing:
        raise ValueError(f"{error_class}: parameters {', '.join(missing)} are not given")
    for key, value in params.items():
        template = template.replace(f"<{key}>.", value.rstrip(".") + ".").replace(f"<{key}>", value)
    return template


class TFSparkError(PySparkException):
    """Base of every tfspark error in Python: catch this, then read ``getCondition()``."""

    def _log_exception(self) -> None:
        """pyspark logs an error that carries a query context at ERROR, with the JVM's stack trace,
        as it raises it. A tfspark error reaches its caller with its class and fix, so that copy goes
        to INFO, logger ``tfspark.errors``."""
        # Called from pyspark's __init__, before getMessage() can render: the JVM's own text is there.
        logging.getLogger("tfspark.errors").info("%s", getattr(self, "_desc", None) or getattr(self, "_message", ""))


class TFSparkClientError(TFSparkError):
    """An error found in Python: setting up a session, or a bad argument to a tfspark function.

    The message reads ``[ERROR_CLASS] what was wrong ... what to do``; ``params`` are also the
    message parameters. ``error_class`` must be a class of the registry that ``tfspark`` raises
    (``ValueError`` otherwise); ``getSqlState()`` is the registry's. A class with a template in the
    registry (``INVALID_ARGUMENT``) is raised with :meth:`from_template`, as the JVM raises it.
    """

    def __init__(self, error_class: str, message: str, **params: object) -> None:
        entry = error_classes().get(error_class)
        if entry is None or "tfspark" not in entry["raisedBy"]:
            raise ValueError(f"{error_class} is not an error class that tfspark raises in Python ({REGISTRY.name})")
        self._error_class = error_class
        super().__init__(  # pyspark's getMessage() puts the "[ERROR_CLASS] " prefix in front
            message=message,
            errorClass=error_class,
            messageParameters={k: str(v) for k, v in params.items()},
        )

    @classmethod
    def from_template(cls, error_class: str, **params: object) -> TFSparkClientError:
        """The error with the registry's message template of ``error_class`` filled with ``params``."""
        texts = {k: str(v) for k, v in params.items()}
        return cls(error_class, render(error_class, texts), **texts)

    def getSqlState(self) -> str:
        """The registry's SQLSTATE of this error's class (pyspark's own reader knows only Spark's classes)."""
        return error_classes()[self._error_class]["sqlState"]

    def __str__(self) -> str:
        return self.getMessage()


_connect_error_class: type | None = None


def install_exception_conversion() -> None:
    """Makes pyspark raise a :class:`TFSparkError` for the JVM's ``TFSparkException``. Idempotent.

    Classic sessions: wraps ``pyspark.errors.exceptions.captured.convert_exception``. Spark Connect
    clients (when pyspark's connect extra is installed): adds the class to the client's mapping of
    server exception classes.
    """
    _install_classic()
    _install_connect()


def _install_classic() -> None:
    from pyspark.errors.exceptions import captured

    if getattr(captured.convert_exception, "_tfspark", False):
        return
    pyspark_convert = captured.convert_exception

    def convert_exception(e):
        if _is_tfspark_exception(e):
            return TFSparkCapturedError(origin=e)
        return pyspark_convert(e)

    convert_exception._tfspark = True  # type: ignore[attr-defined]  # a marker on the installed wrapper
    captured.convert_exception = convert_exception


def _is_tfspark_exception(java_exception) -> bool:
    """Whether ``java_exception`` is a ``TFSparkException``. Never raises, and never calls the JVM in a
    way that can fail: a JVM without tfspark's classes answers False without an exception, since a
    failing py4j call would come back through pyspark's conversion, and so through this function."""
    from py4j.java_gateway import is_instance_of
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is None or java_exception is None or getattr(_conversion, "busy", False):
        return False
    _conversion.busy = True
    try:
        return _jvm_has_tfspark_errors(gateway) and is_instance_of(gateway, java_exception, JVM_EXCEPTION)
    except Exception:  # noqa: BLE001 - a broken gateway: pyspark's own conversion decides
        return False
    finally:
        _conversion.busy = False


_conversion = threading.local()


def _jvm_has_tfspark_errors(gateway) -> bool:
    """Whether the JVM has tfspark's exception class (py4j answers a missing class with a package)."""
    from py4j.java_gateway import JavaClass

    return isinstance(gateway.jvm.tfspark.errors.TFSparkException, JavaClass)


def _install_connect() -> None:
    global _connect_error_class
    try:
        from pyspark.errors.exceptions import connect
    except ImportError:  # no connect extra (grpc): nothing can come from a Connect server
        return
    if _connect_error_class is None:

        class TFSparkConnectError(TFSparkError, connect.SparkConnectGrpcException):
            """A tfspark error raised by a Spark Connect server, as its client receives it."""

        TFSparkConnectError.__module__ = __name__
        _connect_error_class = TFSparkConnectError
    connect.EXCEPTION_CLASS_MAPPING[JVM_EXCEPTION] = _connect_error_class  # type: ignore[assignment]  # a subclass made at run time


class TFSparkCapturedError(TFSparkError, CapturedException):
    """A tfspark error thrown by the JVM of a classic session; ``getCondition()`` reads it there."""
