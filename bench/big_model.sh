#!/usr/bin/env bash
# A model over 2 GiB through SQL on local-cluster[2,1,1024] (a slow tier: bin/test never runs it).
#
#   bench/big_model.sh [--gib 2.2] [--rows 200000] [--modes "fileserver shared"] [--keep]
#
# Generates bench/big_model.py's SavedModel (two float32 checkpoint variables, --gib GiB in all)
# under a temp folder, then for each mode starts a driver JVM with a 1 GiB heap (smaller than the
# model) that scores it through `tfpredict` on two executor JVMs and checks every prediction:
#   fileserver: a local repository, fetched by each executor from the driver's file server;
#   shared:     the same folder declared shared (spark.tfpredict.repositoryShared=true), copied by
#               the executors into their model cache.
# Prints each run's JSON report (wall times, model size, driver heap peak, executors' copies) and
# the disk used, then removes everything it made (the model, executor copies, Spark work folders)
# unless --keep. Needs about 5 x the model's size free on disk and ~4 x in memory.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
GIB=2.2 ROWS=200000 MODES="fileserver shared" KEEP=
while [ $# -gt 0 ]; do
  case "$1" in
    --gib) GIB="$2"; shift 2 ;;
    --rows) ROWS="$2"; shift 2 ;;
    --modes) MODES="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
. bin/env.sh

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tfspark-big.XXXXXX")"
apps() { cat "$WORK"/report-*.json.app 2>/dev/null || true; }
cleanup() {
  if [ -z "$KEEP" ]; then
    for app in $(apps); do rm -rf "${SPARK_HOME:?}/work/$app"; done
    rm -rf "$WORK"
  else
    echo "kept $WORK and the Spark work folders of $(apps | tr '\n' ' ')"
  fi
}
trap cleanup EXIT

need_kb=$(.venv/bin/python -c "print(int($GIB * 5 * 2**20))")
free_kb=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
if [ "$free_kb" -lt "$need_kb" ]; then
  echo "bench/big_model.sh: $((free_kb / 1024)) MiB free in $WORK, $((need_kb / 1024)) MiB needed (5 x $GIB GiB)" >&2
  exit 1
fi

echo "== generating a $GIB GiB SavedModel in $WORK/repo"
t0=$(date +%s)
MODEL_JSON="$(.venv/bin/python bench/big_model.py "$WORK/repo" --gib "$GIB" | tail -1)"
echo "$MODEL_JSON (in $(($(date +%s) - t0)) s)"
N="$(.venv/bin/python -c "import json,sys; print(json.loads(sys.argv[1])['n'])" "$MODEL_JSON")"

echo "== compiling and reading the test classpath (sbt)"
SBT_OUT="$(./sbt -Dsbt.log.noformat=true sparkScala/Test/compile "export sparkScala/Test/fullClasspath" "show sparkScala/Test/javaOptions")"
CP="$(grep -E '^/.*test-classes' <<<"$SBT_OUT" | tail -1)"
mapfile -t JOPTS < <(sed -n 's/^\[info\] \* \(-.*\)$/\1/p' <<<"$SBT_OUT" | grep -v '^-Xmx')
[ -n "$CP" ] && [ "${#JOPTS[@]}" -gt 0 ] || { echo "could not read the classpath from sbt:" >&2; echo "$SBT_OUT" | tail -20 >&2; exit 1; }

for mode in $MODES; do
  echo "== $mode: $ROWS rows through tfpredict on local-cluster[2,1,1024], driver -Xmx1g"
  export TFSPARK_MODEL_CACHE="$WORK/model-cache-$mode"
  t0=$(date +%s)
  base_kb=$(df -Pk "$WORK" | awk 'NR==2 {print $3}')
  ( peak=0; while :; do u=$(df -Pk "$WORK" | awk 'NR==2 {print $3}'); [ "$u" -gt "$peak" ] && peak=$u && echo "$peak" > "$WORK/disk-peak-$mode"; sleep 1; done ) &
  SAMPLER=$!
  java -Xmx1g "-Xlog:gc:file=$WORK/gc-$mode.log" "${JOPTS[@]}" -cp "$CP" \
    tfspark.model.BigModelBench "$WORK/repo" "$mode" "$N" "$ROWS" "$WORK/report-$mode.json" \
    > "$WORK/driver-$mode.log" 2>&1 || { kill "$SAMPLER"; tail -40 "$WORK/driver-$mode.log" >&2; exit 1; }
  kill "$SAMPLER"
  echo "driver JVM ran $(($(date +%s) - t0)) s (start-up and cluster start included);" \
    "disk use peaked $((($(cat "$WORK/disk-peak-$mode") - base_kb) / 1024)) MiB above the start (the whole disk: other users count too)"
  cat "$WORK/report-$mode.json"
  app="$(cat "$WORK/report-$mode.json.app")"
  echo "GC log: $(grep -c 'Pause' "$WORK/gc-$mode.log") pauses; largest heap after GC: $(grep -o '[0-9]*M->[0-9]*M' "$WORK/gc-$mode.log" | sed 's/.*->//' | sort -n | tail -1)"
  echo "disk: model $(du -sh "$WORK/repo" | cut -f1); executors' work folders $(du -sh "$SPARK_HOME/work/$app" | cut -f1);" \
    "model cache $(du -sh "$TFSPARK_MODEL_CACHE" 2>/dev/null | cut -f1 || echo 0)"
  [ -n "$KEEP" ] || rm -rf "$SPARK_HOME/work/$app" "$TFSPARK_MODEL_CACHE"
done
