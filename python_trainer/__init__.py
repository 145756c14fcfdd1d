"""tfspark's Python half: trains the book's models and exports SavedModels with named signatures.

Training never imports Spark. The JVM half (``spark-scala/``) serves the exported files; the
:mod:`python_trainer.spark_bridge` module is the only place that talks to a pyspark session.
"""

__version__ = "0.1.0"
