"""Putting tfspark into a pyspark session: a new one (:func:`configure_spark_with_tfspark`) or a running
one (:func:`register`).

Either way ``tfpredict`` runs batched in the JVM (the ``BatchEvalTF`` operator), with no Python
worker in the hot path, and tfspark's JVM errors reach Python as :class:`tfspark.errors.TFSparkError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tfspark import jars as tfspark_jars
from tfspark.errors import TFSparkClientError, install_exception_conversion

EXTENSION = "tfspark.sql.TFSparkExtensions"
NATIVE_LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
QUIET_NATIVE_LOG_LEVEL = "2"  # TF's C++ warnings and errors only; 0 brings back its INFO lines


def configure_spark_with_tfspark(
    builder,
    *,
    repository: str | os.PathLike | None = None,
    default_model: str | None = None,
    native_cache_dir: str | os.PathLike | None = None,
    extra_jars: tuple[str | os.PathLike, ...] = (),
    mlflow_tracking_uri: str | None = None,
):
    """Returns ``builder`` set up for tfspark; call ``getOrCreate()`` on it.

    It adds tfspark's jar and TF Java's native jar to ``spark.jars`` (the native jar is found or
    fetched once, see :mod:`tfspark.jars`), tfspark's SQL extension to ``spark.sql.extensions``
    (both appended to what the builder already has), and, when given, the model repository
    (``spark.tfpredict.repository``: a local path, made absolute, or a Hadoop URI such as
    ``hdfs://nn/models``), the default model, JavaCPP's folder for TF's unpacked native library, and
    the MLflow tracking server whose registry ``models:/`` references name
    (``spark.tfpredict.mlflow.trackingUri``; without it, ``MLFLOW_TRACKING_URI`` of the driver).

    Quiet by default: TF's C++ INFO lines are off (``TF_CPP_MIN_LOG_LEVEL=2`` for the JVMs that this
    Python process starts, and for executors) unless ``TF_CPP_MIN_LOG_LEVEL`` is already set; set it
    to ``0`` before calling this to see them. Spark's own log level is pyspark's (``WARN``);
    ``spark.sparkContext.setLogLevel("INFO")`` brings its INFO lines back.

    Raises :class:`TFSparkClientError`: ``SESSION_WITHOUT_TFSPARK`` when this Python process already
    runs a Spark session without tfspark's jar (``getOrCreate()`` would silently return that one;
    stop it first), ``JAR_NOT_FOUND`` or ``NATIVE_JAR_DOWNLOAD_FAILED`` from :mod:`tfspark.jars`.

    >>> from pyspark.sql import SparkSession
    >>> from tfspark import configure_spark_with_tfspark
    >>> spark = configure_spark_with_tfspark(SparkSession.builder, repository="models").getOrCreate()
    >>> spark.conf.get("spark.sql.extensions")
    'tfspark.sql.TFSparkExtensions'
    """
    _refuse_running_session_without_tfspark()
    os.environ.setdefault(NATIVE_LOG_LEVEL_ENV, QUIET_NATIVE_LOG_LEVEL)  # the driver JVM inherits it
    conf = spark_conf(
        repository=repository,
        default_model=default_model,
        native_cache_dir=native_cache_dir,
        extra_jars=extra_jars,
        mlflow_tracking_uri=mlflow_tracking_uri,
        existing=getattr(builder, "_options", {}),
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    install_exception_conversion()
    return builder


def spark_conf(
    *,
    repository: str | os.PathLike | None = None,
    default_model: str | None = None,
    native_cache_dir: str | os.PathLike | None = None,
    extra_jars: tuple[str | os.PathLike, ...] = (),
    mlflow_tracking_uri: str | None = None,
    existing: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The Spark configuration that :func:`configure_spark_with_tfspark` adds, as a dict.

    For what takes ``--conf`` instead of a builder (``spark-submit``, the Thrift and Spark Connect
    servers). ``existing`` is the configuration it extends: its ``spark.jars`` and
    ``spark.sql.extensions`` are kept, tfspark's appended. Raises what :func:`tfspark.jars.jars` raises.
    """
    existing = existing or {}
    conf = {
        "spark.jars": _append(existing.get("spark.jars"), tfspark_jars.jars(), *extra_jars),
        "spark.sql.extensions": _append(existing.get("spark.sql.extensions"), EXTENSION),
    }
    if repository is not None:
        conf["spark.tfpredict.repository"] = repository_uri(repository)
    if default_model is not None:
        conf["spark.tfpredict.defaultModel"] = default_model
    if native_cache_dir is not None:
        conf["spark.tfpredict.nativeCacheDir"] = str(Path(native_cache_dir).resolve())
    if mlflow_tracking_uri is not None:
        conf["spark.tfpredict.mlflow.trackingUri"] = mlflow_tracking_uri
    executor_env = f"spark.executorEnv.{NATIVE_LOG_LEVEL_ENV}"
    if executor_env not in existing:
        conf[executor_env] = os.environ.get(NATIVE_LOG_LEVEL_ENV, QUIET_NATIVE_LOG_LEVEL)
    return conf


