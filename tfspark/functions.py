"""``tfpredict`` as a pyspark Column, for the DataFrame API of classic pyspark and of Spark Connect."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from tfspark.errors import TFSparkClientError


def tfpredict(model: str, *cols: Column | str) -> Column:
    """The column of ``model``'s predictions: SQL's ``tfpredict(model, ...)``, batched in the JVM.

    ``model`` is ``NAME``, ``NAME@VERSION`` or ``NAME[@VERSION]:SIGNATURE`` in the session's model
    repository. The inputs:

    - no column: every column of the DataFrame, as SQL's ``struct(*)``; the signature's inputs take
      the columns of the same names (case-insensitive), the others are ignored;
    - one column: feeds a single-input signature, or, if it is a struct, its fields feed the inputs
      by name;
    - several columns: a struct of them, fed by name.

    The result is the output's value, or a struct of the outputs when the signature has several.
    It is built on :func:`pyspark.sql.functions.call_function`, so it works on classic sessions and
    on Spark Connect clients alike; the session (or the Connect server) must have tfspark (see
    :func:`tfspark.configure_spark_with_tfspark`). Errors (an unknown model, a column that cannot
    feed an input) are raised as :class:`tfspark.errors.TFSparkError` when the query is analysed.

    >>> df.select("PassengerId", tfpredict("titanic").probability)  # doctest: +SKIP
    >>> reviews.withColumn("positive", tfpredict("imdb", "review"))  # doctest: +SKIP
    """
    if not isinstance(model, str):
        raise TFSparkClientError(
            "INVALID_ARGUMENT",
            f"tfpredict's first argument is the model, a string such as 'titanic' or 'titanic@1:features'; "
            f"got {model!r}. The columns come after it",
            argument="model",
            got=repr(model),
        )
    if not cols:
        argument = F.struct(F.col("*"))
    elif len(cols) == 1:
        argument = F.col(cols[0]) if isinstance(cols[0], str) else cols[0]
    else:
        argument = F.struct(*cols)
    return F.call_function("tfpredict", F.lit(model), argument)
