#!/usr/bin/env bash
# bench/run.sh — artifactapi against nginx proxy_cache, side by side, both in
# front of the same nginx origin (issue 2, "Benchmarks"). Run it through
# `make bench` (scripts/with-services.sh starts MinIO and checks PostgreSQL
# and Redis) or directly with TEST_MINIO_* exported.
#
# Measures, for nginx proxy_cache and for artifactapi on the embedded backends
# (SQLite + filesystem) and on PostgreSQL + Redis + MinIO:
#   1. warm 4 KiB hits: requests/s with wrk -t2 -c32 -d10s, in alternating
#      rounds (median reported); for artifactapi also with
#      `Authorization: Bearer <API token>` on a scoped remote, and the ratio
#      of the authenticated rate to the anonymous one (target ≥ 0.9)
#   1b. warm 4 KiB hits at each concurrency of BENCH_WRK_CONNS (32 and 256):
#      requests/s, p50 and p99 latency (wrk --latency), rounds alternating
#      with nginx for both artifactapi backends (nginx keeps running
#      through the production rounds), with the p99 ratio to nginx's
#      (target ≤ 1.5 at equal or better requests/s)
#   2. a warm 1 GiB hit: MB/s (curl), alternating runs (median reported)
#   3. a cold 1 GiB file from an origin throttled to 100 MiB/s: time to first
#      byte for the first client and for a client that joins 1 s later
#   4. peak RSS of artifactapi while 16 clients each download a different
#      cold 1 GiB file (VmHWM, plus VmRSS sampled every 100 ms)
#   5. production only: phases 1 and 2 again on a second instance with the
#      hot tier off (HOT_CACHE_SIZE=0), so warm hits read from MinIO, beside
#      the default instance whose warm hits come from its hot tier
# and prints a table, also written to bench/out/results.md.
#
# Knobs (environment): BENCH_BACKENDS ("embedded production"),
# BENCH_BIG_SIZE (1G), BENCH_RSS_CLIENTS (16), BENCH_WRK_DURATION (10s),
# BENCH_WRK_CONNS ("32 256"),
# BENCH_BIG_RUNS (9), BENCH_ORIGIN_RATE (100m, nginx limit_rate),
# BENCH_TIMEOUT (900 s for the whole run), BENCH_KEEP_LOGS=1 (copy the logs
# to bench/out/logs), BENCH_QUICK=1 (the warm 4 KiB phase only, no big
# files), BENCH_PIN / BENCH_SERVER_CPUS / BENCH_CLIENT_CPUS (bench/pin.sh).
# Everything created is removed on exit, even on failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$(go env GOPATH)/bin:$PATH"

BACKENDS="${BENCH_BACKENDS:-embedded production}"
BIG="${BENCH_BIG_SIZE:-1G}"
RSS_CLIENTS="${BENCH_RSS_CLIENTS:-16}"
WRK_DURATION="${BENCH_WRK_DURATION:-10s}"
WRK_CONNS="${BENCH_WRK_CONNS:-32 256}"
ROUNDS="${BENCH_WARM4K_ROUNDS:-3}"
BIG_RUNS="${BENCH_BIG_RUNS:-9}"
RATE="${BENCH_ORIGIN_RATE:-100m}"
TOTAL_TIMEOUT="${BENCH_TIMEOUT:-900}"
QUICK="${BENCH_QUICK:-0}"
# The proxies under test (nginx proxy_cache and artifactapi alike) on the
# server CPUs, wrk and the measuring curls on the client CPUs (bench/pin.sh).
# nginx runs one worker per server CPU; Go sizes GOMAXPROCS from the same
# affinity mask.
# shellcheck source=bench/pin.sh
. "$ROOT/bench/pin.sh"
NG_WORKERS=$("${SPIN[@]}" nproc)
NGINX="${NGINX:-/usr/sbin/nginx}"
OUT_DIR="$ROOT/bench/out"
BIG_BYTES="$(numfmt --from=iec "$BIG")"
GIB=$((1 << 30))

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

for tool in "$NGINX" wrk curl psql redis-cli go numfmt awk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required (make deps)"
done

# ---------------------------------------------------------------- bookkeeping
W="$(mktemp -d /tmp/artifactapi-bench.XXXXXX)"
MAIN_PID=$$
PIDS=()          # every long-running process this script started
DB_NAME=""       # production database to drop
REDIS_PREFIX=""  # production key prefix to delete
BUCKET=""        # production bucket to remove
WATCHDOG=""
START_TS=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

