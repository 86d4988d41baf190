#!/usr/bin/env bash
# The lifecycle soak, longer than the one `cargo test` runs: random launches, disables,
# enables and a subscription, with the bot restarted (SIGTERM), killed (kill -9) and
# crashed at random crash points, on SQLite. Ends with one line:
#   soak: seed=.. steps=.. restarts=.. kills=.. crashes=.. launches=.. lost=0 duplicated=0 stuck=0
# Usage: bench/soak.sh [SECONDS (default 600)] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_SECS="${1:-600}"
if [ -n "${2:-}" ]; then export SOAK_SEED="$2"; fi
cargo test --locked --test soak -- --ignored --nocapture 2>&1 | grep -E '^soak:|replay:|panicked'
