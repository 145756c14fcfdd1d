"""tfspark.maven and tfspark.jars: Maven settings as mvn reads them, the verified fetch, the search order."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest

from tfspark import jars, maven
from tfspark.errors import TFSparkClientError, TFSparkError

ARTIFACT = maven.Artifact("org.example", "thing", "1.0", "linux-x86_64")


def test_artifact_path_and_name():
    assert ARTIFACT.file_name == "thing-1.0-linux-x86_64.jar"
    assert ARTIFACT.path == "org/example/thing/1.0/thing-1.0-linux-x86_64.jar"
    assert str(ARTIFACT) == "org.example:thing:1.0:linux-x86_64"


@pytest.mark.parametrize(
    ("mirror_of", "expected"),
    [("*", "https://m.example/maven2"), ("central", "https://m.example/maven2"), ("external:*,!x", "https://m.example/maven2"),
     ("other-repo", maven.CENTRAL)],
)  # fmt: skip
def test_central_url_follows_the_mirror_of_central(tmp_path, mirror_of, expected):
    settings = tmp_path / "settings.xml"
    settings.write_text(
        '<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0"><localRepository>${user.home}/m2repo</localRepository>'
        f"<mirrors><mirror><id>m</id><mirrorOf>{mirror_of}</mirrorOf><url>https://m.example/maven2/</url></mirror>"
        "</mirrors></settings>"
    )
    assert maven.central_url(settings) == expected
    assert maven.local_repository(settings).name == "m2repo"


def test_no_settings_means_central_and_the_default_local_repository(tmp_path):
    assert maven.central_url(tmp_path / "absent.xml") == maven.CENTRAL
    assert maven.local_repository(tmp_path / "absent.xml").parts[-2:] == (".m2", "repository")


def test_invalid_settings_are_named(tmp_path):
    settings = tmp_path / "settings.xml"
    settings.write_text("<settings><mirrors>")
    with pytest.raises(TFSparkClientError) as e:
        maven.central_url(settings)
    assert e.value.getCondition() == "MAVEN_SETTINGS_INVALID" and str(settings) in str(e.value)


@pytest.fixture
def repository(tmp_path):
    """A loopback Maven repository holding ARTIFACT; ``sha1`` of the served file can be overridden."""
    root = tmp_path / "repo"
    jar = root / ARTIFACT.path
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"jar bytes " * 1000)
    (root / (ARTIFACT.path + ".sha1")).write_text(hashlib.sha1(jar.read_bytes()).hexdigest() + "  thing.jar\n")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0),
        functools.partial(type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}),
                          directory=str(root)),
    )  # fmt: skip
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_verifies_and_renames_into_place(repository, tmp_path, capsys):
    root, url = repository
    got = maven.download(ARTIFACT, tmp_path / "cache", repository=url)
    assert got.read_bytes() == (root / ARTIFACT.path).read_bytes()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [ARTIFACT.file_name]
    assert got.stat().st_mode & 0o044 == 0o044, "readable by the machine's other users, as a download is"
    assert "fetching org.example:thing:1.0:linux-x86_64 once" in capsys.readouterr().err


def test_a_checksum_mismatch_keeps_nothing(repository, tmp_path):
    root, url = repository
    (root / (ARTIFACT.path + ".sha1")).write_text("0" * 40)
    with pytest.raises(TFSparkError) as e:
        maven.download(ARTIFACT, tmp_path / "cache", repository=url)
    assert e.value.getCondition() == "NATIVE_JAR_DOWNLOAD_FAILED" and "SHA-1" in str(e.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_an_unreachable_repository_says_what_to_do(repository, tmp_path):
    _, url = repository
    with pytest.raises(TFSparkError) as e:
        maven.download(ARTIFACT, tmp_path / "cache", repository=url + "missing/")
    assert e.value.getCondition() == "NATIVE_JAR_DOWNLOAD_FAILED"
    assert "TFSPARK_NATIVE_JAR" in str(e.value) and "settings.xml" in str(e.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_native_jar_search_order(tmp_path, monkeypatch):
    monkeypatch.setattr(jars, "_IN_CHECKOUT", False)
    monkeypatch.setattr(jars, "PACKAGE_LIB", tmp_path / "lib")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TFSPARK_JAR_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TFSPARK_NATIVE_JAR", raising=False)
    artifact = jars.native_artifact()
    with pytest.raises(TFSparkClientError) as e:
        jars.native_jar(fetch=False)
    assert e.value.getCondition() == "JAR_NOT_FOUND" and artifact.file_name in str(e.value)
    cached = tmp_path / "cache" / artifact.file_name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert jars.native_jar(fetch=False) == cached
    in_m2 = tmp_path / "home" / ".m2" / "repository" / artifact.path
    in_m2.parent.mkdir(parents=True)
    in_m2.write_bytes(b"x")
    assert jars.native_jar(fetch=False) == in_m2, "Maven's local repository comes before tfspark's cache"
    monkeypatch.setenv("TFSPARK_NATIVE_JAR", str(tmp_path / "nowhere.jar"))
    with pytest.raises(TFSparkClientError, match="TFSPARK_NATIVE_JAR"):
        jars.native_jar()


def test_a_missing_assembly_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(jars, "_IN_CHECKOUT", False)
    monkeypatch.setattr(jars, "PACKAGE_LIB", tmp_path / "lib")
    with pytest.raises(TFSparkClientError) as e:
        jars.assembly_jar()
    assert e.value.getCondition() == "JAR_NOT_FOUND" and "reinstall" in str(e.value)
