"""tfspark for pyspark: TensorFlow SavedModels scored inside Spark's JVM, batched.

>>> from pyspark.sql import SparkSession
>>> from tfspark import configure_spark_with_tfspark, tfpredict
>>> spark = configure_spark_with_tfspark(SparkSession.builder, repository="models").getOrCreate()
>>> spark.sql("SELECT tfpredict('linear', array(1.0f, 2.0f)) AS prediction").head().prediction  # doctest: +ELLIPSIS
2.838...

- :func:`configure_spark_with_tfspark`: a new session with tfspark (jars, SQL extension, repository);
- :func:`register`: tfspark in a session that is already running with the jars (or a Connect client);
- :func:`tfpredict`: the Column function (classic pyspark and Spark Connect);
- :class:`TFModelTransformer` (``tfspark.ml``): the ML Transformer, saved and loaded in Pipelines;
- :class:`TFSparkError` (``tfspark.errors``): every tfspark error, with ``getCondition()``.
"""

from pathlib import Path

from tfspark.errors import TFSparkError
from tfspark.functions import tfpredict
from tfspark.ml import TFModelTransformer
from tfspark.session import configure_spark_with_tfspark, register

# The one version (tfspark/VERSION): sbt and the wheel read it too.
__version__ = Path(__file__).with_name("VERSION").read_text(encoding="ascii").strip()
__all__ = ["TFModelTransformer", "TFSparkError", "configure_spark_with_tfspark", "register", "tfpredict"]
