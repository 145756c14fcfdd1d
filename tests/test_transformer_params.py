"""The Transformer's row-policy params, set from Python: ``onError``, ``errorCol``, ``rowLabelCols``,
``unitOutputsAsArrays``. Each test compares the param's effect with the default's on the same rows
(``linear``: ``features`` float32 [-1,2] -> ``prediction`` float32 [-1,1]; a null ``features`` is a
``NULL_INPUT`` row error under the default ``nullPolicy=error``)."""

from __future__ import annotations

import pytest

from tfspark import TFModelTransformer, TFSparkError

pytestmark = pytest.mark.jvm

LINEAR_1_2 = 2.8381348  # linear@1 on [1, 2], as test_pyspark_api has it


@pytest.fixture
def frame(spark):
    rows = [(1, [1.0, 2.0], "first", "ann"), (2, None, "second", "bob")]
    return spark.createDataFrame(rows, "id INT, xs ARRAY<FLOAT>, note STRING, name STRING")


def test_on_error_null_isolates_the_row_error_in_the_default_error_column(frame):
    with pytest.raises(TFSparkError) as failed:  # the default, onError=fail
        TFModelTransformer(model="linear", inputCol="xs").transform(frame).collect()
    assert failed.value.getCondition() == "NULL_INPUT"

    scorer = TFModelTransformer(model="linear", inputCol="xs", onError="null")
    assert scorer.getOrDefault(scorer.onError) == "null"
    rows = {r.id: r for r in scorer.transform(frame).collect()}
    assert rows[1].prediction == pytest.approx(LINEAR_1_2) and rows[1].prediction_error is None
    assert rows[2].prediction is None
    assert rows[2].prediction_error.errorClass == "NULL_INPUT"
    assert rows[2].prediction_error.message.startswith("[NULL_INPUT]")


def test_error_col_names_the_error_column(frame):
    scored = TFModelTransformer(model="linear", inputCol="xs", onError="null", errorCol="why").transform(frame)
    assert scored.columns == ["id", "xs", "note", "name", "prediction", "why"]
    assert [r.why.errorClass if r.why else None for r in scored.orderBy("id").collect()] == [None, "NULL_INPUT"]


def test_row_label_cols_name_the_failing_row(frame):
    def failing_row(**params) -> str:
        with pytest.raises(TFSparkError) as e:
            TFModelTransformer(model="linear", inputCol="xs", **params).transform(frame).collect()
        assert e.value.getCondition() == "NULL_INPUT"
        return e.value.getMessageParameters()["row"]

    assert failing_row() == 'row {id: 2, xs: null, note: "second"}'  # default: the first three columns
    assert failing_row(rowLabelCols=["name"]) == 'row {name: "bob"}'
    assert failing_row(rowLabelCols=["name", "id"]) == 'row {name: "bob", id: 2}'
    labelled = TFModelTransformer(model="linear", rowLabelCols=["name"])
    assert labelled.getOrDefault(labelled.rowLabelCols) == ["name"]


def test_unit_outputs_as_arrays_keeps_the_unit_dimension(frame):
    valid = frame.where("id = 1")
    scalar = TFModelTransformer(model="linear", inputCol="xs").transform(valid).head().prediction
    array = TFModelTransformer(model="linear", inputCol="xs", unitOutputsAsArrays=True).transform(valid)
    assert scalar == pytest.approx(LINEAR_1_2)
    assert array.schema["prediction"].dataType.simpleString() == "array<float>"
    assert array.head().prediction == pytest.approx([LINEAR_1_2])
