"""Where tfspark's two jars come from.

- ``tfspark-assembly.jar`` (tfspark and TF Java's Java classes, about 11 MB) is inside this package,
  in ``tfspark/lib/``. In a source checkout (``pip install -e .``) it is the one that
  ``./sbt sparkScala/dist`` builds in ``spark-scala/target/dist/``.
- TF Java's native library, ``tensorflow-core-native-<version>-<platform>.jar`` (160 MB), is not in
  the wheel. It is looked for, in order, at ``$TFSPARK_NATIVE_JAR``, in the checkout's
  ``spark-scala/target/dist/``, in Maven's local repository (``~/.m2/repository`` or the
  settings' ``<localRepository>``) and in tfspark's user cache (``$TFSPARK_JAR_CACHE``, else
  ``$XDG_CACHE_HOME/tfspark/jars``, else ``~/.cache/tfspark/jars``). If it is in none of them it is
  fetched once from Maven Central, or from the mirror of Central in ``~/.m2/settings.xml``, into
  that cache.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from tfspark import maven
from tfspark.errors import TFSparkClientError

# The TF Java release the jar is built against (TF Java 1.1.0 runs TF 2.18): tfspark/TF_JAVA_VERSION,
# the one file that build.sbt pins it in too.
TF_JAVA_VERSION = Path(__file__).with_name("TF_JAVA_VERSION").read_text(encoding="ascii").strip()
ASSEMBLY_JAR = "tfspark-assembly.jar"
PACKAGE_LIB = Path(__file__).resolve().parent / "lib"
CHECKOUT_DIST = Path(__file__).resolve().parent.parent / "spark-scala" / "target" / "dist"
_IN_CHECKOUT = (CHECKOUT_DIST.parent.parent.parent / "build.sbt").is_file()  # pip install -e of a checkout

_PLATFORMS = {
    ("Linux", "x86_64"): "linux-x86_64",
    ("Linux", "aarch64"): "linux-arm64",
    ("Darwin", "arm64"): "macosx-arm64",
    ("Windows", "AMD64"): "windows-x86_64",
}


def native_classifier() -> str:
    """TF Java's classifier for this machine (``linux-x86_64``, ``macosx-arm64``, ...)."""
    key = (platform.system(), platform.machine())
    if key not in _PLATFORMS:
        raise TFSparkClientError(
            "UNSUPPORTED_PLATFORM",
            f"TF Java {TF_JAVA_VERSION} has no native library for {key[0]} {key[1]}; "
            f"it has {', '.join(sorted(_PLATFORMS.values()))}",
            platform=f"{key[0]} {key[1]}",
        )
    return _PLATFORMS[key]


def native_artifact() -> maven.Artifact:
    """The Maven coordinates of TF Java's native jar for this machine."""
    return maven.Artifact("org.tensorflow", "tensorflow-core-native", TF_JAVA_VERSION, native_classifier())


def user_cache() -> Path:
    """tfspark's folder for fetched jars."""
    if os.environ.get("TFSPARK_JAR_CACHE"):
        return Path(os.environ["TFSPARK_JAR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tfspark" / "jars"


def assembly_jar() -> Path:
    """``tfspark-assembly.jar``: the checkout's build when running from a checkout, else the wheel's copy.

    Raises :class:`TFSparkClientError` ``JAR_NOT_FOUND`` naming where it looked and how to build it.
    """
    candidates = ([CHECKOUT_DIST / ASSEMBLY_JAR] if _IN_CHECKOUT else []) + [PACKAGE_LIB / ASSEMBLY_JAR]
    for jar in candidates:
        if jar.is_file():
            return jar
    raise TFSparkClientError(
        "JAR_NOT_FOUND",
        f"{ASSEMBLY_JAR} is in none of {', '.join(str(c.parent) for c in candidates)}. "
        + (
            "In a source checkout, build it with ./sbt sparkScala/dist"
            if _IN_CHECKOUT
            else "This installation of tfspark is incomplete: reinstall the wheel"
        ),
        expected=ASSEMBLY_JAR,
        looked_at=", ".join(str(c) for c in candidates),
    )


def native_jar(*, fetch: bool = True) -> Path:
    """TF Java's native jar for this machine, found or (with ``fetch``) fetched once into :func:`user_cache`.

    Raises :class:`TFSparkClientError`: ``JAR_NOT_FOUND`` when ``$TFSPARK_NATIVE_JAR`` names no file,
    or when it is nowhere and ``fetch`` is false; ``NATIVE_JAR_DOWNLOAD_FAILED`` when the fetch fails.
    """
    explicit = os.environ.get("TFSPARK_NATIVE_JAR")
    if explicit:
        if not Path(explicit).is_file():
            raise TFSparkClientError(
                "JAR_NOT_FOUND",
                f"TFSPARK_NATIVE_JAR is {explicit}, which is not a file; point it at "
                f"{native_artifact().file_name} or unset it",
                looked_at=explicit,
            )
        return Path(explicit)
    artifact = native_artifact()
    places = [PACKAGE_LIB, *([CHECKOUT_DIST] if _IN_CHECKOUT else [])]
    candidates = [p / artifact.file_name for p in places]
    candidates += [maven.local_repository() / artifact.path, user_cache() / artifact.file_name]
    for jar in candidates:
        if jar.is_file():
            return jar
    if not fetch:
        raise TFSparkClientError(
            "JAR_NOT_FOUND",
            f"{artifact.file_name} is in none of {', '.join(str(c.parent) for c in candidates)}",
            expected=artifact.file_name,
            looked_at=", ".join(str(c) for c in candidates),
        )
    return maven.download(artifact, user_cache())


def jars() -> list[Path]:
    """``[tfspark-assembly.jar, tensorflow-core-native-...jar]``: what ``spark.jars`` needs."""
    return [assembly_jar(), native_jar()]
