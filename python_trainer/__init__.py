"""The book's workflows and the trainer's command line: trains the book's models and exports them
through the model toolkit (:mod:`tfspark.toolkit`: export, check, golden vectors, warm-up, sample inputs).

Training never imports Spark. The JVM half (``spark-scala/``) serves the exported files; the
pyspark side is the :mod:`tfspark` package (jars, session set-up, the tfpredict Column, the Transformer).
"""

__version__ = "0.1.0"
