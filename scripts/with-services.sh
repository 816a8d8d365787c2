#!/usr/bin/env bash
# Runs a command with the services the tests need: checks PostgreSQL and Redis
# on 127.0.0.1 (starting them when this machine can), starts one MinIO on a
# free port, and exports TEST_* variables for app/testenv. A missing service
# is an error, never a skip.
set -euo pipefail
GOBIN="$(go env GOPATH)/bin"
export PATH="$GOBIN:$PATH"

pg_ok() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || (echo > /dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_ok() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG || (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && read -t 2 -r l <&3 && [[ $l == +PONG* ]]) 2>/dev/null; }

if ! pg_ok; then
  command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! redis_ok; then
  command -v redis-server >/dev/null && redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null || true
fi
for i in $(seq 50); do pg_ok && redis_ok && break; sleep 0.2; done
pg_ok || { echo "FATAL: PostgreSQL is required on 127.0.0.1:5432" >&2; exit 1; }
redis_ok || { echo "FATAL: Redis is required on 127.0.0.1:6379" >&2; exit 1; }

MINIO_BIN="$(command -v minio || echo "$GOBIN/minio")"
[ -x "$MINIO_BIN" ] || { echo "FATAL: minio binary missing (run make deps)" >&2; exit 1; }
MINIO_DIR="$(mktemp -d /tmp/artifactapi-minio.XXXXXX)"
PORT="$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null || echo 19000)"
export TEST_MINIO_ENDPOINT="127.0.0.1:$PORT" TEST_MINIO_ACCESS_KEY="artifactapi-test" TEST_MINIO_SECRET_KEY="artifactapi-test-secret"
MINIO_ROOT_USER="$TEST_MINIO_ACCESS_KEY" MINIO_ROOT_PASSWORD="$TEST_MINIO_SECRET_KEY" MINIO_BROWSER=off \
  "$MINIO_BIN" server "$MINIO_DIR" --address "$TEST_MINIO_ENDPOINT" --quiet >"$MINIO_DIR.log" 2>&1 &
MINIO_PID=$!
cleanup() { kill "$MINIO_PID" 2>/dev/null || true; wait "$MINIO_PID" 2>/dev/null || true; rm -rf "$MINIO_DIR" "$MINIO_DIR.log"; }
trap cleanup EXIT
for i in $(seq 150); do
  curl -sf "http://$TEST_MINIO_ENDPOINT/minio/health/ready" >/dev/null && break
  kill -0 "$MINIO_PID" 2>/dev/null || { cat "$MINIO_DIR.log" >&2; echo "FATAL: MinIO exited" >&2; exit 1; }
  sleep 0.2
done
curl -sf "http://$TEST_MINIO_ENDPOINT/minio/health/ready" >/dev/null || { echo "FATAL: MinIO did not become healthy" >&2; exit 1; }
echo "services: postgres 127.0.0.1:5432, redis 127.0.0.1:6379, minio $TEST_MINIO_ENDPOINT"
"$@"