stop_pid() { # stop_pid PID: TERM, then KILL after 10 s
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local keep=() q
  for q in "${PIDS[@]}"; do [ "$q" = "$pid" ] || keep+=("$q"); done
  PIDS=("${keep[@]}")
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
  local p
  for p in "${PIDS[@]}"; do stop_pid "$p"; done 2>/dev/null
  if [ -n "$BUCKET" ] && [ -x "$W/s3clean" ]; then
    "$W/s3clean" -bucket "$BUCKET" -timeout 120s || log "could not remove bucket $BUCKET"
  fi
  if [ -n "$DB_NAME" ]; then
    psql -h 127.0.0.1 -U postgres -d postgres -qAt -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null ||
      log "could not drop database $DB_NAME"
  fi
  if [ -n "$REDIS_PREFIX" ]; then
    redis-cli -h 127.0.0.1 --scan --pattern "${REDIS_PREFIX}*" | head -100000 |
      xargs -r -n 500 redis-cli -h 127.0.0.1 del >/dev/null
  fi
  if [ "${BENCH_KEEP_LOGS:-0}" = 1 ]; then
    mkdir -p "$OUT_DIR/logs" && find "$W" -maxdepth 2 -name '*.log' -size -50M -exec cp {} "$OUT_DIR/logs/" \;
  fi
  rm -rf "$W"
  [ "$rc" -ne 0 ] && log "failed (exit $rc) after $(( $(date +%s) - START_TS )) s; everything created was removed"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 143' INT TERM

# The whole run is bounded: the watchdog TERMs this script, whose trap cleans up.
( sleep "$TOTAL_TIMEOUT" & s=$!; trap 'kill $s 2>/dev/null; exit 0' TERM; wait $s
  echo "[bench] total time limit of ${TOTAL_TIMEOUT}s reached" >&2; kill -TERM "$MAIN_PID" ) &
WATCHDOG=$!

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
rand_id() { od -An -N6 -tx1 /dev/urandom | tr -d ' \n'; }

# wait_url URL SECONDS: until URL answers 2xx.
wait_url() {
  local i
  for i in $(seq $(( $2 * 10 ))); do
    curl -sf -o /dev/null --max-time 2 "$1" && return 0
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------- disk space
# Peak use is the production run: the spool holds the RSS files while MinIO
# stores them (plus the two other big files); nginx's cache is gone by then.
need=$(( (2 * RSS_CLIENTS + 6) * BIG_BYTES + 2 * GIB )) # nginx's two big files stay until production's 4 KiB rounds end
[ "$QUICK" = 1 ] && need=$GIB
avail=$(( $(df -Pk /tmp | awk 'NR==2{print $4}') * 1024 ))
log "disk: $(numfmt --to=iec "$avail") free in /tmp, about $(numfmt --to=iec "$need") needed at peak"
[ "$avail" -ge "$need" ] || die "not enough disk space in /tmp (lower BENCH_RSS_CLIENTS or BENCH_BIG_SIZE)"

# ---------------------------------------------------------------- build
log "building bin/artifactapi and the bucket cleaner"
go build -o bin/artifactapi .
go build -o "$W/s3clean" ./bench/s3clean
APP_BIN="$ROOT/bin/artifactapi"

# ---------------------------------------------------------------- origin
# One nginx origin serves generated files with ETag/Last-Modified: a 4 KiB
# file, a big file (unthrottled) and, under /slow/ (limit_rate), one big cold
# file per proxy run plus the RSS files. Big files are sparse (truncate) with
# a distinct first line, so they cost no disk and each has its own sha256.
log "generating origin files"
WWW="$W/origin/www"
mkdir -p "$WWW/small" "$WWW/big" "$WWW/slow" "$W/origin/logs" "$W/origin/tmp"
head -c 4096 /dev/urandom >"$WWW/small/f4k.bin"
mkbig() { truncate -s "$BIG_BYTES" "$1"; printf '%s %s\n' "$(basename "$1")" "$(rand_id)" | dd of="$1" conv=notrunc status=none; }
mkbig "$WWW/big/warm.bin"
for name in nginx embedded production; do mkbig "$WWW/slow/cold-$name.bin"; done
for i in $(seq -w 1 "$RSS_CLIENTS"); do mkbig "$WWW/slow/rss-$i.bin"; done

USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"

ORIGIN_PORT=$(free_port)
cat >"$W/origin/nginx.conf" <<EOF
$USER_LINE
daemon off;
worker_processes 2;
pid $W/origin/nginx.pid;
error_log $W/origin/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log $W/origin/logs/access.log;
  client_body_temp_path $W/origin/tmp/body;
  proxy_temp_path $W/origin/tmp/proxy;
  fastcgi_temp_path $W/origin/tmp/fastcgi;
  uwsgi_temp_path $W/origin/tmp/uwsgi;
  scgi_temp_path $W/origin/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$ORIGIN_PORT;
    root $WWW;
    etag on;
    location /slow/ { limit_rate $RATE; }
  }
}
EOF
"$NGINX" -p "$W/origin" -c "$W/origin/nginx.conf" -e "$W/origin/logs/error.log" >"$W/origin/logs/stdout.log" 2>&1 &
PIDS+=($!)
wait_url "http://127.0.0.1:$ORIGIN_PORT/small/f4k.bin" 10 || die "origin nginx did not start: $(cat "$W/origin/logs/error.log")"
hdrs=$(curl -sI "http://127.0.0.1:$ORIGIN_PORT/small/f4k.bin")
grep -qi '^etag:' <<<"$hdrs" || die "origin sends no ETag"
log "origin nginx on 127.0.0.1:$ORIGIN_PORT (/slow/ limited to $RATE per connection)"

# ---------------------------------------------------------------- results
declare -A R   # R[metric|column]
COLS=(nginx)
set_r() { R["$1|$2"]="$3"; }
get_r() { echo "${R["$1|$2"]:-n/a}"; }

