"""A Spark Connect client after ``pip install 'tfspark[connect]'``: the tfpredict Column, the Transformer in
a Pipeline saved and loaded through the server, both again in bfloat16, and errors.

Run by tests/test_pip_wheel.py with the python of the clean virtualenv. Arguments: the server's
``sc://`` URL, Titanic's test CSV (a path the server reads), a work folder for ``report.json``.
"""

import json
import sys

from pyspark.ml import Pipeline, PipelineModel
from pyspark.sql import SparkSession

from tfspark import TFModelTransformer, TFSparkError, register, tfpredict

url, titanic_csv, workdir = sys.argv[1:4]
spark = SparkSession.builder.remote(url).getOrCreate()
register(spark)  # checks that the server has tfpredict; maps its errors to TFSparkError

passengers = spark.read.csv(titanic_csv, header=True, inferSchema=True)
spark.conf.set("spark.tfpredict.nullPolicy", "fill")
scored = passengers.select("PassengerId", tfpredict("titanic").probability.alias("probability"))
by_column = {r.PassengerId: r.probability for r in scored.collect()}
spark.conf.unset("spark.tfpredict.nullPolicy")

# The Transformer runs on the server (Spark Connect ML finds it by ServiceLoader); its Pipeline is
# saved and loaded through the server, into a folder the server writes.
scorer = TFModelTransformer(model="titanic", nullPolicy="fill", outputCol="survival")
by_transformer = {
    r.PassengerId: r.probability
    for r in scorer.transform(passengers).select("PassengerId", "survival.probability").collect()
}
Pipeline(stages=[scorer]).fit(passengers).write().overwrite().save(f"{workdir}/titanic-pipeline")
loaded = PipelineModel.load(f"{workdir}/titanic-pipeline")
by_pipeline = {
    r.PassengerId: r.probability
    for r in loaded.transform(passengers).select("PassengerId", "survival.probability").collect()
}
loaded_stage = loaded.stages[0]
print(f"loaded {type(loaded_stage).__name__} model={loaded_stage.getOrDefault('model')}")

# bfloat16 through the server (docs/precision.md): the session setting, then the Transformer's param; on a
# CPU without bfloat16 each records its error class. A misspelt precision is a configuration error.
precision = {}
spark.conf.set("spark.tfpredict.nullPolicy", "fill")
for how, value in (("by_column", "bfloat16"), ("misspelt", "bf16")):
    spark.conf.set("spark.tfpredict.precision", value)
    try:
        precision[how] = {r.PassengerId: r.probability for r in scored.collect()}
    except TFSparkError as e:
        precision[how] = {"condition": e.getCondition()}
spark.conf.unset("spark.tfpredict.precision")
spark.conf.unset("spark.tfpredict.nullPolicy")
try:
    low_scorer = TFModelTransformer(model="titanic", nullPolicy="fill", outputCol="survival", precision="bfloat16")
    precision["by_transformer"] = {
        r.PassengerId: r.probability
        for r in low_scorer.transform(passengers).select("PassengerId", "survival.probability").collect()
    }
except TFSparkError as e:
    precision["by_transformer"] = {"condition": e.getCondition()}

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

with open(f"{workdir}/report.json", "w") as f:
    json.dump(
        {
            "session": type(spark).__module__,
            "by_column": by_column,
            "by_transformer": by_transformer,
            "by_pipeline": by_pipeline,
            "errors": errors,
            "precision": precision,
        },
        f,
    )
spark.stop()
