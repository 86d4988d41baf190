#!/usr/bin/env bash
# The lifecycle soak, longer than the one `cargo test` runs: random launches, disables,
# enables (confirmed ones in PROD) and a subscription, with the bot restarted (SIGTERM),
# killed (kill -9) and crashed at random crash points; on SQLite and on three PostgreSQL
# replicas, side by side. Ends with one line for each:
#   soak: NAME seed=.. steps=.. restarts=.. kills=.. crashes=.. launches=.. lost=0 duplicated=0 stuck=0
# Usage: bench/soak.sh [STEPS (default 2000, about ten minutes)] [SEED]; the whole output
# is kept in target/soak.log.
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_STEPS="${1:-2000}"
if [ -n "${2:-}" ]; then export SOAK_SEED="$2"; fi
mkdir -p target
status=0
cargo test --locked --test soak -- --nocapture > target/soak.log 2>&1 || status=$?
grep -oE 'soak: .*|replay: .*|panicked at .*' target/soak.log || true
exit "$status"
