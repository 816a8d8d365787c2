#!/usr/bin/env bash
# bench/scale.sh — the cost figures behind docs/scaling.md: for each backend
# combination, CPU time per warm 4 KiB hit, per GiB of warm large hits, per
# cold 4 KiB fill and per GiB of cold large fills, for artifactapi and (on
# the production backends) for MinIO, PostgreSQL (the backend processes
# serving this run's database) and Redis (INFO cpu; the server may be shared,
# so its figure is an upper bound), plus the PostgreSQL statements, Redis
# commands and S3 requests counted by artifactapi's own metrics
# (artifactapi_metadata_queries_total, artifactapi_coordination_commands_total,
# artifactapi_blob_requests_total, phases request + fill).
#
# CPU time is read from /proc, so the figures hold on a loaded machine (they
# are CPU, not wall-clock); throughput figures are not taken here.
#
# Run through `make bench` or directly: scripts/with-services.sh bench/scale.sh
# Production runs twice: hot tier off (the S3 path) and on (the default).
# Knobs: BENCH_BACKENDS ("embedded production"), BENCH_SCALE_BIG (256M),
# BENCH_SCALE_FILLS (300 cold 4 KiB fills), BENCH_SCALE_BIG_RUNS (4).
# Prints a Markdown table, also written to bench/out/scaling.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BACKENDS="${BENCH_BACKENDS:-embedded production}"
BIG="${BENCH_SCALE_BIG:-256M}"
FILLS="${BENCH_SCALE_FILLS:-300}"
BIG_RUNS="${BENCH_SCALE_BIG_RUNS:-4}"
NGINX="${NGINX:-/usr/sbin/nginx}"
OUT="$ROOT/bench/out/scaling.md"
BIG_BYTES="$(numfmt --from=iec "$BIG")"
TCK=$(getconf CLK_TCK)

