#!/usr/bin/env bash
# bench/formats.sh — the package formats benchmark (issue 13): `pip download`
# of generated wheels and `npm install` of generated packages, each directly
# from a local upstream, cold and warm through artifactapi, with the real
# clients and no client cache. See bench/formatsbench/main.go. Prints a
# Markdown table, also written to bench/out/formats.md.
#
# Backends: embedded (SQLite + filesystem) always; PostgreSQL + Redis + MinIO
# too when TEST_MINIO_ENDPOINT is set (run through `make bench`, i.e.
# scripts/with-services.sh). Knobs: BENCH_FORMATS_RUNS (9),
# BENCH_FORMATS_WHEELS (20), BENCH_FORMATS_PACKAGES (50),
# BENCH_BACKENDS ("embedded production"), BENCH_VERDACCIO (1: also npm
# install directly from Verdaccio, a real registry, and through artifactapi
# in front of it; Verdaccio is installed from the npm registry into the
# run's temporary directory; 0: not).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS="${BENCH_FORMATS_RUNS:-9}"
WHEELS="${BENCH_FORMATS_WHEELS:-20}"
PACKAGES="${BENCH_FORMATS_PACKAGES:-50}"
BACKENDS="${BENCH_BACKENDS:-embedded production}"
OUT="$ROOT/bench/out/formats.md"
VERDACCIO="${BENCH_VERDACCIO:-1}"

log() { printf '[bench-formats %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
for tool in go python3 npm; do
  command -v "$tool" >/dev/null 2>&1 || { log "FATAL: $tool is required (make deps)"; exit 1; }
done

W="$(mktemp -d /tmp/artifactapi-bench-formats.XXXXXX)"
DB_NAME="" REDIS_PREFIX="" BUCKET=""
cleanup() {
  if [ -n "$DB_NAME" ]; then
    psql -h 127.0.0.1 -U postgres -d postgres -qAt -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || log "could not drop $DB_NAME"
  fi
  if [ -n "$REDIS_PREFIX" ]; then
    redis-cli -h 127.0.0.1 --scan --pattern "${REDIS_PREFIX}*" 2>/dev/null | xargs -r redis-cli -h 127.0.0.1 del >/dev/null 2>&1 || true
  fi
  if [ -n "$BUCKET" ] && [ -x "$W/s3clean" ]; then
    "$W/s3clean" -endpoint "$TEST_MINIO_ENDPOINT" -access "$TEST_MINIO_ACCESS_KEY" -secret "$TEST_MINIO_SECRET_KEY" -bucket "$BUCKET" -timeout 120s || log "could not remove bucket $BUCKET"
  fi
  rm -rf "$W"
}
trap cleanup EXIT

go build -o "$W/formatsbench" ./bench/formatsbench
go build -o "$W/artifactapi" .
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
ARGS=(-bin "$W/artifactapi" -runs "$RUNS" -wheels "$WHEELS" -packages "$PACKAGES")
if [ "$VERDACCIO" = 1 ]; then
  # Verdaccio 5 (6 needs Node.js 22). One of its dependencies asks for
  # node-fetch by a dist-tag ("cjs") the npm registry here does not serve:
  # pinned to the 2.x release that tag names.
  log "installing Verdaccio 5.33.0 from the npm registry"
  mkdir -p "$W/verdaccio-install"
  printf '{"name":"formatsbench-verdaccio","version":"0.0.0","private":true,"dependencies":{"verdaccio":"5.33.0"},"overrides":{"node-fetch":"2.7.0"}}\n' >"$W/verdaccio-install/package.json"
  (cd "$W/verdaccio-install" && npm install --no-audit --no-fund --loglevel=error >/dev/null) ||
    { log "FATAL: Verdaccio could not be installed (BENCH_VERDACCIO=0 leaves its row out)"; exit 1; }
  ARGS+=(-verdaccio "$W/verdaccio-install/node_modules/.bin/verdaccio")
fi
# The clients (pip, npm) on the client CPUs, the servers (the local upstream
# inside formatsbench, and artifactapi, its child) on the server CPUs
# (bench/pin.sh), in the direct runs as in the runs through artifactapi.
# shellcheck source=bench/pin.sh
. "$ROOT/bench/pin.sh"
[ -n "$CLIENT_CPUS" ] && ARGS+=(-client-cpus "$CLIENT_CPUS")

if [[ " $BACKENDS " == *" embedded "* ]]; then
  log "embedded backends"
  env -u DBHOST -u DATABASE_URL -u REDIS_URL -u MINIO_ENDPOINT \
    "${SPIN[@]}" "$W/formatsbench" "${ARGS[@]}" -backend "SQLite + filesystem" | tee -a "$OUT"
fi

if [[ " $BACKENDS " == *" production "* ]]; then
  if [ -z "${TEST_MINIO_ENDPOINT:-}" ]; then
    log "production: skipped, TEST_MINIO_ENDPOINT is not set (run through make bench)"
  else
    go build -o "$W/s3clean" ./bench/s3clean 2>/dev/null || log "bench/s3clean not built; the bucket is left to the temporary MinIO"
    id="$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    DB_NAME="bench_formats_$id" REDIS_PREFIX="bench-formats-$id:" BUCKET="bench-formats-$id"
    psql -h 127.0.0.1 -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB_NAME" >/dev/null
    log "production backends (database $DB_NAME, bucket $BUCKET)"
    env DBHOST=127.0.0.1 DBPORT=5432 DBUSER=postgres DBNAME="$DB_NAME" DBSSLMODE=disable \
      REDIS_URL=redis://127.0.0.1:6379/0 REDIS_PREFIX="$REDIS_PREFIX" \
      MINIO_ENDPOINT="$TEST_MINIO_ENDPOINT" MINIO_ACCESS_KEY="$TEST_MINIO_ACCESS_KEY" \
      MINIO_SECRET_KEY="$TEST_MINIO_SECRET_KEY" MINIO_BUCKET="$BUCKET" MINIO_SECURE=false \
      "${SPIN[@]}" "$W/formatsbench" "${ARGS[@]}" -backend "PostgreSQL + Redis + MinIO" | tee -a "$OUT"
  fi
fi
log "results written to ${OUT#$ROOT/}"