# is_hit URL KIND [AUTHORIZATION]: the proxy answers URL from its cache (KIND nginx|app).
is_hit() {
  local h
  h=$(curl -s -o /dev/null -D - --max-time 10 ${3:+-H "Authorization: $3"} "$1" 2>/dev/null | tr -d '\r')
  if [ "$2" = nginx ]; then grep -qi '^x-cache: HIT' <<<"$h"; else grep -qi '^x-artifact-source: cache' <<<"$h"; fi
}
wait_hit() { # wait_hit URL KIND SECONDS [AUTHORIZATION]
  local i
  for i in $(seq $(( $3 * 2 ))); do is_hit "$1" "$2" "${4:-}" && return 0; sleep 0.5; done
  return 1
}
TCK=$(getconf CLK_TCK)
# cpu_ticks PID...: user+system CPU ticks of the processes.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
# server_pids COL: the processes that serve COL (nginx: its workers).
server_pids() {
  if [ "$1" = nginx ]; then pgrep -P "$NG_PID" | tr '\n' ' '; else echo "$APP_PID"; fi
}
mbps() { awk -v b="$1" 'BEGIN{printf "%.0f", b/1e6}'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{if(NR==0){print "n/a"} else if(NR%2){print a[(NR+1)/2]} else {printf "%.0f", (a[NR/2]+a[NR/2+1])/2}}'; }

# bench_warm4k COL URL KIND [AUTHORIZATION]: one round of warm 4 KiB hits.
# Rounds of the columns alternate (nginx, app, app with a token, nginx…)
# and the table gives each column's median, so a burst of load from
# elsewhere on the machine cannot decide the comparison alone; every
# round's figure is printed too. With AUTHORIZATION the figures go to the
# warm4k_auth_* rows of COL.
bench_warm4k() {
  local col=$1 url=$2 kind=$3 auth=${4:-} f="$W/wrk-$1.txt" key=$1 metric=warm4k label=$1
  [ -n "$auth" ] && key="$col+auth" metric=warm4k_auth label="$col, with an API token"
  local hdr=()
  [ -n "$auth" ] && hdr=(-H "Authorization: $auth")
  curl -sf -o /dev/null --max-time 10 "${hdr[@]}" "$url" || die "$label: GET $url failed"
  wait_hit "$url" "$kind" 20 "$auth" || die "$label: $url is not a cache hit"
  timeout 30 "${CPIN[@]}" wrk -t2 -c32 -d2s "${hdr[@]}" "$url" >/dev/null # warm-up (connections, page cache, verified credential)
  local pids c0 c1
  pids=$(server_pids "$col")
  # shellcheck disable=SC2086 # a list of pids
  c0=$(cpu_ticks $pids)
  timeout 60 "${CPIN[@]}" wrk -t2 -c32 -d"$WRK_DURATION" --latency "${hdr[@]}" "$url" >"$f" &
  wait $! || die "$col: wrk failed: $(cat "$f")"
  # shellcheck disable=SC2086
  c1=$(cpu_ticks $pids)
  local total cpu rps p99 bad
  total=$(awk '/requests in/{print $1}' "$f")
  cpu=$(awk -v c=$((c1 - c0)) -v n="$total" -v t="$TCK" 'BEGIN{printf "%.1f", c/t*1e6/n}')
  rps=$(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$f")
  p99=$(awk '$1=="99%"{print $2}' "$f")
  bad=$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$f")
  [ -n "$bad" ] && die "$label: $bad non-2xx answers to warm 4 KiB hits"
  [ -z "$auth" ] && record_lat "$col" 32 "$f"
  W4_RPS[$key]="${W4_RPS[$key]:-} $rps"
  W4_CPU[$key]="${W4_CPU[$key]:-} $cpu"
  W4_P99[$key]="${W4_P99[$key]:-}${W4_P99[$key]:+/}${p99:-n/a}"
  set_r ${metric}_rps "$col" "$(median <<<"${W4_RPS[$key]}")"
  set_r ${metric}_runs "$col" "$(echo ${W4_RPS[$key]} | tr ' ' '/')"
  set_r ${metric}_cpu "$col" "$(tr ' ' '\n' <<<"${W4_CPU[$key]}" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')"
  set_r ${metric}_p99 "$col" "${W4_P99[$key]}"
  log "$label: warm 4 KiB: $rps req/s, p99 $p99, $cpu µs CPU per request"
}
# to_ms LATENCY: a wrk latency (123.45us, 1.20ms, 1.05s, 2.00m) in ms.
to_ms() {
  awk -v v="$1" 'BEGIN{
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v/1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.0f", v*60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.0f", v*1000 }
    else print "n/a" }'
}
# medianf: the median of decimal numbers on stdin (space separated).
medianf() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{a[NR]=$1} END{if(NR==0){print "n/a"} else if(NR%2){print a[(NR+1)/2]} else {printf "%.3g", (a[NR/2]+a[NR/2+1])/2}}'; }
declare -A LAT_RPS LAT_P50 LAT_P99 LAT_CPU

# record_lat COL CONNS WRKFILE: the requests/s, p50 and p99 of one wrk run
# into the lat_c<CONNS>_* rows of COL.
record_lat() {
  local col=$1 c=$2 f=$3 k="$1|$2" rps p50 p99
  rps=$(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$f")
  p50=$(to_ms "$(awk '$1=="50%"{print $2}' "$f")")
  p99=$(to_ms "$(awk '$1=="99%"{print $2}' "$f")")
  LAT_RPS[$k]="${LAT_RPS[$k]:-} $rps"
  LAT_P50[$k]="${LAT_P50[$k]:-} $p50"
  LAT_P99[$k]="${LAT_P99[$k]:-} $p99"
  set_r "lat_c${c}_rps" "$col" "$(median <<<"${LAT_RPS[$k]}")"
  set_r "lat_c${c}_p50" "$col" "$(medianf <<<"${LAT_P50[$k]}")"
  set_r "lat_c${c}_p99" "$col" "$(medianf <<<"${LAT_P99[$k]}")"
  set_r "lat_c${c}_runs" "$col" "$(echo ${LAT_RPS[$k]} | tr ' ' '/') req/s; p99 $(echo ${LAT_P99[$k]} | tr ' ' '/') ms"
}

# bench_lat COL URL KIND CONNS: one round of warm 4 KiB hits at CONNS
# connections (anonymous). -c32 rounds come from bench_warm4k.
bench_lat() {
  local col=$1 url=$2 kind=$3 c=$4 f="$W/wrk-lat-$1-$4.txt"
  wait_hit "$url" "$kind" 20 || die "$col: $url is not a cache hit"
  timeout 30 "${CPIN[@]}" wrk -t2 -c"$c" -d2s "$url" >/dev/null # warm-up: the connections
  local pids c0 c1
  pids=$(server_pids "$col")
  # shellcheck disable=SC2086 # a list of pids
  c0=$(cpu_ticks $pids)
  timeout 60 "${CPIN[@]}" wrk -t2 -c"$c" -d"$WRK_DURATION" --latency "$url" >"$f" &
  wait $! || die "$col: wrk -c$c failed: $(cat "$f")"
  # shellcheck disable=SC2086
  c1=$(cpu_ticks $pids)
  LAT_CPU["$col|$c"]="${LAT_CPU["$col|$c"]:-} $(awk -v c=$((c1 - c0)) -v n="$(awk '/requests in/{print $1}' "$f")" -v t="$TCK" 'BEGIN{printf "%.1f", c/t*1e6/n}')"
  set_r "lat_c${c}_cpu" "$col" "$(medianf <<<"${LAT_CPU["$col|$c"]}")"
  local bad
  bad=$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$f")
  [ -n "$bad" ] && die "$col: $bad non-2xx answers at -c$c"
  record_lat "$col" "$c" "$f"
  log "$col: warm 4 KiB at -c$c: $(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$f") req/s, p50 $(awk '$1=="50%"{print $2}' "$f"), p99 $(awk '$1=="99%"{print $2}' "$f")"
}

