#!/usr/bin/env bash
# The `history` chart of 100 runs: how long one takes to draw and encode, and the peak
# memory of a process that draws it (release build, TIMES draws, the median reported).
# Last line: `history_chart: runs=100 times=N median_ms=.. max_ms=.. png_bytes=.. peak_rss_mb=.. rss_before_mb=..`
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/.work
cargo build --release --locked --example history_chart >&2
TIMES="${TIMES:-50}" target/release/examples/history_chart bench/.work/history.png
