"""pyspark access to tfspark's JVM engine through py4j: no Python worker in the hot path.

Examples
--------
>>> from python_trainer.spark_bridge import build_session
>>> spark = build_session(repository="models", default_model="linear")  # doctest: +SKIP
>>> spark.sql("SELECT tfpredict(array(1.0f, 2.0f)) AS prediction").show()  # doctest: +SKIP

The session gets the assembled jar and TF Java's native jar (``spark.jars``), tfspark's SQL
extension, and the model repository. Build the jars with ``./sbt sparkScala/dist``.
"""

from __future__ import annotations

import os
from pathlib import Path

from python_trainer.data_dir import REPO_ROOT
from python_trainer.errors import TrainerError

DIST_DIR = REPO_ROOT / "spark-scala" / "target" / "dist"
ASSEMBLY_JAR = "tfspark-assembly.jar"
NATIVE_JAR_GLOB = "tensorflow-core-native-*-linux-x86_64.jar"
NATIVE_CACHE = REPO_ROOT / ".cache" / "javacpp"


class JarNotFoundError(TrainerError, FileNotFoundError):
    """The assembled tfspark jar (or TF Java's native jar) is not where it was looked for."""

    error_class = "JAR_NOT_FOUND"


def find_jars(dist_dir: str | os.PathLike | None = None) -> list[Path]:
    """Returns ``[tfspark-assembly.jar, tensorflow-core-native-...-linux-x86_64.jar]``.

    Looks in ``dist_dir``, else ``$TFSPARK_DIST``, else ``spark-scala/target/dist``. Raises
    :class:`JarNotFoundError` naming the folder and the command that builds the jars.
    """
    folder = Path(dist_dir or os.environ.get("TFSPARK_DIST") or DIST_DIR)
    assembly = folder / ASSEMBLY_JAR
    natives = sorted(folder.glob(NATIVE_JAR_GLOB))
    if not assembly.is_file() or not natives:
        raise JarNotFoundError(
            f"expected {ASSEMBLY_JAR} and {NATIVE_JAR_GLOB} in {folder}; build them with ./sbt sparkScala/dist",
            expected=[ASSEMBLY_JAR, NATIVE_JAR_GLOB],
            looked_at=str(folder),
        )
    return [assembly, natives[-1]]


def spark_conf(
    *,
    repository: str | os.PathLike = REPO_ROOT / "models",
    default_model: str | None = None,
    batch_size: int | None = None,
    dist_dir: str | os.PathLike | None = None,
    native_cache: str | os.PathLike = NATIVE_CACHE,
    extra_jars: tuple[str | os.PathLike, ...] = (),
) -> dict[str, str]:
    """The Spark configuration that puts tfspark into a new pyspark session.

    ``extra_jars`` are added to ``spark.jars`` (the benchmark harness adds ``tfspark-extras.jar``).
    """
    jars = ",".join(str(j) for j in [*find_jars(dist_dir), *extra_jars])
    cache_opt = f"-Dorg.bytedeco.javacpp.cachedir={Path(native_cache).resolve()}"
    conf = {
        "spark.jars": jars,
        "spark.sql.extensions": "tfspark.sql.TFSparkExtensions",
        "spark.tfpredict.repository": str(Path(repository).resolve()),
        "spark.driver.extraJavaOptions": cache_opt,
        "spark.executor.extraJavaOptions": cache_opt,
    }
    if default_model:
        conf["spark.tfpredict.defaultModel"] = default_model
    if batch_size:
        conf["spark.tfpredict.batchSize"] = str(batch_size)
    return conf


def build_session(*, master: str = "local[2]", app_name: str = "tfspark", **conf_kwargs):
    """Starts (or returns) a pyspark session configured by :func:`spark_conf`.

    The JVM starts with the session, so call this before any other pyspark session exists.
    """
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in spark_conf(**conf_kwargs).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def transformer(
    spark,
    model: str,
    *,
    input_col: str | None = None,
    input_mapping: dict[str, str] | None = None,
    output_col: str = "prediction",
    signature: str = "serving_default",
    batch_size: int = 1024,
    null_policy: str = "error",
    repository: str | os.PathLike | None = None,
):
    """The JVM ``tfspark.ml.TFModelTransformer``, wrapped as a pyspark ML ``Transformer``.

    Inputs come from the columns named like the signature's inputs, or from ``input_col`` (a
    single-input signature) or ``input_mapping`` (input key -> column). It can sit in a pyspark
    ``Pipeline``; scoring runs in the JVM, batched.

    Examples
    --------
    >>> scorer = transformer(spark, "titanic", null_policy="fill", output_col="survival")  # doctest: +SKIP
    >>> scorer.transform(passengers).select("survival.probability").show()  # doctest: +SKIP
    """
    from pyspark.ml.wrapper import JavaTransformer

    class TFModelTransformer(JavaTransformer):
        """pyspark face of ``tfspark.ml.TFModelTransformer`` (its params live on the JVM object)."""

        def __init__(self, java_obj) -> None:
            super().__init__(java_obj)

    jvm = spark._jvm.tfspark.ml.TFModelTransformer()
    jvm.setModel(model).setSignature(signature).setOutputCol(output_col).setBatchSize(batch_size)
    jvm.setNullPolicy(null_policy)
    if repository is not None:
        jvm.setRepository(str(Path(repository).resolve()))
    if input_col is not None:
        jvm.setInputCol(input_col)
    if input_mapping:
        jvm.setInputMapping(dict(input_mapping))
    return TFModelTransformer(jvm)


def register(spark) -> None:
    """Registers ``tfpredict`` in a running session that was started without the extension.

    It also installs the batched execution on that session (``BatchEvalTF``), so calls are not
    evaluated row by row. Its JVM must already have the jars on its classpath (``spark.jars`` at
    start).
    """
    spark._jvm.tfspark.sql.TFSparkSQL.register(spark._jsparkSession)
