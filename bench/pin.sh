# bench/pin.sh — sourced by bench/run.sh and bench/formats.sh. The servers
# under test and the clients that load them run on separate CPUs, as
# replicas and their clients do in production: on a shared machine the
# clients' threads otherwise preempt the servers' and set their tail
# latency. By default the upper half of the CPUs serve and the lower half
# load; BENCH_SERVER_CPUS and BENCH_CLIENT_CPUS (taskset lists) choose
# others, BENCH_PIN=0 runs everything on every CPU. Sets SERVER_CPUS and
# CLIENT_CPUS (empty: not pinned) and the command prefixes SPIN and CPIN.
SERVER_CPUS="${BENCH_SERVER_CPUS:-}"
CLIENT_CPUS="${BENCH_CLIENT_CPUS:-}"
if [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  [ -n "$SERVER_CPUS" ] || SERVER_CPUS="$(($(nproc) / 2))-$(($(nproc) - 1))"
  [ -n "$CLIENT_CPUS" ] || CLIENT_CPUS="0-$(($(nproc) / 2 - 1))"
elif [ "${BENCH_PIN:-1}" != 1 ]; then
  SERVER_CPUS="" CLIENT_CPUS=""
fi
SPIN=(); [ -n "$SERVER_CPUS" ] && SPIN=(taskset -c "$SERVER_CPUS")
CPIN=(); [ -n "$CLIENT_CPUS" ] && CPIN=(taskset -c "$CLIENT_CPUS")
