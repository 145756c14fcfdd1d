"""``TFModelTransformer``: the JVM's ``tfspark.ml.TFModelTransformer`` as a pyspark ML Transformer.

It is a :class:`~pyspark.ml.wrapper.JavaTransformer`: the params live on both sides and scoring runs
in the JVM, batched. It is :class:`~pyspark.ml.util.MLWritable` and
:class:`~pyspark.ml.util.MLReadable`, so a ``Pipeline`` or ``PipelineModel`` that holds it saves and
loads, from Python and from Scala alike (the saved stage is the JVM class's own format: the model's
name and repository, not its files). The Python class has the JVM class's module path and name
(``tfspark.ml.TFModelTransformer``), which is how pyspark finds it when it loads a saved pipeline.
"""

from __future__ import annotations

from typing import Any

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import JavaMLReadable, JavaMLWritable
from pyspark.ml.wrapper import JavaTransformer

SINGLE_INPUT = "*"  # the JVM's key for "the signature's only input" in inputMapping


class TFModelTransformer(JavaTransformer, JavaMLReadable["TFModelTransformer"], JavaMLWritable):
    """Appends ``outputCol``: the model's predictions for each row (a struct for several outputs).

    The signature's inputs take the columns of the same names (case-insensitive), or the column of
    ``inputCol`` (a single-input signature), or those of ``inputMapping`` (input -> column). With
    ``onError="null"`` a row the model cannot score gets a null prediction and its error in
    ``errorCol`` (default ``<outputCol>_error``). Analysis errors (unknown model, a column that
    cannot feed an input, an ``outputCol`` or ``errorCol`` that names an existing column:
    ``INVALID_ARGUMENT``) raise :class:`tfspark.errors.TFSparkError` from ``transform``.

    TF string outputs are ``str`` and must be UTF-8 text (``OUTPUT_NOT_UTF8`` otherwise); those
    named in ``binaryOutputs`` (or all, with ``["*"]``) are ``bytes``, exactly as the model returned them.

    >>> scorer = TFModelTransformer(model="titanic", nullPolicy="fill", outputCol="survival")
    >>> scorer.transform(passengers).select("PassengerId", "survival.probability")
    DataFrame[PassengerId: int, probability: float]
    """

    _input_kwargs: dict[str, Any]  # set by pyspark's @keyword_only: the keyword arguments of the call

    model = Param(
        Params._dummy(),
        "model",
        "model in the repository: NAME, NAME@VERSION (default: the latest) or NAME[@VERSION]:SIGNATURE; "
        "or models:/NAME[/VERSION|@ALIAS][:SIGNATURE] (MLflow)",
        TypeConverters.toString,
    )
    repository = Param(
        Params._dummy(),
        "repository",
        "model repository root (default: spark.tfpredict.repository)",
        TypeConverters.toString,
    )
    signature = Param(Params._dummy(), "signature", "signature key", TypeConverters.toString)
    inputMapping = Param(
        Params._dummy(),
        "inputMapping",
        "entries INPUT=COLUMN: the column that feeds each signature input",
        TypeConverters.toListString,
    )
    outputCol = Param(Params._dummy(), "outputCol", "the appended column", TypeConverters.toString)
    batchSize = Param(Params._dummy(), "batchSize", "rows per Session.run", TypeConverters.toInt)
    unitOutputsAsArrays = Param(
        Params._dummy(),
        "unitOutputsAsArrays",
        "give a [-1,1] output as a one-element array instead of a scalar",
        TypeConverters.toBoolean,
    )
    binaryOutputs = Param(
        Params._dummy(),
        "binaryOutputs",
        "string outputs (keys, or * for all) given as binary, their bytes as they are; other string outputs must be "
        "UTF-8 text",
        TypeConverters.toListString,
    )
    nullPolicy = Param(Params._dummy(), "nullPolicy", "error, null or fill", TypeConverters.toString)
    onError = Param(
        Params._dummy(),
        "onError",
        "fail (a row the model cannot score fails the job) or null (a null output and the error in errorCol)",
        TypeConverters.toString,
    )
    precision = Param(
        Params._dummy(),
        "precision",
        "float32, or bfloat16 (matmuls and convolutions in bfloat16 on CPUs that have it; "
        "spark.tfpredict.precision.maxDeviation applies)",
        TypeConverters.toString,
    )
    errorCol = Param(
        Params._dummy(), "errorCol", "with onError=null, the column of each row's error", TypeConverters.toString
    )
    rowLabelCols = Param(
        Params._dummy(),
        "rowLabelCols",
        "columns that name a row in error messages (default: the first columns)",
        TypeConverters.toListString,
    )

    @keyword_only
    def __init__(
        self,
        *,
        model: str | None = None,
        repository: str | None = None,
        signature: str | None = None,
        inputCol: str | None = None,
        inputMapping: dict[str, str] | None = None,
        outputCol: str = "prediction",
        batchSize: int = 1024,
        nullPolicy: str = "error",
        onError: str = "fail",
        errorCol: str | None = None,
        rowLabelCols: list[str] | None = None,
        unitOutputsAsArrays: bool = False,
        binaryOutputs: list[str] | None = None,
        precision: str = "float32",
    ) -> None:
        super().__init__()
        self._java_obj = self._new_java_obj("tfspark.ml.TFModelTransformer", self.uid)
        self._setDefault(
            signature="serving_default",
            inputMapping=[],
            outputCol="prediction",
            batchSize=1024,
            nullPolicy="error",
            onError="fail",
            precision="float32",
            rowLabelCols=[],
            unitOutputsAsArrays=False,
            binaryOutputs=[],
        )
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        model: str | None = None,
        repository: str | None = None,
        signature: str | None = None,
        inputCol: str | None = None,
        inputMapping: dict[str, str] | None = None,
        outputCol: str = "prediction",
        batchSize: int = 1024,
        nullPolicy: str = "error",
        onError: str = "fail",
        errorCol: str | None = None,
        rowLabelCols: list[str] | None = None,
        unitOutputsAsArrays: bool = False,
        binaryOutputs: list[str] | None = None,
        precision: str = "float32",
    ) -> TFModelTransformer:
        """Sets the params given by keyword (the same as the constructor's)."""
        kwargs = dict(self._input_kwargs)
        input_col = kwargs.pop("inputCol", None)
        mapping = kwargs.pop("inputMapping", None)
        if input_col is not None and mapping is not None:
            from tfspark.errors import TFSparkClientError

            raise TFSparkClientError.from_template(
                "INVALID_ARGUMENT",
                what="TFModelTransformer's input",
                got="both inputCol and inputMapping",
                expected="inputCol (a single-input signature) or inputMapping, not both",
            )
        self._set(**{k: v for k, v in kwargs.items() if v is not None})
        if input_col is not None:
            self.setInputCol(input_col)
        if mapping is not None:
            self.setInputMapping(mapping)
        return self

    def setModel(self, value: str) -> TFModelTransformer:
        return self._set(model=value)

    def setRepository(self, value: str) -> TFModelTransformer:
        from tfspark.session import repository_uri

        return self._set(repository=repository_uri(value))

    def setSignature(self, value: str) -> TFModelTransformer:
        return self._set(signature=value)

    def setInputCol(self, value: str) -> TFModelTransformer:
        """The column that feeds the signature's only input."""
        return self._set(inputMapping=[f"{SINGLE_INPUT}={value}"])

    def setInputMapping(self, value: dict[str, str]) -> TFModelTransformer:
        """Input key -> column, for each input whose column has another name."""
        return self._set(inputMapping=sorted(f"{k}={v}" for k, v in value.items()))

    def setOutputCol(self, value: str) -> TFModelTransformer:
        return self._set(outputCol=value)

    def setBatchSize(self, value: int) -> TFModelTransformer:
        return self._set(batchSize=value)

    def setNullPolicy(self, value: str) -> TFModelTransformer:
        return self._set(nullPolicy=value)

    def setOnError(self, value: str) -> TFModelTransformer:
        return self._set(onError=value)

    def setPrecision(self, value: str) -> TFModelTransformer:
        """``float32`` or ``bfloat16`` (see docs/precision.md); unset, ``spark.tfpredict.precision``."""
        return self._set(precision=value)

    def setErrorCol(self, value: str) -> TFModelTransformer:
        return self._set(errorCol=value)

    def setRowLabelCols(self, value: list[str]) -> TFModelTransformer:
        return self._set(rowLabelCols=value)

    def setUnitOutputsAsArrays(self, value: bool) -> TFModelTransformer:
        return self._set(unitOutputsAsArrays=value)

    def setBinaryOutputs(self, value: list[str]) -> TFModelTransformer:
        """String outputs to give as ``bytes`` (``BinaryType``), or ``["*"]`` for all of them."""
        return self._set(binaryOutputs=value)

    def getModel(self) -> str:
        return self.getOrDefault(self.model)

    def getInputMapping(self) -> dict[str, str]:
        return dict(entry.split("=", 1) for entry in self.getOrDefault(self.inputMapping))

    def getOutputCol(self) -> str:
        return self.getOrDefault(self.outputCol)
