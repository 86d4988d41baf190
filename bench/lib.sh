# Shared by the benchmarks that start processes: source it after setting WORK (where the
# logs go). Processes added to PIDS are stopped when the script exits.
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until `curl ARGS` gets an HTTP answer (any status), at most 60 s.
wait_http() {
  local what=$1
  shift
  for _ in $(seq 1 600); do
    if curl -s -o /dev/null "$@"; then
      return 0
    fi
    sleep 0.1
  done
  echo "error: $what did not start; see $WORK/*.log" >&2
  exit 1
}

# Stops a process this script started, and waits for it.
stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# `KEY=value` from a loadgen line.
field() { sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p" <<<"$1"; }
