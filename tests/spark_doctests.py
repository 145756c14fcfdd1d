"""Runs the doctests of tfspark's pyspark modules in one fresh process with its own session.

Run by tests/test_doctests.py (``python tests/spark_doctests.py OUT.json`` in the checkout root, so
that ``repository="models"`` is the committed models). The first module's doctest starts the
session, as a user's first line would; the others run with ``spark`` and Titanic's ``passengers``.
Writes ``{module: [failed, attempted]}`` to OUT.json.
"""

import doctest
import importlib
import json
import sys
from pathlib import Path

TITANIC_CSV = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "titanic" / "test.csv"
MODULES = ["tfspark", "tfspark.session", "tfspark.functions", "tfspark.ml"]

results = {}
globs: dict = {}
for name in MODULES:
    module = importlib.import_module(name)
    run = doctest.testmod(module, extraglobs=globs, verbose=False, report=True)
    results[name] = [run.failed, run.attempted]
    if not globs:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()
        globs = {"spark": spark, "passengers": spark.read.csv(str(TITANIC_CSV), header=True, inferSchema=True)}
Path(sys.argv[1]).write_text(json.dumps(results))
