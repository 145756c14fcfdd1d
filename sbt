#!/usr/bin/env bash
# sbt launcher for tfspark.
#
# Uses an `sbt` found on PATH when there is one. Otherwise it fetches the pinned
# org.scala-sbt:sbt-launch jar from Maven Central *through Maven* (so a mirror in
# ~/.m2/settings.xml is honoured) and runs it with the resolvers restricted to the
# local repository plus Maven Central (or that mirror): -Dsbt.override.build.repos=true.
#
# Every cache lives under $TFSPARK_CACHE (default: <repo>/.cache, git-ignored),
# so a second run downloads nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SBT_VERSION="$(sed -n 's/^sbt\.version *= *//p' "$ROOT/project/build.properties")"
CACHE="${TFSPARK_CACHE:-$ROOT/.cache}"

if [ -z "${TFSPARK_FORCE_LAUNCHER:-}" ] && command -v sbt >/dev/null 2>&1 && [ "$(command -v sbt)" != "$ROOT/sbt" ]; then
  exec sbt "$@"
fi

LAUNCH_DIR="$CACHE/sbt-launch"
LAUNCH_JAR="$LAUNCH_DIR/sbt-launch-$SBT_VERSION.jar"
mkdir -p "$LAUNCH_DIR"

if [ ! -s "$LAUNCH_JAR" ]; then
  echo "[sbt] fetching org.scala-sbt:sbt-launch:$SBT_VERSION through Maven" >&2
  mvn -q -B -Dmaven.repo.local="$CACHE/m2" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
    -Dartifact="org.scala-sbt:sbt-launch:$SBT_VERSION:jar" \
    -DoutputDirectory="$LAUNCH_DIR" -Dmdep.overWriteIfNewer=true >&2
fi

# Resolver list: local + Maven Central, or the mirror of Central from ~/.m2/settings.xml.
REPOS="$LAUNCH_DIR/repositories"
CENTRAL="maven-central"
SETTINGS="$HOME/.m2/settings.xml"
if [ -f "$SETTINGS" ]; then
  MIRROR_URL="$(python3 - "$SETTINGS" <<'PY' || true
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = {"m": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}
p = "m:" if ns else ""
for mirror in root.iterfind(f".//{p}mirrors/{p}mirror", ns):
    of = (mirror.findtext(f"{p}mirrorOf", "", ns) or "").split(",")
    if any(o.strip() in ("*", "central", "external:*") for o in of):
        print(mirror.findtext(f"{p}url", "", ns).strip()); break
PY
)"
  [ -n "$MIRROR_URL" ] && CENTRAL="maven-mirror: $MIRROR_URL"
fi
printf '[repositories]\n  local\n  %s\n' "$CENTRAL" > "$REPOS"

export COURSIER_CACHE="$CACHE/coursier"
# No terminal (CI, scripts): never wait for input on a load failure.
BATCH=""
[ -t 0 ] || BATCH="-Dsbt.batch=true"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
exec "$JAVA" ${SBT_OPTS:--Xms512m -Xmx3g -Xss4m} \
  -Dsbt.override.build.repos=true \
  -Dsbt.repository.config="$REPOS" \
  -Dsbt.boot.directory="$CACHE/sbt-boot" \
  -Dsbt.global.base="$CACHE/sbt-global" \
  -Dsbt.ivy.home="$CACHE/ivy2" \
  -Dsbt.coursier.home="$CACHE/coursier" \
  -Dsbt.server.forcestart=false \
  -Dsbt.supershell=false $BATCH \
  -Dsbt.color="${SBT_COLOR:-auto}" \
  -jar "$LAUNCH_JAR" "$@"