def register(spark) -> None:
    """Puts ``tfpredict`` and its batched execution into ``spark``, a session that is already running.

    A classic session must have been started with tfspark's jars on its classpath (``spark.jars``;
    :func:`configure_spark_with_tfspark` does that, and then this call is not needed). On a Spark
    Connect client it checks that the server has ``tfpredict`` (start the server with the jars and
    the extension, see the README). Idempotent.

    Raises :class:`TFSparkClientError` ``SESSION_WITHOUT_TFSPARK`` when the JVM or the server lacks
    tfspark, saying how to start one that has it.
    """
    if is_connect_session(spark):
        if not spark.sql("SHOW FUNCTIONS LIKE 'tfpredict'").collect():
            raise TFSparkClientError(
                "SESSION_WITHOUT_TFSPARK",
                "the Spark Connect server has no tfpredict function: start it with tfspark's jars and "
                f"--conf spark.sql.extensions={EXTENSION} (the jars: python -m tfspark jars)",
            )
        install_exception_conversion()
        return
    if not _jvm_has_tfspark(spark._jvm):
        raise _without_tfspark()  # pyspark's error conversion is left as it was
    install_exception_conversion()
    spark._jvm.tfspark.sql.TFSparkSQL.register(spark._jsparkSession)


def is_connect_session(spark) -> bool:
    """Whether ``spark`` is a Spark Connect client session (no JVM in this process)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def repository_uri(repository: str | os.PathLike) -> str:
    """A repository as ``spark.tfpredict.repository`` wants it: URIs as given, local paths absolute."""
    text = str(repository)
    if "://" in text or text.startswith("file:"):
        return text
    return str(Path(text).resolve())


def _append(current: str | None, *values) -> str:
    flat = [str(v) for value in values for v in (value if isinstance(value, list | tuple) else [value])]
    existing = [v.strip() for v in (current or "").split(",") if v.strip()]
    return ",".join(existing + [v for v in flat if v not in existing])


def _refuse_running_session_without_tfspark() -> None:
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is not None and not _jvm_has_tfspark(context._jvm):
        raise _without_tfspark()


def _jvm_has_tfspark(jvm) -> bool:
    from py4j.java_gateway import JavaClass

    return isinstance(jvm.tfspark.sql.TFSparkSQL, JavaClass)


def _without_tfspark() -> TFSparkClientError:
    return TFSparkClientError(
        "SESSION_WITHOUT_TFSPARK",
        "this Python process already runs a Spark session whose JVM was started without tfspark's jar, "
        "and a JVM cannot take it afterwards (getOrCreate() would return that session unchanged). "
        "Call spark.stop() and build the session again with configure_spark_with_tfspark(SparkSession.builder)",
    )
