"""tfspark's Python half: trains the book's models and exports SavedModels with named signatures.

Training never imports Spark. The JVM half (``spark-scala/``) serves the exported files; the
pyspark side is the :mod:`tfspark` package (jars, session set-up, the tfpredict Column, the Transformer).
"""

__version__ = "0.1.0"
