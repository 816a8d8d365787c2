#!/usr/bin/env bash
# Runs the OCI distribution-spec conformance suite (a suite nobody here wrote)
# against a local docker repository of a real artifactapi, on both backends:
#   embedded   — SQLite, filesystem blobs, in-process coordination;
#   production — PostgreSQL, MinIO and Redis (run under scripts/with-services.sh,
#                which exports TEST_MINIO_*; PostgreSQL and Redis on 127.0.0.1).
# Every test must pass: a failed, skipped or errored test, a suite that cannot
# be built, or a server that does not start is a failure, never a skip.
#
# The suite is built from the Go module proxy at a pinned version (nothing of it
# is vendored). Results: $OUT/<backend>/ (results.yaml, report.html, junit.xml).
set -euo pipefail

CONFORMANCE_MODULE=github.com/opencontainers/distribution-spec/conformance
CONFORMANCE_VERSION=v0.0.0-20260831232431-97274622c111
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${CONFORMANCE_OUT:-$ROOT/bin/conformance}"
BACKENDS="${CONFORMANCE_BACKENDS:-embedded production}"
TOKEN="conformance-$RANDOM$RANDOM"

fail() { echo "conformance: FAIL: $*" >&2; exit 1; }

WORK="$(mktemp -d /tmp/artifactapi-conformance.XXXXXX)"
PIDS=()
DBS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  for d in "${DBS[@]}"; do psql -q "${TEST_PG_DSN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}" -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "conformance: building $CONFORMANCE_MODULE@$CONFORMANCE_VERSION from the module proxy"
GOBIN="$WORK/bin" GOFLAGS=-mod=mod go install "$CONFORMANCE_MODULE@$CONFORMANCE_VERSION" || fail "cannot build the conformance suite"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/bin/artifactapi" .) || fail "cannot build artifactapi"

cat > "$WORK/remotes.yaml" <<'EOF'
remotes:
  oci:
    type: local
    package: docker
    description: conformance target
EOF

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# run_backend NAME: starts artifactapi with that backend's environment and
# runs the whole suite against it.
run_backend() {
  local name="$1" port dir env=()
  port="$(free_port)"
  dir="$WORK/$name"
  mkdir -p "$dir"
  env=(PORT="$port" ADMIN_TOKEN="$TOKEN" DATA_DIR="$dir/data" REMOTES_CONFIG="$WORK/remotes.yaml" LOG_FORMAT=text)
  case "$name" in
  embedded) ;;
  production)
    [ -n "${TEST_MINIO_ENDPOINT:-}" ] || fail "production backend needs MinIO: run under scripts/with-services.sh"
    local base="${TEST_PG_DSN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}" db="conformance_$RANDOM$RANDOM"
    psql -q "$base" -c "CREATE DATABASE $db" >/dev/null || fail "cannot create a PostgreSQL database (psql $base)"
    DBS+=("$db")
    env+=(DATABASE_URL="${base/\/postgres\?/\/$db?}" REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}" REDIS_PREFIX="$db:"
      MINIO_ENDPOINT="$TEST_MINIO_ENDPOINT" MINIO_ACCESS_KEY="$TEST_MINIO_ACCESS_KEY" MINIO_SECRET_KEY="$TEST_MINIO_SECRET_KEY"
      MINIO_BUCKET="${db//_/-}" MINIO_SECURE=false)
    ;;
  *) fail "unknown backend $name" ;;
  esac
  env "${env[@]}" "$WORK/bin/artifactapi" serve >"$dir/server.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local ready=""
  for _ in $(seq 300); do
    if curl -sf "http://127.0.0.1:$port/ready" >/dev/null; then ready=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$ready" ] || { cat "$dir/server.log" >&2; fail "$name: artifactapi did not become ready"; }
  grep -E "metadata:|blobs:|coordination:" "$dir/server.log" | sed "s/^/conformance: $name: /" || true

  local results="$OUT/$name"
  rm -rf "$results"
  mkdir -p "$results"
  echo "conformance: $name: running the suite against http://127.0.0.1:$port/v2/oci/…"
  set +e
  (cd "$dir" && env OCI_REGISTRY="127.0.0.1:$port" OCI_TLS=disabled \
    OCI_REPO1="oci/conformance/repo1" OCI_REPO2="oci/conformance/repo2" \
    OCI_USERNAME=admin OCI_PASSWORD="$TOKEN" OCI_RESULTS_DIR="$results" OCI_LOG=warn \
    OCI_API_PULL=true OCI_API_PUSH=true OCI_API_REFERRER=true \
    OCI_API_BLOBS_UPLOAD_CANCEL=true OCI_API_BLOBS_DIGEST_HEADER=true OCI_API_MANIFESTS_DIGEST_HEADER=true \
    OCI_API_MANIFESTS_TAG_PARAM=true OCI_DATA_SHA512=true \
    "$WORK/bin/conformance" >"$results/output.txt" 2>&1)
  local rc=$?
  set -e
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  cp "$dir/server.log" "$results/server.log"
  sed -n '/^OCI Conformance Result/,/^$/p' "$results/output.txt" | sed "s/^/conformance: $name: /"
  [ -f "$results/results.yaml" ] || { tail -20 "$results/output.txt" >&2; fail "$name: the suite produced no results"; }
  local total passed
  total="$(awk -F: '/^  Total\.*/ {gsub(/ /,"",$2); print $2}' "$results/output.txt")"
  passed="$(awk -F: '/^  Pass\.*/ {gsub(/ /,"",$2); print $2}' "$results/output.txt")"
  if [ "$rc" -ne 0 ] || ! grep -q '^OCI Conformance Result: Pass' "$results/output.txt" ||
    [ -z "$total" ] || [ "$total" = 0 ] || [ "$passed" != "$total" ]; then
    grep -E 'FAIL|Error|Skip' "$results/output.txt" | grep -v ': *0$' | head -40 >&2 || true
    fail "$name: not every test passed ($passed of $total; exit $rc); see $results"
  fi
  echo "conformance: $name: every test passed ($passed of $total)"
}

for b in $BACKENDS; do run_backend "$b"; done
