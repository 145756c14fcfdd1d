# Sourced by bin/demo and bin/test: the environment that runs Spark from the virtualenv.
# pyspark's package directory is a complete local Spark: bin/spark-submit, bin/spark-class, jars/.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.venv/bin:$PATH"                # pyspark's spark-submit needs the venv's python
export SPARK_HOME="$("$ROOT/.venv/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
export SPARK_SCALA_VERSION=2.13
export TFSPARK_NATIVE_CACHE="${TFSPARK_NATIVE_CACHE:-${TFSPARK_CACHE:-$ROOT/.cache}/javacpp}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-1}"
export PYTHONUNBUFFERED=1
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"  # local Spark, tests and their servers stay on loopback
DIST="$ROOT/spark-scala/target/dist"
