"""``tfpredict`` in Structured Streaming: a JSON file source scored into a Parquet file sink.

The streaming plan is batched (``BatchEvalTF``), and a query restarted from its checkpoint writes
each input row exactly once, with the numbers a batch query over the whole input gives.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

pytestmark = [pytest.mark.jvm, pytest.mark.servers]

SCHEMA = "id BIGINT, features ARRAY<FLOAT>"
SELECT = ["id", "features", "tfpredict('linear', features) AS prediction"]
FILES = 6  # three before the first run, three before the restart
ROWS_PER_FILE = 25
WAIT_S = 300


def rows_of_file(index: int) -> list[dict]:
    """Deterministic rows: ids unique across files, features spread over [-50, 50]."""
    rng = random.Random(index)
    first = index * ROWS_PER_FILE
    return [
        {"id": first + i, "features": [round(rng.uniform(-50, 50), 3), round(rng.uniform(-50, 50), 3)]}
        for i in range(ROWS_PER_FILE)
    ]


def drop_files(input_dir: Path, staging: Path, indices: range) -> None:
    """Writes each file beside the input folder, then moves it in whole (as a producer should)."""
    for index in indices:
        staged = staging / f"part-{index:03d}.json"
        staged.write_text("".join(json.dumps(row) + "\n" for row in rows_of_file(index)), encoding="utf-8")
        staged.rename(input_dir / staged.name)


def start(spark, input_dir: Path, sink: Path, checkpoint: Path):
    """The streaming query: every file not yet committed in the checkpoint, one file per micro-batch."""
    scored = spark.readStream.schema(SCHEMA).option("maxFilesPerTrigger", 1).json(str(input_dir)).selectExpr(*SELECT)
    return (
        scored.writeStream.format("parquet")
        .option("path", str(sink))
        .option("checkpointLocation", str(checkpoint))
        .queryName("tfpredict_stream")
        .trigger(availableNow=True)
        .start()
    )


def run_to_end(query) -> dict:
    """Waits for an ``availableNow`` query to finish; returns the physical plan of its last micro-batch,
    its micro-batches as (batch id, input rows), and its query and run ids."""
    try:
        assert query.awaitTermination(WAIT_S), f"the streaming query did not finish within {WAIT_S} s"
        assert query.exception() is None, query.exception()
        plan = query._jsq.explainInternal(False)  # the plan of the last micro-batch (query.explain() prints it)
        batches = [(p["batchId"], p["numInputRows"]) for p in query.recentProgress]
        return {"plan": plan, "batches": batches, "id": query.id, "run": query.runId}
    finally:
        query.stop()


def by_id(df) -> dict:
    return {r["id"]: (r["features"], r["prediction"]) for r in df.collect()}


def test_streaming_tfpredict_is_batched_and_exactly_once_across_a_restart(spark, tmp_path):
    input_dir, staging = tmp_path / "input", tmp_path / "staging"
    sink, checkpoint = tmp_path / "sink", tmp_path / "checkpoint"
    input_dir.mkdir()
    staging.mkdir()
    half = FILES // 2

    drop_files(input_dir, staging, range(half))
    first = run_to_end(start(spark, input_dir, sink, checkpoint))
    assert "BatchEvalTF [linear/1:serving_default]" in first["plan"], first["plan"]
    assert first["batches"] == [(b, ROWS_PER_FILE) for b in range(half)]  # one file per micro-batch
    assert spark.read.parquet(str(sink)).count() == half * ROWS_PER_FILE

    # The restart: same checkpoint and sink, three new files. Only they are read.
    drop_files(input_dir, staging, range(half, FILES))
    second = run_to_end(start(spark, input_dir, sink, checkpoint))
    assert "BatchEvalTF [linear/1:serving_default]" in second["plan"], second["plan"]
    assert second["batches"] == [(b, ROWS_PER_FILE) for b in range(half, FILES)]
    assert second["id"] == first["id"]  # the id kept in the checkpoint: the same query, resumed
    assert second["run"] != first["run"]

    # The sink (read through its _spark_metadata log) holds every input row exactly once.
    streamed = spark.read.parquet(str(sink))
    assert streamed.schema.simpleString() == "struct<id:bigint,features:array<float>,prediction:float>"
    ids = [r["id"] for r in streamed.select("id").collect()]
    assert sorted(ids) == list(range(FILES * ROWS_PER_FILE))

    # A crash after the sink wrote the last micro-batch but before the checkpoint committed it: the
    # restart runs that micro-batch again, and the sink, whose log already holds it, skips it: no row
    # is read or written twice.
    last = FILES - 1
    (checkpoint / "commits" / str(last)).unlink()
    (checkpoint / "commits" / f".{last}.crc").unlink(missing_ok=True)
    replay = run_to_end(start(spark, input_dir, sink, checkpoint))
    assert replay["batches"] == [(last, 0)]
    streamed = spark.read.parquet(str(sink))
    assert sorted(r["id"] for r in streamed.select("id").collect()) == list(range(FILES * ROWS_PER_FILE))

    # Its numbers are those of a batch query over the whole input, bit for bit, joined on id.
    batch = spark.read.schema(SCHEMA).json(str(input_dir)).selectExpr(*SELECT)
    assert "BatchEvalTF [linear/1:serving_default]" in batch._jdf.queryExecution().executedPlan().toString()
    expected = by_id(batch)
    got = by_id(streamed)
    assert len(expected) == FILES * ROWS_PER_FILE
    assert got == expected
    assert len({p for _, p in got.values()}) == FILES * ROWS_PER_FILE  # real, distinct numbers
