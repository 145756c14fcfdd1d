"""Maven repositories as Maven itself sees them: the local repository and Central, or its mirror.

Only what tfspark needs to fetch one artifact (TF Java's native jar) without Maven installed:

- ``~/.m2/settings.xml`` is read the way ``mvn`` reads it: ``<localRepository>`` moves the local
  repository, and the first ``<mirror>`` whose ``<mirrorOf>`` covers Central (``*``, ``central`` or
  ``external:*``) replaces Central's URL. The repository's own ``./sbt`` launcher follows the same rule.
- A download is verified against the repository's ``.sha1`` file and renamed into place only when
  complete, so an interrupted fetch never leaves a jar that looks whole.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tfspark.errors import TFSparkClientError

CENTRAL = "https://repo1.maven.org/maven2"
_MIRRORS_OF_CENTRAL = {"*", "central", "external:*"}


@dataclass(frozen=True)
class Artifact:
    """Maven coordinates ``group:artifact:version[:classifier]`` of a jar."""

    group: str
    artifact: str
    version: str
    classifier: str | None = None

    @property
    def file_name(self) -> str:
        suffix = f"-{self.classifier}" if self.classifier else ""
        return f"{self.artifact}-{self.version}{suffix}.jar"

    @property
    def path(self) -> str:
        """The artifact's path inside a Maven repository (local or remote)."""
        return "/".join([*self.group.split("."), self.artifact, self.version, self.file_name])

    def __str__(self) -> str:
        return ":".join(p for p in (self.group, self.artifact, self.version, self.classifier) if p)


def settings_file() -> Path:
    """``~/.m2/settings.xml``: Maven's user settings."""
    return Path.home() / ".m2" / "settings.xml"


def _settings_root(settings: Path):
    if not settings.is_file():
        return None, ""
    try:
        root = ET.parse(settings).getroot()
    except ET.ParseError as e:
        raise TFSparkClientError(
            "MAVEN_SETTINGS_INVALID",
            f"{settings} is not valid XML ({e}); fix it or move it away",
            settings=str(settings),
        ) from None
    ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
    return root, ns


def local_repository(settings: Path | None = None) -> Path:
    """Maven's local repository: ``<localRepository>`` of the settings, else ``~/.m2/repository``."""
    root, ns = _settings_root(settings or settings_file())
    configured = root.findtext(f"{ns}localRepository") if root is not None else None
    if configured and configured.strip():
        return Path(configured.strip().replace("${user.home}", str(Path.home())))
    return Path.home() / ".m2" / "repository"


def central_url(settings: Path | None = None) -> str:
    """Central's URL, or that of the first mirror of Central in the settings."""
    root, ns = _settings_root(settings or settings_file())
    if root is not None:
        for mirror in root.iter(f"{ns}mirror"):
            covers = {m.strip() for m in (mirror.findtext(f"{ns}mirrorOf") or "").split(",")}
            url = (mirror.findtext(f"{ns}url") or "").strip()
            if url and covers & _MIRRORS_OF_CENTRAL:
                return url.rstrip("/")
    return CENTRAL


def download(artifact: Artifact, into: Path, *, repository: str | None = None, timeout: float = 60.0) -> Path:
    """Downloads ``artifact`` from ``repository`` (default: Central or its mirror) into ``into``.

    Returns the jar's path. The bytes are checked against the repository's ``.sha1``. Raises
    :class:`TFSparkClientError` (``NATIVE_JAR_DOWNLOAD_FAILED``) naming the URL and what to do when
    the repository cannot be reached or the checksum differs.
    """
    base = (repository or central_url()).rstrip("/")
    url = f"{base}/{artifact.path}"
    into.mkdir(parents=True, exist_ok=True)
    target = into / artifact.file_name
    print(f"tfspark: fetching {artifact} once, from {url} into {into}", file=sys.stderr)
    part = Path(tempfile.mkstemp(dir=into, prefix=f".{artifact.file_name}.")[1])
    try:
        try:
            expected = _read(url + ".sha1", timeout).decode("ascii").split()[0].strip().lower()
            digest = hashlib.sha1()
            with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as sink:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    sink.write(chunk)
        except (urllib.error.URLError, OSError, IndexError, UnicodeDecodeError) as e:
            raise TFSparkClientError(
                "NATIVE_JAR_DOWNLOAD_FAILED",
                f"could not fetch {artifact} from {url}: {e}. Put a mirror of Maven Central in "
                f"{settings_file()} (<mirrors>), or download the jar yourself and set TFSPARK_NATIVE_JAR to it",
                url=url,
            ) from None
        if digest.hexdigest() != expected:
            raise TFSparkClientError(
                "NATIVE_JAR_DOWNLOAD_FAILED",
                f"{url} has SHA-1 {digest.hexdigest()}, but the repository's .sha1 says {expected}: the "
                "download is damaged or the mirror serves another file; nothing was kept. Try again, or set "
                "TFSPARK_NATIVE_JAR",
                url=url,
            )
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(part, 0o666 & ~umask)  # mkstemp made it private; a jar is read by every JVM of the machine
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target


def _read(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()