# lat_rounds COL URL: the latency rounds above -c32 of COL, each right
# after the same round of nginx.
lat_rounds() {
  local c
  for c in $WRK_CONNS; do
    [ "$c" = 32 ] && continue
    bench_lat nginx "$NGURL/small/f4k.bin" nginx "$c"
    bench_lat "$1" "$2" app "$c"
  done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (b+0 > 0) printf "%.2f", a/b; else print "n/a"}'; }
declare -A W4_RATIO
declare -A W4_RPS W4_CPU W4_P99

# prime_big COL URL KIND: download URL once and wait until it is a hit.
prime_big() {
  log "$1: priming $2"
  curl -sf -o /dev/null --max-time 120 "$2" & wait $! || die "$1: priming $2 failed"
  wait_hit "$2" "$3" 120 || die "$1: $2 not cached 120 s after its download"
}

# bench_warmbig COL URL: one timed download of a primed big file. Runs of the
# columns alternate, like the 4 KiB rounds; the table gives medians.
bench_warmbig() {
  local col=$1 url=$2 out pids c0 c1 code size speed
  pids=$(server_pids "$col")
  # shellcheck disable=SC2086
  c0=$(cpu_ticks $pids)
  out=$("${CPIN[@]}" curl -s -o /dev/null --max-time 120 -w '%{http_code} %{size_download} %{speed_download}' "$url") || die "$col: warm big GET failed"
  # shellcheck disable=SC2086
  c1=$(cpu_ticks $pids)
  read -r code size speed <<<"$out"
  [ "$code" = 200 ] && [ "$size" = "$BIG_BYTES" ] || die "$col: warm big hit: status $code, $size bytes"
  WB_RUNS[$col]="${WB_RUNS[$col]:-} $(mbps "$speed")"
  WB_CPU[$col]="${WB_CPU[$col]:-} $(awk -v c=$((c1 - c0)) -v t="$TCK" -v s="$BIG_BYTES" 'BEGIN{printf "%.2f", c/t*1073741824/s}')"
  set_r warmbig_mbps "$col" "$(median <<<"${WB_RUNS[$col]}")"
  set_r warmbig_cpu "$col" "$(tr ' ' '\n' <<<"${WB_CPU[$col]}" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')"
  set_r warmbig_runs "$col" "$(echo ${WB_RUNS[$col]} | tr ' ' '/')"
  log "$col: warm $BIG hit: $(mbps "$speed") MB/s"
}
declare -A WB_RUNS WB_CPU

# bench_cold COL URL: first client at t=0, a joiner at t=1 s.
bench_cold() {
  local col=$1 url=$2 fmt='%{http_code} %{size_download} %{time_starttransfer} %{time_total}' p1 p2
  log "$col: cold $BIG through the throttled origin: first client, joiner at +1 s"
  "${CPIN[@]}" curl -s -o /dev/null --max-time 180 -w "$fmt" "$url" >"$W/cold-$col-1.txt" & p1=$!
  sleep 1
  "${CPIN[@]}" curl -s -o /dev/null --max-time 180 -w "$fmt" "$url" >"$W/cold-$col-2.txt" & p2=$!
  wait "$p1" || true
  wait "$p2" || true
  local c1 s1 t1 T1 c2 s2 t2 T2
  read -r c1 s1 t1 T1 <"$W/cold-$col-1.txt" || true
  read -r c2 s2 t2 T2 <"$W/cold-$col-2.txt" || true
  [ "${c1:-}" = 200 ] && [ "${s1:-}" = "$BIG_BYTES" ] || die "$col: cold first client: status ${c1:-none}, ${s1:-0} bytes"
  [ "${c2:-}" = 200 ] && [ "${s2:-}" = "$BIG_BYTES" ] || die "$col: cold joiner: status ${c2:-none}, ${s2:-0} bytes"
  set_r cold_ttfb1 "$col" "$(printf '%.3f' "$t1")"
  set_r cold_ttfb2 "$col" "$(printf '%.3f' "$t2")"
  set_r cold_total "$col" "$(printf '%.1f / %.1f' "$T1" "$T2")"
  log "$col: TTFB first $t1 s, joiner $t2 s; totals $T1 s / $T2 s"
}

