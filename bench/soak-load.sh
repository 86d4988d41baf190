#!/usr/bin/env bash
# The overload soak: `tailerbot serve` (release, SQLite) under more slash commands than it
# can do the whole work of, for SOAK_SECONDS (default 600): CONCURRENCY (default 16)
# connections send freshly signed `status JOB RUN` as fast as they are acknowledged, so
# the work after each acknowledgement (the Tailer read, the reply to `response_url`)
# arrives faster than it can be done. The bot's resident memory and open descriptors are
# read from /proc every SAMPLE_SECS (default 1); at the end every acknowledged command
# must have had exactly one reply at the Slack stand-in (an answer, or "busy, try again
# in a moment").
# "Flat": after the first minute, neither RSS nor descriptors go above 120% of their value
# at that minute. With RATE, the commands are sent at that rate in all (open loop, over
# CONCURRENCY connections) whatever the bot does: twice the rate it can do the whole work
# of is an overload it must live through (commands it cannot acknowledge within 3 s
# count as errors; every one it acknowledged must still be answered once).
#
#   bench/soak-load.sh                       # SOAK_SECONDS=600 CONCURRENCY=16, closed loop
#   RATE=7000 CONCURRENCY=64 bench/soak-load.sh   # twice the 3,500/s it can do whole
#
# Needs: cargo, python3, curl. Ends with one line:
#   soak-load: seconds=.. rate=.. rps=.. rss_mb_1min=.. rss_mb_max=.. fds_1min=.. fds_max=.. flat=yes|no busy=.. missing=.. duplicated=.. errors=..
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/.work/soak-load
SOAK_SECONDS=${SOAK_SECONDS:-600}
CONCURRENCY=${CONCURRENCY:-16}
RATE=${RATE:-}
RATE_ARGS=()
if [[ -n $RATE ]]; then
  RATE_ARGS=(--rate "$RATE")
fi
JOB=iowa-prepare
RUN=20201210-140612-19e547a1-de6a-47f0-b563-b8a3d5754118
TEXT="status $JOB $RUN"

mkdir -p "$WORK"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

say "building (release)"
cargo build --release --locked --workspace >&2
BIN=$ROOT/target/release

SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
TOKEN=xoxb-bench-$(python3 -c 'import secrets; print(secrets.token_hex(8))')
SIM_PORT=$(free_port)
STANDIN_PORT=$(free_port)
BOT_PORT=$(free_port)
STANDIN=http://127.0.0.1:$STANDIN_PORT
export SLACK_SIGNING_SECRET=$SECRET SLACK_BOT_TOKEN=$TOKEN SLACK_API_URL=$STANDIN/api

say "starting the Tailer simulator and the Slack stand-in"
"$BIN/tailerbot" sim --port "$SIM_PORT" --slack-standin "$STANDIN_PORT" >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
wait_http "the simulator" "http://127.0.0.1:$SIM_PORT/healthz"
wait_http "the Slack stand-in" "$STANDIN/_standin/responses?summary=true"

say "tailerbot serve (release)"
sed "s|https://hooks.slack.com/|$STANDIN/|" tailerbot.example.toml >"$WORK/tailerbot.toml"
rm -f "$WORK"/bench.db*
TAILERBOT_CONFIG=$WORK/tailerbot.toml DATABASE_URL=sqlite://$WORK/bench.db PORT=$BOT_PORT RUST_LOG=warn \
  TAILER_API_URL=http://127.0.0.1:$SIM_PORT TAILER_API_TOKEN=bench \
  "$BIN/tailerbot" serve >"$WORK/tailerbot.log" 2>&1 &
BOT=$!
PIDS+=($BOT)
wait_http "tailerbot" -f "http://127.0.0.1:$BOT_PORT/readyz"

# RSS (MB) and open descriptors of the bot every SAMPLE_SECS (default 1), into
# samples.txt: `SECONDS RSS FDS OUTBOX BUSY WAITING`, the last three from /metrics (the
# messages in the outbox, the calls refused as busy so far, the answers waiting for a
# place on their way to their response_url).
SAMPLE_SECS=${SAMPLE_SECS:-1}
sample() {
  local start=$EPOCHREALTIME
  while kill -0 "$BOT" 2>/dev/null; do
    local rss fds metrics
    rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$BOT/status" 2>/dev/null || echo 0)
    fds=$(ls "/proc/$BOT/fd" 2>/dev/null | wc -l)
    metrics=$(curl -s --max-time 2 "http://127.0.0.1:$BOT_PORT/metrics" |
      awk '/^tailerbot_outbox_depth/ {d = $2} /^tailerbot_busy_total/ {b += $2}
        /^tailerbot_waiting_calls\{upstream="response_url"/ {w = $2} END {printf "%d %d %d", d, b, w}')
    echo "$(awk -v s="$start" -v n="$EPOCHREALTIME" 'BEGIN {printf "%d", n - s}') $rss $fds $metrics"
    sleep "$SAMPLE_SECS"
  done
}
sample >"$WORK/samples.txt" &
SAMPLER=$!
PIDS+=($SAMPLER)

say "loading for $SOAK_SECONDS s at $CONCURRENCY connections${RATE:+, $RATE commands/s}: $TEXT"
OUT=$("$BIN/loadgen" --label tailerbot --url "http://127.0.0.1:$BOT_PORT/slack/commands" --text "$TEXT" \
  --seconds "$SOAK_SECONDS" --concurrency "$CONCURRENCY" "${RATE_ARGS[@]}" --response-url-base "$STANDIN/response" \
  --check-replies "$STANDIN" --reply-wait 300 | tee "$WORK/loadgen.txt" | grep '^loadgen: rps=')
kill "$SAMPLER" 2>/dev/null || true
BUSY=$(curl -s "http://127.0.0.1:$BOT_PORT/metrics" | awk '/^tailerbot_busy_total/ {s += $2} END {print s + 0}')
cp "$WORK/tailerbot.log" "$WORK/tailerbot.last.log"

# The figures after the first minute against the one at that minute.
read -r RSS1 FDS1 RSSMAX FDSMAX < <(awk '
  $1 >= 60 && !seen { r1 = $2; f1 = $3; seen = 1 }
  seen { if ($2 > rm) rm = $2; if ($3 > fm) fm = $3 }
  END { print r1 + 0, f1 + 0, rm + 0, fm + 0 }' "$WORK/samples.txt")
FLAT=$(awk -v r1="$RSS1" -v f1="$FDS1" -v rm="$RSSMAX" -v fm="$FDSMAX" \
  'BEGIN { print (r1 > 0 && rm <= 1.2 * r1 && fm <= 1.2 * f1) ? "yes" : "no" }')
say "RSS (MB), descriptors, outbox depth, busy count and answers waiting, every $SAMPLE_SECS s: $WORK/samples.txt"
echo "soak-load: seconds=$SOAK_SECONDS rate=${RATE:-closed} rps=$(field "$OUT" rps) rss_mb_1min=$RSS1 rss_mb_max=$RSSMAX fds_1min=$FDS1 fds_max=$FDSMAX flat=$FLAT busy=$BUSY missing=$(field "$OUT" missing) duplicated=$(field "$OUT" duplicated) errors=$(field "$OUT" errors)"
