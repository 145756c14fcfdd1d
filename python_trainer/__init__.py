"""The book's workflows and the trainer's command line: trains the book's models and exports them
through the model toolkit (:mod:`tfspark.toolkit`: export, check, golden vectors, warm-up, sample inputs).

Training never imports Spark. The JVM half (``spark-scala/``) serves the exported files; the
pyspark side is the :mod:`tfspark` package (jars, session set-up, the tfpredict Column, the Transformer).
"""

from pathlib import Path

# tfspark's one version (tfspark/VERSION, beside this package in the checkout and in the wheel), read
# as a file: training never imports tfspark's pyspark side.
__version__ = (Path(__file__).resolve().parent.parent / "tfspark" / "VERSION").read_text(encoding="ascii").strip()
