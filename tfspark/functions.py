"""``tfpredict`` as a pyspark Column, for the DataFrame API of classic pyspark and of Spark Connect."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from tfspark.errors import TFSparkClientError


def tfpredict(model: str, *cols: Column | str) -> Column:
    """The column of ``model``'s predictions: SQL's ``tfpredict(model, ...)``, batched in the JVM.

    ``model`` is ``NAME``, ``NAME@VERSION`` or ``NAME[@VERSION]:SIGNATURE`` in the session's model
    repository, or ``models:/NAME[/VERSION|@ALIAS][:SIGNATURE]`` in the MLflow registry
    (``spark.tfpredict.mlflow.trackingUri``). The inputs:

    - no column: every column of the DataFrame, as SQL's ``struct(*)``; the signature's inputs take
      the columns of the same names (case-insensitive), the others are ignored;
    - one column: feeds a single-input signature, or, if it is a struct, its fields feed the inputs
      by name;
    - several columns: a struct of them, fed by name.

    SQL reads the same arguments the same way: ``tfpredict('m', a, b)`` is ``tfpredict('m', struct(a, b))``.
    The result is the output's value, or a struct of the outputs when the signature has several.
    It is built on :func:`pyspark.sql.functions.call_function`, so it works on classic sessions and
    on Spark Connect clients alike; the session (or the Connect server) must have tfspark (see
    :func:`tfspark.configure_spark_with_tfspark`). Errors (an unknown model, a column that cannot
    feed an input) are raised as :class:`tfspark.errors.TFSparkError` when the query is analysed.

    >>> passengers.select("PassengerId", tfpredict("titanic").probability.alias("probability"))
    DataFrame[PassengerId: int, probability: float]
    >>> reviews = spark.createDataFrame([("A wonderful, moving film.",)], "review STRING")
    >>> reviews.withColumn("positive", tfpredict("imdb", "review"))
    DataFrame[review: string, positive: float]
    """
    if not isinstance(model, str):
        raise TFSparkClientError.from_template(
            "INVALID_ARGUMENT",
            what="tfpredict's first argument",
            got=repr(model),
            expected="the model, a string such as 'titanic' or 'titanic@1:features'; the columns come after it",
        )
    _check_active_session()
    if not cols:
        argument = F.struct(F.col("*"))
    elif len(cols) == 1:
        argument = F.col(cols[0]) if isinstance(cols[0], str) else cols[0]
    else:
        argument = F.struct(*cols)
    return F.call_function("tfpredict", F.lit(model), argument)


def _check_active_session() -> None:
    """Raises ``SESSION_WITHOUT_TFSPARK`` now, with the fix, when the active classic session cannot run
    ``tfpredict`` (its JVM lacks tfspark's jar, or nobody registered the function): otherwise the
    query would fail later with Spark's bare ``UNRESOLVED_ROUTINE``. A Spark Connect client cannot
    tell without a round trip: its server answers when the query is analysed."""
    from pyspark.sql import SparkSession

    from tfspark.session import _jvm_has_tfspark, _without_tfspark, is_connect_session

    spark = SparkSession.getActiveSession()
    if spark is None or is_connect_session(spark):
        return
    if not _jvm_has_tfspark(spark._jvm):
        raise _without_tfspark()
    if not spark.catalog.functionExists("tfpredict"):
        raise TFSparkClientError(
            "SESSION_WITHOUT_TFSPARK",
            "this session has tfspark's jar but no tfpredict function: call tfspark.register(spark) once, "
            "or build the session with configure_spark_with_tfspark(SparkSession.builder)",
        )
