#!/usr/bin/env bash
# bench/registry.sh — the Docker registry mirror benchmark (issue 3): skopeo
# copy of an image with a 200 MiB layer directly from docker-registry, and
# through artifactapi cold and warm; upstream requests per cold pull; ten
# concurrent cold pulls (one upstream GET per blob); then push and pull of
# the same image into/from a local docker repository vs docker-registry and
# the peak RSS during concurrent pushes. See bench/registrybench/main.go and
# bench/pushbench/main.go. Prints Markdown tables, also written to
# bench/out/registry.md.
#
# Backends: embedded (SQLite + filesystem) always; PostgreSQL + Redis + MinIO
# too when TEST_MINIO_ENDPOINT is set (run through `make bench`, i.e.
# scripts/with-services.sh), the registry mirror both with the hot tier on
# (the default) and off (warm pulls read MinIO). Knobs: BENCH_REGISTRY_LAYER_MIB (200),
# BENCH_REGISTRY_RUNS (3), BENCH_REGISTRY_CONCURRENCY (10),
# BENCH_BACKENDS ("embedded production").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LAYER="${BENCH_REGISTRY_LAYER_MIB:-200}"
RUNS="${BENCH_REGISTRY_RUNS:-3}"
CONC="${BENCH_REGISTRY_CONCURRENCY:-10}"
BACKENDS="${BENCH_BACKENDS:-embedded production}"
OUT="$ROOT/bench/out/registry.md"

log() { printf '[bench-registry %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
for tool in go skopeo /usr/bin/docker-registry htpasswd; do
  command -v "$tool" >/dev/null 2>&1 || { log "FATAL: $tool is required (make deps)"; exit 1; }
done

W="$(mktemp -d /tmp/artifactapi-bench-registry.XXXXXX)"
DB_NAME="" REDIS_PREFIX="" BUCKET=""
cleanup() {
  if [ -n "$DB_NAME" ]; then
    for db in "$DB_NAME" "${DB_NAME}_nohot"; do
      psql -h 127.0.0.1 -U postgres -d postgres -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || log "could not drop $db"
    done
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

go build -o "$W/registrybench" ./bench/registrybench
go build -o "$W/pushbench" ./bench/pushbench
go build -o "$W/artifactapi" .
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
ARGS=(-layer-mib "$LAYER" -runs "$RUNS" -concurrency "$CONC")

if [[ " $BACKENDS " == *" embedded "* ]]; then
  log "embedded backends"
  env -u DBHOST -u DATABASE_URL -u REDIS_URL -u MINIO_ENDPOINT \
    "$W/registrybench" "${ARGS[@]}" -backend "SQLite + filesystem" | tee -a "$OUT"
  env -u DBHOST -u DATABASE_URL -u REDIS_URL -u MINIO_ENDPOINT \
    "$W/pushbench" "${ARGS[@]}" -bin "$W/artifactapi" -backend "SQLite + filesystem" | tee -a "$OUT"
fi

if [[ " $BACKENDS " == *" production "* ]]; then
  if [ -z "${TEST_MINIO_ENDPOINT:-}" ]; then
    log "production: skipped, TEST_MINIO_ENDPOINT is not set (run through make bench)"
  else
    # Bucket removal (bench/s3clean) is best effort: with-services' MinIO is temporary anyway.
    go build -o "$W/s3clean" ./bench/s3clean 2>/dev/null || log "bench/s3clean not built; the bucket is left to the temporary MinIO"
    id="$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    DB_NAME="bench_registry_$id" REDIS_PREFIX="bench-registry-$id:" BUCKET="bench-registry-$id"
    psql -h 127.0.0.1 -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB_NAME" >/dev/null
    log "production backends (database $DB_NAME, bucket $BUCKET)"
    env DBHOST=127.0.0.1 DBPORT=5432 DBUSER=postgres DBNAME="$DB_NAME" DBSSLMODE=disable \
      REDIS_URL=redis://127.0.0.1:6379/0 REDIS_PREFIX="$REDIS_PREFIX" \
      MINIO_ENDPOINT="$TEST_MINIO_ENDPOINT" MINIO_ACCESS_KEY="$TEST_MINIO_ACCESS_KEY" \
      MINIO_SECRET_KEY="$TEST_MINIO_SECRET_KEY" MINIO_BUCKET="$BUCKET" MINIO_SECURE=false \
      "$W/registrybench" "${ARGS[@]}" -backend "PostgreSQL + Redis + MinIO (hot tier on, the default)" | tee -a "$OUT"
    # The S3 path: the same run with the hot tier off, on its own database,
    # key prefix and bucket (so that its cold pulls are cold).
    psql -h 127.0.0.1 -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE ${DB_NAME}_nohot" >/dev/null
    env DBHOST=127.0.0.1 DBPORT=5432 DBUSER=postgres DBNAME="${DB_NAME}_nohot" DBSSLMODE=disable \
      REDIS_URL=redis://127.0.0.1:6379/0 REDIS_PREFIX="${REDIS_PREFIX}nohot:" \
      MINIO_ENDPOINT="$TEST_MINIO_ENDPOINT" MINIO_ACCESS_KEY="$TEST_MINIO_ACCESS_KEY" \
      MINIO_SECRET_KEY="$TEST_MINIO_SECRET_KEY" MINIO_BUCKET="$BUCKET-nohot" MINIO_SECURE=false HOT_CACHE_SIZE=0 \
      "$W/registrybench" "${ARGS[@]}" -backend "PostgreSQL + Redis + MinIO, hot tier off" | tee -a "$OUT"
    env DBHOST=127.0.0.1 DBPORT=5432 DBUSER=postgres DBNAME="$DB_NAME" DBSSLMODE=disable \
      REDIS_URL=redis://127.0.0.1:6379/0 REDIS_PREFIX="$REDIS_PREFIX" \
      MINIO_ENDPOINT="$TEST_MINIO_ENDPOINT" MINIO_ACCESS_KEY="$TEST_MINIO_ACCESS_KEY" \
      MINIO_SECRET_KEY="$TEST_MINIO_SECRET_KEY" MINIO_BUCKET="$BUCKET-push" MINIO_SECURE=false \
      "$W/pushbench" "${ARGS[@]}" -bin "$W/artifactapi" -backend "PostgreSQL + Redis + MinIO" | tee -a "$OUT"
  fi
fi
log "results written to ${OUT#$ROOT/}"
