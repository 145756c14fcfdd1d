"""JFR recordings of the harness's paths: one file per selected path, of its timed runs only.

The harness runs every path in one driver JVM (Spark ``local[2]`` started by pyspark), so a recording
started with the JVM would mix all paths. Instead each selected path gets its own ``jdk.jfr.Recording``
(JFR's ``profile`` settings), started through py4j after the path's warm-up and dumped to
``DIR/<model>-<label>.jfr`` after its timed runs (``label``: the path's letter, ``d``, ``i2``, ``g-pq``).
The paths that time themselves in the JVM ((a), (a0), (a1)) are recorded over their whole call: collecting
the rows, loading the model and the warm-up pass are in the recording too.
Deep Spark stacks need more than JFR's default 64 frames: :data:`JVM_OPTIONS` must reach the driver JVM
when it starts (``spark.driver.extraJavaOptions``), and :meth:`JfrRecorder.check_jvm_options` fails if it
did not. ``bench/jfr_top.py FILE`` prints the top frames of a recording.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STACK_DEPTH = 256
JVM_OPTIONS = f"-XX:FlightRecorderOptions=stackdepth={STACK_DEPTH}"


def path_label(path: str) -> str:
    """``"(g-pq) PySpark ..."`` -> ``"g-pq"``: the letter a path is known by."""
    return path[1 : path.index(")")] if path.startswith("(") and ")" in path else path


class JfrRecorder:
    """Records the paths whose label is in ``labels`` (every path when ``labels`` is empty) into ``directory``."""

    def __init__(self, spark, directory: Path, labels: set[str]) -> None:
        self.spark, self.directory, self.labels = spark, directory, labels
        self.files: list[Path] = []
        directory.mkdir(parents=True, exist_ok=True)

    def check_jvm_options(self) -> None:
        """Raises ``RuntimeError`` when the driver JVM was started without :data:`JVM_OPTIONS`."""
        args = list(self.spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
        if JVM_OPTIONS not in args:
            raise RuntimeError(f"--jfr: the driver JVM was started without {JVM_OPTIONS} (its options: {args})")

    @contextmanager
    def recording(self, model: str, path: str) -> Iterator[None]:
        """Records what runs inside the block when the path is selected; dumps it on success."""
        label = path_label(path)
        if self.labels and label not in self.labels:
            yield
            return
        jfr = self.spark._jvm.jdk.jfr
        recording = jfr.Recording(jfr.Configuration.getConfiguration("profile"))
        recording.setName(f"{model} {path}")
        recording.start()
        try:
            yield
            recording.stop()
            target = self.directory / f"{model}-{label}.jfr"
            recording.dump(self.spark._jvm.java.io.File(str(target)).toPath())
            self.files.append(target)
            print(f"  jfr: {target}", flush=True)
        finally:
            recording.close()