kb() { awk -v k="$2" '$1==k":"{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# bench_rss COL APPURL PID: RSS_CLIENTS clients, each a different cold file.
bench_rss() {
  local col=$1 app=$2 pid=$3 i stop="$W/rss-$1.stop" csv="$W/rss-$1.csv"
  local base="$app/api/bench"
  local idle; idle=$(kb "$pid" VmRSS)
  echo 5 2>/dev/null >"/proc/$pid/clear_refs" || log "cannot reset VmHWM; it includes earlier phases"
  ( max=0; t0=$(date +%s%N)
    while [ ! -e "$stop" ] && [ -r "/proc/$pid/status" ]; do
      v=$(kb "$pid" VmRSS); v=${v:-0}
      [ "$v" -gt "$max" ] && max=$v
      echo "$(( ($(date +%s%N) - t0) / 1000000 )),$v" >>"$csv"
      sleep 0.1
    done
    echo "$max" >"$W/rss-$col.max" ) &
  local sampler=$! t0 t1 t2 pids=()
  log "$col: $RSS_CLIENTS clients, each a different cold $BIG file (idle RSS $((idle / 1024)) MiB)"
  t0=$(date +%s.%N)
  for i in $(seq -w 1 "$RSS_CLIENTS"); do
    "${CPIN[@]}" curl -s -o /dev/null --max-time 400 -w '%{http_code} %{size_download}' "$base/slow/rss-$i.bin" >"$W/rss-$col-$i.txt" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || true; done
  t1=$(date +%s.%N)
  # Commits (fsync, S3 upload) run after the last byte: keep sampling until
  # no download is in flight.
  for i in $(seq 2400); do
    # (no "curl | grep -q" under pipefail: grep's early exit fails curl)
    m=$(curl -s --max-time 5 "$app/metrics" || true)
    grep -q '^artifactapi_downloads_in_flight 0$' <<<"$m" && break
    sleep 0.25
  done
  t2=$(date +%s.%N)
  touch "$stop"; wait "$sampler" || true
  local ok=0 code size
  for i in $(seq -w 1 "$RSS_CLIENTS"); do
    read -r code size <"$W/rss-$col-$i.txt" || true
    [ "${code:-}" = 200 ] && [ "${size:-}" = "$BIG_BYTES" ] && ok=$((ok + 1))
  done
  local hwm peak
  hwm=$(kb "$pid" VmHWM); peak=$(cat "$W/rss-$col.max" 2>/dev/null || echo 0)
  cp "$csv" "$OUT_DIR/rss-$col.csv" 2>/dev/null || true
  set_r rss_hwm "$col" "$((hwm / 1024))"
  set_r rss_peak "$col" "$((peak / 1024))"
  set_r rss_idle "$col" "$((idle / 1024))"
  set_r rss_ok "$col" "$ok/$RSS_CLIENTS"
  set_r rss_time "$col" "$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN{printf "%.0f / %.0f", b-a, c-a}')"
  set_r rss_mbps "$col" "$(awk -v a="$t0" -v b="$t1" -v n="$RSS_CLIENTS" -v s="$BIG_BYTES" 'BEGIN{printf "%.0f", n*s/(b-a)/1e6}')"
  log "$col: peak RSS $((hwm / 1024)) MiB (VmHWM), sampled max $((peak / 1024)) MiB; $ok/$RSS_CLIENTS complete; $(get_r rss_time "$col") s"
  [ "$ok" = "$RSS_CLIENTS" ] || die "$col: only $ok of $RSS_CLIENTS RSS downloads completed"
}

# ---------------------------------------------------------------- nginx proxy_cache
NG="$W/nginx-cache"
mkdir -p "$NG/cache" "$NG/tmp" "$NG/logs"
NG_PORT=$(free_port)
cat >"$NG/nginx.conf" <<EOF
$USER_LINE
daemon off;
worker_processes $NG_WORKERS;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log $NG/logs/access.log;
  client_body_temp_path $NG/tmp/body;
  proxy_temp_path $NG/tmp/proxy;
  fastcgi_temp_path $NG/tmp/fastcgi;
  uwsgi_temp_path $NG/tmp/uwsgi;
  scgi_temp_path $NG/tmp/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  proxy_cache_path $NG/cache levels=1:2 keys_zone=bench:10m max_size=40g inactive=1h use_temp_path=off;
  upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 32; }
  server {
    listen 127.0.0.1:$NG_PORT;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      proxy_cache_key \$uri;
      proxy_cache_valid 200 1h;
      proxy_cache_lock on;
      # Waiters hold until the first download is cached, however long it takes
      # (the defaults of 5 s would send a second request upstream instead).
      proxy_cache_lock_timeout 120s;
      proxy_cache_lock_age 120s;
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
EOF
"${SPIN[@]}" "$NGINX" -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" >"$NG/logs/stdout.log" 2>&1 &
NG_PID=$!
PIDS+=("$NG_PID")
wait_url "http://127.0.0.1:$NG_PORT/small/f4k.bin" 10 || die "nginx proxy_cache did not start: $(cat "$NG/logs/error.log")"
NGURL="http://127.0.0.1:$NG_PORT"
log "nginx proxy_cache on 127.0.0.1:$NG_PORT"

# ---------------------------------------------------------------- artifactapi
ADMIN_TOKEN="bench-$(rand_id)$(rand_id)$(rand_id)"
cat >"$W/remotes.yaml" <<EOF
remotes:
  bench:
    base_url: "http://127.0.0.1:$ORIGIN_PORT"
    package: generic
    cache:
      immutable_ttl: 0
  bench-private:
    base_url: "http://127.0.0.1:$ORIGIN_PORT"
    package: generic
    access: scoped
    cache:
      immutable_ttl: 0
EOF
"$APP_BIN" check-config "$W/remotes.yaml" >/dev/null

APP_PID=""
APP_URL=""
# start_app NAME VAR=VALUE...: a fresh artifactapi with only the given backend variables.
start_app() {
  local name=$1; shift
  # The previous phases wrote gigabytes (cold fills, the RSS clients): their
  # writeback would otherwise run during this instance's first rounds.
  sync
  local port; port=$(free_port)
  mkdir -p "$W/$name"
  env -u DBHOST -u DBPORT -u DBUSER -u DBPASS -u DBNAME -u DATABASE_URL -u REDIS_URL -u REDIS_PREFIX \
    -u MINIO_ENDPOINT -u MINIO_ACCESS_KEY -u MINIO_SECRET_KEY -u MINIO_BUCKET -u MINIO_SECURE \
    LISTEN_ADDR="127.0.0.1:$port" DATA_DIR="$W/$name/data" REMOTES_CONFIG="$W/remotes.yaml" \
    ADMIN_TOKEN="$ADMIN_TOKEN" LOG_LEVEL=info "$@" \
    "${SPIN[@]}" "$APP_BIN" serve >"$W/$name/app.log" 2>&1 &
  APP_PID=$!
  PIDS+=("$APP_PID")
  APP_URL="http://127.0.0.1:$port"
  wait_url "$APP_URL/ready" 60 || { tail -20 "$W/$name/app.log" >&2; die "$name: artifactapi did not become ready"; }
  log "$name: artifactapi pid $APP_PID on $APP_URL ($(curl -s "$APP_URL/health" | tr -d '\n' | head -c 300))"
  # An API token that may read bench-private: each authenticated hit checks it.
  local answer
  answer=$(curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$APP_URL/admin/tokens" \
    -d '{"name": "bench", "owner": "bench", "owner_kind": "service", "scopes": ["read:bench-private"]}') ||
    die "$name: could not create an API token"
  API_TOKEN=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' <<<"$answer")
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$APP_URL/api/bench-private/small/f4k.bin")" = 401 ] ||
    die "$name: bench-private answers without a credential"
}
API_TOKEN=""
# warm4k_app NAME: one round of the app's warm 4 KiB hits, anonymous and with
# the token, in an order that alternates from round to round (the second of
# two back-to-back runs tended to be the slower one, which favoured the
# anonymous figure), then the ratio of the two: of the medians, and of this
# round's pair, which saw about the same machine.
declare -A W4_ORDER
warm4k_app() {
  local col=$1
  W4_ORDER[$col]=$(( ${W4_ORDER[$col]:-0} + 1 ))
  if (( W4_ORDER[$col] % 2 )); then
    bench_warm4k "$col" "$APP_URL/api/bench/small/f4k.bin" app
    bench_warm4k "$col" "$APP_URL/api/bench-private/small/f4k.bin" app "Bearer $API_TOKEN"
  else
    bench_warm4k "$col" "$APP_URL/api/bench-private/small/f4k.bin" app "Bearer $API_TOKEN"
    bench_warm4k "$col" "$APP_URL/api/bench/small/f4k.bin" app
  fi
  local anon_rps=${W4_RPS[$col]##* } auth_rps=${W4_RPS[$col+auth]##* }
  W4_RATIO[$col]="${W4_RATIO[$col]:-}${W4_RATIO[$col]:+/}$(ratio "$auth_rps" "$anon_rps")"
  set_r warm4k_ratio "$col" "$(ratio "$(get_r warm4k_auth_rps "$col")" "$(get_r warm4k_rps "$col")")"
  set_r warm4k_ratio_runs "$col" "${W4_RATIO[$col]}"
}

run_backend() { # run_backend NAME
  local name=$1
  for _ in $(seq "$ROUNDS"); do
    bench_warm4k nginx "$NGURL/small/f4k.bin" nginx
    warm4k_app "$name"
    lat_rounds "$name" "$APP_URL/api/bench/small/f4k.bin"
  done
  # nginx keeps running (its files stay in its cache): the second production
  # instance's rounds alternate with it too.
  if [ "$QUICK" = 1 ]; then stop_pid "$APP_PID"; return; fi
  prime_big "$name" "$APP_URL/api/bench/big/warm.bin" app
  for _ in $(seq "$BIG_RUNS"); do bench_warmbig "$name" "$APP_URL/api/bench/big/warm.bin"; done
  bench_cold "$name" "$APP_URL/api/bench/slow/cold-$name.bin"
  bench_rss "$name" "$APP_URL" "$APP_PID"
  cp "$W/$name/app.log" "$W/app-$name.log" 2>/dev/null || true
  stop_pid "$APP_PID"
}

mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/rss-*.csv

# nginx and the embedded artifactapi run alternately, phase by phase.
if [[ " $BACKENDS " == *" embedded "* ]]; then
  COLS+=(embedded)
  start_app embedded
  for _ in $(seq "$ROUNDS"); do
    bench_warm4k nginx "$NGURL/small/f4k.bin" nginx
    warm4k_app embedded
    lat_rounds embedded "$APP_URL/api/bench/small/f4k.bin"
  done
  if [ "$QUICK" = 1 ]; then stop_pid "$APP_PID"; else
  prime_big nginx "$NGURL/big/warm.bin" nginx
  prime_big embedded "$APP_URL/api/bench/big/warm.bin" app
  for _ in $(seq "$BIG_RUNS"); do
    bench_warmbig nginx "$NGURL/big/warm.bin"
    bench_warmbig embedded "$APP_URL/api/bench/big/warm.bin"
  done
  bench_cold nginx "$NGURL/slow/cold-nginx.bin"
  bench_cold embedded "$APP_URL/api/bench/slow/cold-embedded.bin"
  bench_rss embedded "$APP_URL" "$APP_PID"
  stop_pid "$APP_PID"
  fi
  rm -rf "$W/embedded/data"
else
  for _ in $(seq "$ROUNDS"); do bench_warm4k nginx "$NGURL/small/f4k.bin" nginx; done
  if [ "$QUICK" != 1 ]; then
    prime_big nginx "$NGURL/big/warm.bin" nginx
    for _ in $(seq "$BIG_RUNS"); do bench_warmbig nginx "$NGURL/big/warm.bin"; done
    bench_cold nginx "$NGURL/slow/cold-nginx.bin"
  fi
fi
if [[ " $BACKENDS " == *" production "* ]] && [ -n "${TEST_MINIO_ENDPOINT:-}" ]; then
  : # nginx keeps running: the production warm 4 KiB rounds alternate with it (stopped after them)
else
  stop_pid "$NG_PID"
  rm -rf "$NG/cache"
fi

if [[ " $BACKENDS " == *" production "* ]]; then
  if [ -z "${TEST_MINIO_ENDPOINT:-}" ]; then
    log "production: skipped, TEST_MINIO_ENDPOINT is not set (run through make bench)"
  else
    COLS+=(production)
    id=$(rand_id)
    DB_NAME="bench_$id"
    psql -h 127.0.0.1 -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB_NAME" >/dev/null ||
      die "cannot create database $DB_NAME"
    REDIS_PREFIX="bench-$id:"
    BUCKET="bench-$id"
    export MINIO_ENDPOINT="$TEST_MINIO_ENDPOINT" MINIO_ACCESS_KEY="$TEST_MINIO_ACCESS_KEY" MINIO_SECRET_KEY="$TEST_MINIO_SECRET_KEY"
    start_app production DBHOST=127.0.0.1 DBPORT=5432 DBUSER=postgres DBNAME="$DB_NAME" DBSSLMODE=disable \
      REDIS_URL=redis://127.0.0.1:6379 REDIS_PREFIX="$REDIS_PREFIX" \
      MINIO_ENDPOINT="$TEST_MINIO_ENDPOINT" MINIO_ACCESS_KEY="$TEST_MINIO_ACCESS_KEY" \
      MINIO_SECRET_KEY="$TEST_MINIO_SECRET_KEY" MINIO_BUCKET="$BUCKET" MINIO_SECURE=false
    health=$(curl -s "$APP_URL/health")
    grep -q '"backend":"s3' <<<"$health" || die "production: the app is not on S3: $health"
    run_backend production
    # The same database and bucket (everything is warm in MinIO), no hot tier.
    COLS+=(production-nohot)
    start_app production-nohot DBHOST=127.0.0.1 DBPORT=5432 DBUSER=postgres DBNAME="$DB_NAME" DBSSLMODE=disable \
      REDIS_URL=redis://127.0.0.1:6379 REDIS_PREFIX="$REDIS_PREFIX" \
      MINIO_ENDPOINT="$TEST_MINIO_ENDPOINT" MINIO_ACCESS_KEY="$TEST_MINIO_ACCESS_KEY" \
      MINIO_SECRET_KEY="$TEST_MINIO_SECRET_KEY" MINIO_BUCKET="$BUCKET" MINIO_SECURE=false HOT_CACHE_SIZE=0
    for _ in $(seq "$ROUNDS"); do
      bench_warm4k nginx "$NGURL/small/f4k.bin" nginx
      warm4k_app production-nohot
      lat_rounds production-nohot "$APP_URL/api/bench/small/f4k.bin"
    done
    stop_pid "$NG_PID"
    rm -rf "$NG/cache"
    if [ "$QUICK" != 1 ]; then
      prime_big production-nohot "$APP_URL/api/bench/big/warm.bin" app
      for _ in $(seq "$BIG_RUNS"); do bench_warmbig production-nohot "$APP_URL/api/bench/big/warm.bin"; done
    fi
    stop_pid "$APP_PID"
  fi
fi

# ---------------------------------------------------------------- report
ELAPSED=$(( $(date +%s) - START_TS ))
head_cols() {
  local c
  for c in "${COLS[@]}"; do
    case $c in
      nginx) printf ' nginx proxy_cache |' ;;
      embedded) printf ' artifactapi, embedded (SQLite + FS) |' ;;
      production) printf ' artifactapi, PostgreSQL + Redis + MinIO (hot tier on, the default) |' ;;
      production-nohot) printf ' artifactapi, PostgreSQL + Redis + MinIO, hot tier off |' ;;
    esac
  done
}
row() { # row LABEL KEY TARGET
  local c line="| $1 |"
  for c in "${COLS[@]}"; do line="$line $(get_r "$2" "$c") |"; done
  echo "$line $3 |"
}
verdict() { # verdict TEXT OK
  if [ "$2" = 1 ]; then echo "- PASS: $1"; else echo "- MISS: $1"; fi
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a+0 >= b+0)}' && echo 1 || echo 0; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a+0 < b+0)}' && echo 1 || echo 0; }

