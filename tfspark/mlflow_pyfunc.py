"""The ``mlflow.pyfunc`` side of a SavedModel logged by :func:`tfspark.mlflow.log_model`.

MLflow stores this file with the model ("models from code") and runs it when ``mlflow.pyfunc``
loads the model, so it imports only what MLflow and TensorFlow bring: not tfspark. The SavedModel
itself is the model version's artifact ``saved_model``; tfspark's JVM loads that folder directly.

``predict`` takes a pandas DataFrame with one column per input of the signature (a list or array in
each cell for a vector input) and returns one column per output, so the same model scores the same
rows in ``mlflow.pyfunc.spark_udf`` and in tfspark.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class SavedModelSignature(PythonModel):
    """Calls one signature of a SavedModel (``model_config["signature"]``, default ``serving_default``)."""

    def load_context(self, context) -> None:
        import tensorflow as tf

        self._model = tf.saved_model.load(context.artifacts["saved_model"])
        key = (context.model_config or {}).get("signature", "serving_default")
        self._function = self._model.signatures[key]
        self._inputs = self._function.structured_input_signature[1]

    # A DataFrame type hint: MLflow infers no schema from it, and does not warn that the hint is missing.
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        import tensorflow as tf

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        feed = {}
        for key, spec in self._inputs.items():
            if key not in frame.columns:
                columns = ", ".join(map(str, frame.columns))
                raise ValueError(f"input '{key}' of the signature is not a column (columns: {columns})")
            column = frame[key]
            if spec.shape.rank is not None and spec.shape.rank > 1:
                values = np.stack([np.asarray(v) for v in column.to_numpy()])
            else:
                values = column.to_numpy()
            if spec.dtype == tf.string:
                feed[key] = tf.constant(values.astype(object))
            else:
                feed[key] = tf.constant(values.astype(spec.dtype.as_numpy_dtype))
        outputs = self._function(**feed)
        result = {}
        for key, tensor in outputs.items():
            array = tensor.numpy()
            if array.ndim > 1 and all(d == 1 for d in array.shape[1:]):
                array = array.reshape(-1)  # a unit output ([batch, 1]) is one value per row, as tfspark gives it
            result[key] = list(array) if array.ndim > 1 else array
        return pd.DataFrame(result, index=frame.index)


mlflow.models.set_model(SavedModelSignature())
