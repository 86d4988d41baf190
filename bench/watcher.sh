#!/usr/bin/env bash
# The watcher at scale: RUNS runs (10,000) followed at once by a release `tailerbot serve`
# on the simulator with fast progression, then the same load shared by 1, 2 and 3
# replicas on PostgreSQL (capacity). Each measurement ends with one line
#   watcher: runs=<n> jobs=<j> calls_per_interval=<c> polls_per_run_interval=<x> rss_mb=<m> p99_delay_s=<d>
# and the SQLite one, the headline, is printed again last.
#
#   RUNS=10000 INTERVAL=30 RATE=1000 bench/watcher.sh            # SQLite, one replica
#   REPLICAS="1 2 3" DATABASE=postgres://postgres@127.0.0.1:5432/test bench/watcher.sh
#   RUNS=100000 JOBS=1000 INTERVAL=60 bench/watcher.sh --waiting-min 180 --waiting-max 360 \
#     --running-min 60 --running-max 240   # runs spread over jobs; arguments go to watchbench
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10000}
INTERVAL=${INTERVAL:-30}
RATE=${RATE:-1000}
DATABASE=${DATABASE:-}
REPLICAS=${REPLICAS:-}
JOBS=${JOBS:-1}
EXTRA=("$@")

cargo build --release --locked --workspace --quiet
bench() {
  target/release/watchbench --bin target/release/tailerbot --runs "$RUNS" --jobs "$JOBS" --interval-secs "$INTERVAL" \
    --rate "$RATE" "${EXTRA[@]}" "$@"
}

echo "== SQLite, one replica"
out=$(mktemp)
bench --database sqlite | tee "$out"
if [ -n "$DATABASE" ]; then
  for n in ${REPLICAS:-1 2 3}; do
    echo
    echo "== PostgreSQL, $n replica(s)"
    bench --database "$DATABASE" --replicas "$n"
  done
fi
echo
grep "^watcher:" "$out"
