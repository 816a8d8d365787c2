#!/usr/bin/env bash
# Runs the OCI distribution-spec conformance suite (a suite nobody here wrote)
# against a real artifactapi, on both backends:
#   embedded   — SQLite, filesystem blobs, in-process coordination;
#   production — PostgreSQL, MinIO and Redis (run under scripts/with-services.sh,
#                which exports TEST_MINIO_*; PostgreSQL and Redis on 127.0.0.1).
# Two runs per backend, on the same server:
#   push      — the whole suite against a local docker repository (oci/…);
#               every test must pass;
#   read-only — OCI_API_PUSH=false against a mirror remote (hub/…) of Debian's
#               docker-registry 2.8 (no referrers API: referrers come from the
#               tag schema), seeded by scripts/roseed with images, an index
#               and a referrer named in OCI_RO_DATA_*; every test that
#               OCI_API_PUSH=false does not disable must pass, every pull API
#               (ping, tags, manifests, blobs, referrers) among them.
# A failed, skipped or errored test, a suite that cannot be built, or a server
# that does not start is a failure, never a skip.
#
# The suite is built from the Go module proxy at a pinned version (nothing of it
# is vendored). At that version its read-only mode panics while writing
# results.yaml (a data test skipped before its data exists); the read-only run
# uses a copy built with scripts/conformance-readonly.patch, which changes that
# report writer only. Results: $OUT/<backend>/ and $OUT/<backend>-readonly/
# (results.yaml, report.html, junit.xml).
set -euo pipefail

CONFORMANCE_MODULE=github.com/opencontainers/distribution-spec/conformance
CONFORMANCE_VERSION=v0.0.0-20260831232431-97274622c111
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${CONFORMANCE_OUT:-$ROOT/bin/conformance}"
BACKENDS="${CONFORMANCE_BACKENDS:-embedded production}"
MODES="${CONFORMANCE_MODES:-push readonly}" # make test runs both
TOKEN="conformance-$(od -An -N16 -tx1 /dev/urandom | tr -d " \n")"

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
src="$(GOFLAGS=-mod=mod go mod download -json "$CONFORMANCE_MODULE@$CONFORMANCE_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')" ||
  fail "cannot download the conformance suite"
cp -r "$src" "$WORK/suite-ro" && chmod -R u+w "$WORK/suite-ro"
(cd "$WORK/suite-ro" && git apply "$ROOT/scripts/conformance-readonly.patch" && GOFLAGS=-mod=mod go build -o "$WORK/bin/conformance-ro" .) ||
  fail "cannot build the read-only conformance suite (does scripts/conformance-readonly.patch still apply?)"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/bin/artifactapi" . && go build -o "$WORK/bin/roseed" ./scripts/roseed) ||
  fail "cannot build artifactapi"

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# The mirror's upstream: docker-registry, seeded once for both backends.
[ -x /usr/bin/docker-registry ] || fail "/usr/bin/docker-registry is missing (apt-get install docker-registry; make deps)"
REG_PORT="$(free_port)"
mkdir -p "$WORK/registry"
cat > "$WORK/registry/config.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/registry/data}}
http: {addr: "127.0.0.1:$REG_PORT", secret: conformance}
EOF
/usr/bin/docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
PIDS+=($!)
up=""
for _ in $(seq 200); do
  if curl -sf "http://127.0.0.1:$REG_PORT/v2/" >/dev/null; then up=1; break; fi
  kill -0 "${PIDS[-1]}" 2>/dev/null || break
  sleep 0.1
done
[ -n "$up" ] || { cat "$WORK/registry/log" >&2; fail "docker-registry did not start"; }
RO_REPO=conformance/ro
"$WORK/bin/roseed" -registry "http://127.0.0.1:$REG_PORT" -repo "$RO_REPO" >"$WORK/registry/seed" || fail "cannot seed docker-registry"
mapfile -t RO_ENV < <(grep '^OCI_RO_DATA_' "$WORK/registry/seed")
read -r RO_SUBJECT RO_REFERRER < <(sed -n 's/^RO_REFERRER=//p' "$WORK/registry/seed")
[ -n "$RO_REFERRER" ] || fail "roseed named no referrer"

cat > "$WORK/remotes.yaml" <<EOF
remotes:
  oci:
    type: local
    package: docker
    description: conformance target (push)
  hub:
    base_url: "http://127.0.0.1:$REG_PORT"
    package: docker
    description: conformance target (read-only, a mirror)
EOF

# count FIELD OUTPUT: a count of the suite's summary (Pass, FAIL, Total…).
count() { awk -F: -v f="$1" '$1 ~ "^  " f "[.]*$" {gsub(/ /,"",$2); print $2}' "$2"; }

# run_backend NAME: starts artifactapi with that backend's environment and
# runs the whole suite against it, then the read-only suite.
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

  local failed=""
  case " $MODES " in *" push "*) run_push "$name" "$port" "$dir" || failed=1 ;; esac
  case " $MODES " in *" readonly "*) [ -n "$failed" ] || run_readonly "$name" "$port" "$dir" || failed=1 ;; esac
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for m in push readonly; do
    local results="$OUT/$name"
    [ "$m" = push ] || results+="-$m"
    if [ -d "$results" ]; then cp "$dir/server.log" "$results/server.log"; fi
  done
  [ -z "$failed" ] || exit 1
}