REPORT="$OUT_DIR/results.md"
{
  echo "# artifactapi vs nginx proxy_cache"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), commit ${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- app 2>/dev/null || echo ' (app/ modified)')}, $(nproc) cores, $(uname -r), $(go version | awk '{print $3}'), $("$NGINX" -v 2>&1 | sed 's/.*version: //')."
  echo "Load average (1/5/15 min) at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg). Anything above ~1 means other processes shared the 2 cores: throughput figures are then noisy, CPU per request much less so."
  if [ -n "$SERVER_CPUS" ]; then
    echo "Proxies under test on CPUs $SERVER_CPUS (nginx: $NG_WORKERS workers), wrk and the measuring curls on CPUs $CLIENT_CPUS (BENCH_PIN=0: all on every CPU); PostgreSQL, Redis, MinIO and the origin unpinned."
  else
    echo "No CPU pinning: the proxies, wrk and curl share every CPU."
  fi
  echo "Same nginx origin for all (ETag on; /slow/ at limit_rate $RATE per connection); big files are $BIG; all on 127.0.0.1; ${ELAPSED} s in all."
  echo
  echo "|  Measure |$(head_cols) Target |"
  echo "|---|$(for c in "${COLS[@]}"; do printf -- '---|'; done)---|"
  row "Warm 4 KiB hits, requests/s (wrk -t2 -c32 -d$WRK_DURATION, median of $ROUNDS alternating rounds)" warm4k_rps "≥ nginx (embedded)"
  row "Warm 4 KiB hits, requests/s each round" warm4k_runs ""
  row "Warm 4 KiB hits, p99 latency each round" warm4k_p99 ""
  row "Warm 4 KiB hits, server CPU per request, µs (median)" warm4k_cpu ""
  for c in $WRK_CONNS; do
    for col in "${COLS[@]}"; do
      [ "$col" = nginx ] && continue
      set_r "lat_c${c}_p99ratio" "$col" "$(ratio "$(get_r "lat_c${c}_p99" "$col")" "$(get_r "lat_c${c}_p99" nginx)")"
      set_r "lat_c${c}_rpsratio" "$col" "$(ratio "$(get_r "lat_c${c}_rps" "$col")" "$(get_r "lat_c${c}_rps" nginx)")"
    done
    row "Warm 4 KiB, wrk -t2 -c$c: requests/s (median of rounds)" "lat_c${c}_rps" ""
    row "… p50 latency, ms (median of rounds)" "lat_c${c}_p50" ""
    row "… p99 latency, ms (median of rounds)" "lat_c${c}_p99" ""
    row "… each round" "lat_c${c}_runs" ""
    [ "$c" = 32 ] || row "… server CPU per request, µs (median of rounds; holds on a loaded machine)" "lat_c${c}_cpu" ""
    row "… requests/s / nginx's" "lat_c${c}_rpsratio" "≥ 1.0"
    row "… p99 / nginx's p99" "lat_c${c}_p99ratio" "≤ 1.5"
  done
  row "Warm 4 KiB hits with \`Authorization: Bearer <API token>\` (scoped remote), requests/s (median)" warm4k_auth_rps ""
  row "… each round" warm4k_auth_runs ""
  row "… p99 latency each round" warm4k_auth_p99 ""
  row "… server CPU per request, µs (median)" warm4k_auth_cpu ""
  row "Authenticated / anonymous warm 4 KiB rate (medians)" warm4k_ratio "≥ 0.9"
  row "… each round (token run / the anonymous run beside it; rounds alternate which runs first)" warm4k_ratio_runs ""
  if [ "$QUICK" != 1 ]; then
  row "Warm $BIG hit, MB/s (median of $BIG_RUNS alternating runs)" warmbig_mbps "≥ nginx (embedded)"
  row "Warm $BIG hit, MB/s each run" warmbig_runs ""
  row "Warm $BIG hit, server CPU seconds per GiB (median)" warmbig_cpu ""
  row "Cold $BIG at $RATE/s: first client TTFB, s" cold_ttfb1 ""
  row "Cold $BIG: client joining at +1 s, TTFB, s" cold_ttfb2 "< 0.5 s"
  row "Cold $BIG: total time first / joiner, s" cold_total ""
  row "$RSS_CLIENTS clients × different cold $BIG: peak RSS (VmHWM), MiB" rss_hwm "< 150 MiB"
  row "… peak VmRSS sampled every 100 ms, MiB" rss_peak ""
  row "… RSS before the downloads, MiB" rss_idle ""
  row "… downloads complete" rss_ok ""
  row "… last byte / all committed, s after start" rss_time ""
  row "… aggregate client throughput, MB/s" rss_mbps ""
  fi
  echo
  echo "MB = 10^6 bytes. TTFB = curl time_starttransfer from that client's own start. nginx: proxy_cache_lock on, lock timeout/age 120 s, so the joiner waits for the cached file. RSS is not measured for nginx."
  echo
  if [[ " ${COLS[*]} " == *" embedded "* ]]; then
    verdict "embedded warm 4 KiB req/s ≥ nginx ($(get_r warm4k_rps embedded) vs $(get_r warm4k_rps nginx))" "$(ge "$(get_r warm4k_rps embedded)" "$(get_r warm4k_rps nginx)")"
    [ "$QUICK" = 1 ] || verdict "embedded warm $BIG MB/s ≥ nginx ($(get_r warmbig_mbps embedded) vs $(get_r warmbig_mbps nginx))" "$(ge "$(get_r warmbig_mbps embedded)" "$(get_r warmbig_mbps nginx)")"
  fi
  if [[ " ${COLS[*]} " == *" embedded "* && " ${COLS[*]} " == *" production "* ]]; then
    verdict "production warm 4 KiB req/s ≥ 0.9 × embedded with the hot tier on ($(get_r warm4k_rps production) vs $(get_r warm4k_rps embedded): $(ratio "$(get_r warm4k_rps production)" "$(get_r warm4k_rps embedded)")×; hot tier off $(get_r warm4k_rps production-nohot))" \
      "$(ge "$(ratio "$(get_r warm4k_rps production)" "$(get_r warm4k_rps embedded)")" 0.9)"
    [ "$QUICK" = 1 ] || verdict "production warm $BIG MB/s ≥ 0.9 × embedded with the hot tier on ($(get_r warmbig_mbps production) vs $(get_r warmbig_mbps embedded): $(ratio "$(get_r warmbig_mbps production)" "$(get_r warmbig_mbps embedded)")×; hot tier off $(get_r warmbig_mbps production-nohot) MB/s)" \
      "$(ge "$(ratio "$(get_r warmbig_mbps production)" "$(get_r warmbig_mbps embedded)")" 0.9)"
  fi
  for c in "${COLS[@]}"; do
    [ "$c" = nginx ] && continue
    for n in $WRK_CONNS; do
      verdict "$c warm 4 KiB at -c$n: p99 ≤ 1.5 × nginx's ($(get_r "lat_c${n}_p99" "$c") vs $(get_r "lat_c${n}_p99" nginx) ms: $(get_r "lat_c${n}_p99ratio" "$c")×) at ≥ nginx's requests/s ($(get_r "lat_c${n}_rpsratio" "$c")×)" \
        "$(awk -v a="$(get_r "lat_c${n}_p99ratio" "$c")" -v b="$(get_r "lat_c${n}_rpsratio" "$c")" 'BEGIN{print (a+0 > 0 && a+0 <= 1.5 && b+0 >= 1.0) ? 1 : 0}')"
    done
    verdict "$c authenticated warm 4 KiB rate ≥ 0.9 × anonymous ($(get_r warm4k_auth_rps "$c") vs $(get_r warm4k_rps "$c") req/s: $(get_r warm4k_ratio "$c")×)" "$(ge "$(get_r warm4k_ratio "$c")" 0.9)"
    [ "$QUICK" = 1 ] || [ "$c" = production-nohot ] && continue
    verdict "$c joiner TTFB < 0.5 s ($(get_r cold_ttfb2 "$c") s)" "$(lt "$(get_r cold_ttfb2 "$c")" 0.5)"
    verdict "$c peak RSS < 150 MiB ($(get_r rss_hwm "$c") MiB)" "$(lt "$(get_r rss_hwm "$c")" 150)"
  done
} >"$REPORT"
echo
cat "$REPORT"
echo
log "done in ${ELAPSED} s; table written to bench/out/results.md"
