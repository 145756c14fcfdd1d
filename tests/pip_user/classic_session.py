"""What a pyspark user does after ``pip install tfspark``, on a classic (local) session.

Run by tests/test_pip_wheel.py with the python of a clean virtualenv outside the checkout, so it
imports nothing of the checkout. Arguments: the model repository (written by ``python -m tfspark
examples``, as the README has a pip user do), Titanic's test CSV, a work folder.
Writes ``report.json`` there; prints what a user would see.
"""

import json
import sys

from pyspark.ml import Pipeline, PipelineModel
from pyspark.sql import SparkSession

import tfspark
from tfspark import TFModelTransformer, TFSparkError, configure_spark_with_tfspark, tfpredict

models, titanic_csv, workdir = sys.argv[1:4]
builder = SparkSession.builder.master("local[2]").appName("pip-user")
spark = configure_spark_with_tfspark(builder, repository=models).getOrCreate()
passengers = spark.read.csv(titanic_csv, header=True, inferSchema=True)

# tfpredict as a Column: every column of the frame feeds the inputs of the same names
spark.conf.set("spark.tfpredict.nullPolicy", "fill")  # Titanic's CSV has missing ages and cabins
scored = passengers.select("PassengerId", tfpredict("titanic").probability.alias("probability"))
scored.show(3)
by_column = {r.PassengerId: r.probability for r in scored.collect()}

# the README's other two examples: a string input (imdb) and SQL (linear)
reviews = spark.createDataFrame([("A wonderful, moving film.",), ("Dull and far too long.",)], "review STRING")
positive = [r.positive for r in reviews.select(tfpredict("imdb", "review").alias("positive")).collect()]
linear = spark.sql("SELECT tfpredict('linear', array(1.0f, 2.0f)) AS prediction").collect()[0].prediction

# the Transformer, in a Pipeline that is saved and loaded again
scorer = TFModelTransformer(model="titanic", nullPolicy="fill", outputCol="survival")
Pipeline(stages=[scorer]).fit(passengers).write().overwrite().save(f"{workdir}/titanic-pipeline")
loaded = PipelineModel.load(f"{workdir}/titanic-pipeline")
by_pipeline = {
    r.PassengerId: r.probability
    for r in loaded.transform(passengers).select("PassengerId", "survival.probability").collect()
}
spark.conf.unset("spark.tfpredict.nullPolicy")

errors = {}
failing = {
    "analysis": lambda: passengers.select(tfpredict("no_such_model")).collect(),
    "task": lambda: (
        spark.createDataFrame([(None,)], "features ARRAY<FLOAT>").select(tfpredict("linear", "features")).collect()
    ),
}
for when, action in failing.items():
    try:
        action()
        errors[when] = None
    except TFSparkError as e:
        print(f"caught {type(e).__name__}: [{e.getCondition()}] {e.getMessageParameters()}")
        errors[when] = {"condition": e.getCondition(), "parameters": e.getMessageParameters(), "message": str(e)}

report = {
    "tfspark_file": tfspark.__file__,
    "spark_jars": spark.conf.get("spark.jars"),
    "by_column": by_column,
    "imdb_positive": positive,
    "linear_prediction": linear,
    "by_pipeline": by_pipeline,
    "loaded_stage": f"{type(loaded.stages[0]).__module__}.{type(loaded.stages[0]).__name__}",
    "loaded_model": loaded.stages[0].getModel(),
    "errors": errors,
}
with open(f"{workdir}/report.json", "w") as f:
    json.dump(report, f)
spark.stop()