# run_push NAME PORT DIR: the whole suite against a local docker repository;
# every test must pass.
run_push() {
  local name="$1" port="$2" dir="$3" results="$OUT/$1" rc total passed
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
  rc=$?
  set -e
  summary "$name" "$results"
  [ -f "$results/results.yaml" ] || { tail -20 "$results/output.txt" >&2; echo "conformance: FAIL: $name: the suite produced no results" >&2; return 1; }
  total="$(count Total "$results/output.txt")"
  passed="$(count Pass "$results/output.txt")"
  if [ "$rc" -ne 0 ] || ! grep -q '^OCI Conformance Result: Pass' "$results/output.txt" ||
    [ -z "$total" ] || [ "$total" = 0 ] || [ "$passed" != "$total" ]; then
    problems "$results"
    echo "conformance: FAIL: $name: not every test passed ($passed of $total; exit $rc); see $results" >&2
    return 1
  fi
  echo "conformance: $name: every test passed ($passed of $total)"
}

# The APIs that OCI_API_PUSH=false and the *_DELETE=false settings disable.
PUSH_APIS='Blob (anonymous mount|chunked|delete|delete atomic|mount|post only|post put|push|streaming|upload cancel)|Manifest (delete|delete atomic|put by digest|put by tag|put with subject|put with tag params)|Tag (delete|delete atomic)'
# The APIs a read-only run must pass.
PULL_APIS=("Ping" "Tag listing" "Blob get" "Blob head" "Manifest get by digest" "Manifest get by tag"
  "Manifest head by digest" "Manifest head by tag" "Referrers")

# run_readonly NAME PORT DIR: the read-only suite through the mirror remote
# hub of the seeded docker-registry. Nothing may fail, error or be skipped;
# only push and delete tests may be disabled; every pull API must pass.
run_readonly() {
  local name="$1-readonly" port="$2" dir="$3" results="$OUT/$1-readonly" rc total passed disabled api
  rm -rf "$results"
  mkdir -p "$results"
  echo "conformance: $name: running the suite against http://127.0.0.1:$port/v2/hub/$RO_REPO (a mirror of docker-registry)"
  # The suite sends Basic credentials to the token service even when it has
  # none, so it authenticates (the mirror's reads are open to anonymous
  # clients too). It cannot check Docker-Content-Digest on manifests it did
  # not push (OCI_API_MANIFESTS_DIGEST_HEADER needs their bytes): left off.
  set +e
  (cd "$dir" && env "${RO_ENV[@]}" OCI_REGISTRY="127.0.0.1:$port" OCI_TLS=disabled \
    OCI_REPO1="hub/$RO_REPO" OCI_REPO2="hub/$RO_REPO-2" \
    OCI_USERNAME=admin OCI_PASSWORD="$TOKEN" OCI_RESULTS_DIR="$results" OCI_LOG=warn \
    OCI_API_PULL=true OCI_API_PUSH=false OCI_API_REFERRER=true \
    OCI_API_BLOBS_DELETE=false OCI_API_MANIFESTS_DELETE=false OCI_API_TAGS_DELETE=false \
    OCI_API_BLOBS_DIGEST_HEADER=true \
    "$WORK/bin/conformance-ro" >"$results/output.txt" 2>&1)
  rc=$?
  set -e
  summary "$name" "$results"
  [ -s "$results/results.yaml" ] || { tail -20 "$results/output.txt" >&2; echo "conformance: FAIL: $name: the suite produced no results" >&2; return 1; }
  total="$(count Total "$results/output.txt")"
  passed="$(count Pass "$results/output.txt")"
  disabled="$(count Disabled "$results/output.txt")"
  if [ "$rc" -ne 0 ] || ! grep -q '^OCI Conformance Result: Pass' "$results/output.txt" ||
    [ -z "$passed" ] || [ "$passed" = 0 ] || [ "$((passed + disabled))" != "$total" ]; then
    problems "$results"
    echo "conformance: FAIL: $name: not every test passed ($passed of $total, $disabled disabled; exit $rc); see $results" >&2
    return 1
  fi
  for api in "${PULL_APIS[@]}"; do
    grep -q "^  $api: Pass\$" "$results/results.yaml" ||
      { echo "conformance: FAIL: $name: $api did not pass ($(grep "^  $api:" "$results/results.yaml"))" >&2; return 1; }
  done
  if grep -E '^  [A-Z][^:]*: Disabled$' "$results/results.yaml" | grep -vE "^  ($PUSH_APIS): Disabled\$" >&2; then
    echo "conformance: FAIL: $name: a test other than push and delete was disabled" >&2
    return 1
  fi
  # Read-only data has no expected referrers: check that the one seeded
  # under the tag schema is listed through the mirror (anonymously).
  curl -s "http://127.0.0.1:$port/v2/hub/$RO_REPO/referrers/$RO_SUBJECT" >"$results/referrers.json" || true
  grep -q "\"$RO_REFERRER\"" "$results/referrers.json" || {
    echo "conformance: FAIL: $name: the mirror does not list the referrer $RO_REFERRER of $RO_SUBJECT: $(cat "$results/referrers.json")" >&2
    return 1
  }
  echo "conformance: $name: every test passed ($passed of $total; the other $disabled, push and delete, disabled); the seeded referrer is listed"
}

summary() { sed -n '/^OCI Conformance Result/,/^$/p' "$2/output.txt" | sed "s/^/conformance: $1: /"; }
problems() { grep -E 'FAIL|Error|Skip' "$1/output.txt" | grep -v ': *0$' | head -40 >&2 || true; }

for b in $BACKENDS; do run_backend "$b"; done