log() { printf '[bench-scale %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
for tool in "$NGINX" wrk curl psql redis-cli go numfmt awk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required (make deps)"
done

W="$(mktemp -d /tmp/artifactapi-bench-scale.XXXXXX)"
PIDS=()
DB_NAME="" REDIS_PREFIX="" BUCKET=""
CREATED=() # "database prefix bucket" of each production run
cleanup() {
  local p db prefix bucket
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for p in "${CREATED[@]}"; do
    read -r db prefix bucket <<<"$p"
    psql -h 127.0.0.1 -U postgres -d postgres -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || log "could not drop $db"
    redis-cli -h 127.0.0.1 --scan --pattern "${prefix}*" 2>/dev/null | xargs -r redis-cli -h 127.0.0.1 del >/dev/null 2>&1 || true
    [ -x "$W/s3clean" ] && "$W/s3clean" -endpoint "$TEST_MINIO_ENDPOINT" -access "$TEST_MINIO_ACCESS_KEY" \
      -secret "$TEST_MINIO_SECRET_KEY" -bucket "$bucket" -timeout 120s >/dev/null 2>&1 || true
  done
  rm -rf "$W"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_url() { local i; for i in $(seq $(($2 * 10))); do curl -sf -o /dev/null --max-time 2 "$1" && return 0; sleep 0.1; done; return 1; }
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
redis_cpu() { redis-cli -h 127.0.0.1 info cpu | awk -F: '/^used_cpu_(sys|user):/{s+=$2} END{printf "%.3f", s}'; }
# pg_pids: the PostgreSQL backends serving this run's database.
pg_pids() { [ -n "$DB_NAME" ] && psql -h 127.0.0.1 -U postgres -d postgres -qAt -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB_NAME'" | tr '\n' ' '; }
# counter NAME: artifactapi's client-side (request + fill) count of a backend counter.
counter() { curl -s "$APP_URL/metrics" | awk -v m="$1" '$1 ~ "^"m"\\{phase=\"(request|fill)\"\\}" {s+=$2} END{printf "%d", s}'; }

go build -o "$W/artifactapi" .
go build -o "$W/s3clean" ./bench/s3clean

# ---------------------------------------------------------------- origin
WWW="$W/www"
mkdir -p "$WWW/small" "$WWW/fill" "$WWW/big" "$W/origin/tmp"
head -c 4096 /dev/urandom >"$WWW/small/f4k.bin"
for i in $(seq "$FILLS"); do head -c 4096 /dev/urandom >"$WWW/fill/$i.bin"; done
for name in embedded production production-hot; do
  for kind in warm cold; do
    truncate -s "$BIG_BYTES" "$WWW/big/$kind-$name.bin"
    head -c 64 /dev/urandom | dd of="$WWW/big/$kind-$name.bin" conv=notrunc status=none
  done
done
ORIGIN_PORT=$(free_port)
USER_LINE=""; [ "$(id -u)" = 0 ] && USER_LINE="user root;"
cat >"$W/origin/nginx.conf" <<EOF
$USER_LINE
daemon off;
worker_processes 1;
pid $W/origin/nginx.pid;
error_log $W/origin/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $W/origin/tmp; proxy_temp_path $W/origin/tmp; fastcgi_temp_path $W/origin/tmp;
  uwsgi_temp_path $W/origin/tmp; scgi_temp_path $W/origin/tmp;
  sendfile on;
  server { listen 127.0.0.1:$ORIGIN_PORT; root $WWW; etag on; }
}
EOF
"$NGINX" -p "$W/origin" -c "$W/origin/nginx.conf" -e "$W/origin/error.log" >/dev/null 2>&1 &
PIDS+=($!)
wait_url "http://127.0.0.1:$ORIGIN_PORT/small/f4k.bin" 10 || die "origin nginx did not start"
cat >"$W/remotes.yaml" <<EOF
remotes:
  bench:
    base_url: "http://127.0.0.1:$ORIGIN_PORT"
    package: generic
    cache:
      immutable_ttl: 0
EOF

declare -A R
COLS=()
set_r() { R["$1|$2"]="$3"; }
get_r() { echo "${R["$1|$2"]:-n/a}"; }
per() { awk -v t="$1" -v n="$2" -v k="$3" -v tck="$TCK" 'BEGIN{ if (n+0 > 0) printf "%.*f", (k > 100 ? 1 : 3), t/tck*k/n; else print "n/a" }'; }

# measure COL KEY N SCALE CMD...: runs CMD and records CPU per unit (N
# units, "wrk": the requests wrk counted; SCALE 1e6: µs per unit, 1: s per
# unit) of each process, and the backend calls per unit.
measure() {
  local col=$1 key=$2 n=$3 scale=$4; shift 4
  local pg; pg=$(pg_pids || true)
  local a0 m0 p0 r0 q0 c0 b0 a1 m1 p1 r1 q1 c1 b1
  a0=$(ticks "$APP_PID"); m0=$(ticks ${MINIO_PID:-}); p0=$(ticks $pg); r0=$(redis_cpu)
  q0=$(counter artifactapi_metadata_queries_total); c0=$(counter artifactapi_coordination_commands_total); b0=$(counter artifactapi_blob_requests_total)
  "$@"
  [ "$n" = wrk ] && n=$(awk '/requests in/{print $1}' "$W/wrk.txt")
  a1=$(ticks "$APP_PID"); m1=$(ticks ${MINIO_PID:-}); p1=$(ticks $pg); r1=$(redis_cpu)
  q1=$(counter artifactapi_metadata_queries_total); c1=$(counter artifactapi_coordination_commands_total); b1=$(counter artifactapi_blob_requests_total)
  set_r "${key}_app" "$col" "$(per $((a1 - a0)) "$n" "$scale")"
  if [[ "$col" == production* ]]; then
    set_r "${key}_minio" "$col" "$(per $((m1 - m0)) "$n" "$scale")"
    set_r "${key}_pg" "$col" "$(per $((p1 - p0)) "$n" "$scale")"
    set_r "${key}_redis" "$col" "$(awk -v a="$r0" -v b="$r1" -v n="$n" -v k="$scale" 'BEGIN{printf "%.*f", (k > 100 ? 1 : 3), (b-a)*k/n}')"
    set_r "${key}_calls" "$col" "$(awk -v q=$((q1 - q0)) -v c=$((c1 - c0)) -v b=$((b1 - b0)) -v n="$n" 'BEGIN{printf "%.2f / %.2f / %.2f", q/n, c/n, b/n}')"
  fi
  log "$col $key: app $(get_r "${key}_app" "$col"), minio $(get_r "${key}_minio" "$col"), pg $(get_r "${key}_pg" "$col"), redis $(get_r "${key}_redis" "$col"), calls $(get_r "${key}_calls" "$col")"
}

warm4k() { timeout 60 wrk -t2 -c32 -d5s "$APP_URL/api/bench/small/f4k.bin" >"$W/wrk.txt"; }
warmbig() { local i; for i in $(seq "$BIG_RUNS"); do curl -sf -o /dev/null "$APP_URL/api/bench/big/warm-$1.bin"; done; }
coldfills() { seq "$FILLS" | xargs -P 4 -I{} curl -sf -o /dev/null "$APP_URL/api/bench/fill/{}.bin"; wait_idle; }
coldbig() { curl -sf -o /dev/null "$APP_URL/api/bench/big/cold-$1.bin"; wait_idle; }
# wait_idle: until no download is in flight (the commit follows the last byte).
wait_idle() { local i; for i in $(seq 300); do curl -s "$APP_URL/metrics" | grep -q '^artifactapi_downloads_in_flight 0$' && return 0; sleep 0.1; done; }

run_backend() {
  local col=$1; shift
  local port; port=$(free_port)
  mkdir -p "$W/$col"
  env -u DBHOST -u DATABASE_URL -u REDIS_URL -u MINIO_ENDPOINT LISTEN_ADDR="127.0.0.1:$port" DATA_DIR="$W/$col/data" \
    REMOTES_CONFIG="$W/remotes.yaml" ADMIN_TOKEN="bench-scale-$(date +%s%N)" LOG_LEVEL=info "$@" \
    "$W/artifactapi" serve >"$W/$col/app.log" 2>&1 &
  APP_PID=$!
  PIDS+=("$APP_PID")
  APP_URL="http://127.0.0.1:$port"
  wait_url "$APP_URL/ready" 60 || { tail -20 "$W/$col/app.log" >&2; die "$col: artifactapi did not become ready"; }
  COLS+=("$col")
  log "$col: priming"
  curl -sf -o /dev/null "$APP_URL/api/bench/small/f4k.bin"
  curl -sf -o /dev/null "$APP_URL/api/bench/big/warm-$col.bin"
  wait_idle
  curl -sf -o /dev/null "$APP_URL/api/bench/small/f4k.bin"
  timeout 30 wrk -t2 -c32 -d1s "$APP_URL/api/bench/small/f4k.bin" >/dev/null
  measure "$col" warm4k wrk 1e6 warm4k
  measure "$col" warmbig "$(awk -v r="$BIG_RUNS" -v b="$BIG_BYTES" 'BEGIN{print r*b/1073741824}')" 1 warmbig "$col"
  measure "$col" cold4k "$FILLS" 1e6 coldfills
  measure "$col" coldbig "$(awk -v b="$BIG_BYTES" 'BEGIN{print b/1073741824}')" 1 coldbig "$col"
  if [[ "$col" == production* ]]; then
    # Hit counts are written in batches (every 2 s): one UPDATE per distinct
    # artifact hit in the period, inside BEGIN/COMMIT. Hit each filled file
    # once, then wait out two flush periods.
    local pg q0 q1 p0 p1
    sleep 2.5 # the previous batch
    pg=$(pg_pids); q0=$(curl -s "$APP_URL/metrics" | awk '/^artifactapi_metadata_queries_total\{phase="background"\}/{print $2}')
    p0=$(ticks $pg)
    seq "$FILLS" | xargs -P 4 -I{} curl -sf -o /dev/null "$APP_URL/api/bench/fill/{}.bin"
    sleep 4.5
    q1=$(curl -s "$APP_URL/metrics" | awk '/^artifactapi_metadata_queries_total\{phase="background"\}/{print $2}')
    p1=$(ticks $pg)
    set_r hitflush_stmts "$col" "$(awk -v a="$q0" -v b="$q1" -v n="$FILLS" 'BEGIN{printf "%.2f", (b-a)/n}')"
    set_r hitflush_pg "$col" "$(per $((p1 - p0)) "$FILLS" 1e6)"
    log "$col: hit-count flush: $(get_r hitflush_stmts "$col") statements and $(get_r hitflush_pg "$col") µs PostgreSQL CPU per distinct artifact hit"
    set_r rowbytes "$col" "$(psql -h 127.0.0.1 -U postgres -d "$DB_NAME" -qAt -c "SELECT pg_total_relation_size('artifacts') / GREATEST(count(*), 1) FROM artifacts")"
  fi
  set_r rss "$col" "$(( $(awk '/VmHWM/{print $2}' "/proc/$APP_PID/status") / 1024 ))"
  kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true
}

APP_PID="" APP_URL="" MINIO_PID=""
if [[ " $BACKENDS " == *" embedded "* ]]; then
  run_backend embedded
fi
if [[ " $BACKENDS " == *" production "* ]]; then
  [ -n "${TEST_MINIO_ENDPOINT:-}" ] || die "production needs TEST_MINIO_* (run through scripts/with-services.sh)"
  MINIO_PID=$(pgrep -f "minio server .*--address $TEST_MINIO_ENDPOINT" | head -1 || true)
  [ -n "$MINIO_PID" ] || log "MinIO's process not found: its CPU is not measured"
  # production: the S3 path (hot tier off); production-hot: the default,
  # warm hits from the replica's hot tier. Each on fresh services.
  for col in production production-hot; do
    id="$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    DB_NAME="bench_scale_$id" REDIS_PREFIX="bench-scale-$id:" BUCKET="bench-scale-$id"
    CREATED+=("$DB_NAME $REDIS_PREFIX $BUCKET")
    psql -h 127.0.0.1 -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB_NAME" >/dev/null
    hot=0; [ "$col" = production-hot ] && hot=4GiB
    run_backend "$col" DBHOST=127.0.0.1 DBPORT=5432 DBUSER=postgres DBNAME="$DB_NAME" DBSSLMODE=disable \
      REDIS_URL=redis://127.0.0.1:6379/0 REDIS_PREFIX="$REDIS_PREFIX" \
      MINIO_ENDPOINT="$TEST_MINIO_ENDPOINT" MINIO_ACCESS_KEY="$TEST_MINIO_ACCESS_KEY" \
      MINIO_SECRET_KEY="$TEST_MINIO_SECRET_KEY" MINIO_BUCKET="$BUCKET" MINIO_SECURE=false HOT_CACHE_SIZE="$hot"
  done
fi

mkdir -p "$(dirname "$OUT")"
{
  echo "### Cost per hit and per GiB (CPU time; bench/scale.sh)"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores; load average at the end $(cut -d' ' -f1-3 /proc/loadavg). Large files: $BIG; cold fills: $FILLS distinct 4 KiB files, 4 clients."
  echo
  printf '| measure |'; for c in "${COLS[@]}"; do printf ' %s |' "$c"; done; echo
  printf '|---|'; for c in "${COLS[@]}"; do printf -- '---|'; done; echo
  row() { local line="| $1 |" c; for c in "${COLS[@]}"; do line="$line $(get_r "$2" "$c") |"; done; echo "$line"; }
  for k in warm4k:"warm 4 KiB hit, µs" warmbig:"warm large hit, s per GiB" cold4k:"cold 4 KiB fill, µs" coldbig:"cold large fill, s per GiB"; do
    key=${k%%:*} label=${k#*:}
    row "$label — artifactapi CPU" "${key}_app"
    row "… MinIO CPU" "${key}_minio"
    row "… PostgreSQL CPU (this database's backends)" "${key}_pg"
    row "… Redis CPU (whole server: an upper bound)" "${key}_redis"
    row "… PostgreSQL statements / Redis commands / S3 requests each" "${key}_calls"
  done
  row "hit counts (batched every 2 s): PostgreSQL statements per distinct artifact hit" hitflush_stmts
  row "… PostgreSQL CPU per distinct artifact hit, µs" hitflush_pg
  row "artifacts table with its indexes, bytes per row (pg_total_relation_size / rows, $((FILLS + 3)) rows)" rowbytes
  row "artifactapi peak RSS, MiB" rss
} >"$OUT"
cat "$OUT"
