#!/usr/bin/env bash
# The ingress benchmark: how many slash commands `tailerbot serve` acknowledges per second,
# and how fast, against the smallest Slack Bolt apps (JavaScript and Python) acknowledging
# the same signed commands, one after the other on this machine. Tailerbot does its whole
# job (signature, replay record, rules, the Tailer call and the reply after the answer,
# against the simulator and the Slack stand-in); each reply must reach the stand-in
# exactly once. The Bolt apps only verify and acknowledge.
#
#   bench/ingress.sh                    # BENCH_SECONDS=20 CONCURRENCY=64 by default
#
# Needs: cargo, node >= 20 with npm, python3 (venv). Installs Bolt into bench/.work/.
# Ends with one line:
#   ingress: ratio_js=... ratio_py=... p99_ratio_js=... errors=...
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/.work
BENCH_SECONDS=${BENCH_SECONDS:-20}
CONCURRENCY=${CONCURRENCY:-64}
# A run of the public docs' examples, which the simulator knows.
JOB=iowa-prepare
RUN=20201210-140612-19e547a1-de6a-47f0-b563-b8a3d5754118
TEXT="status $JOB $RUN"

mkdir -p "$WORK"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

say "building (release)"
cargo build --release --locked --workspace >&2
BIN=$ROOT/target/release

say "installing Bolt for JavaScript and Bolt for Python into bench/.work"
mkdir -p "$WORK/bolt-js"
cp bench/bolt-js/package.json bench/bolt-js/app.js "$WORK/bolt-js/"
if ! cmp -s bench/bolt-js/package.json "$WORK/bolt-js/.installed" 2>/dev/null; then
  (cd "$WORK/bolt-js" && npm install --no-audit --no-fund --loglevel=error >&2)
  cp bench/bolt-js/package.json "$WORK/bolt-js/.installed"
fi
if ! cmp -s bench/bolt-py/requirements.txt "$WORK/bolt-py/.installed" 2>/dev/null; then
  python3 -m venv "$WORK/bolt-py"
  "$WORK/bolt-py/bin/pip" install --quiet --disable-pip-version-check -r bench/bolt-py/requirements.txt >&2
  cp bench/bolt-py/requirements.txt "$WORK/bolt-py/.installed"
fi
cp bench/bolt-py/app.py "$WORK/bolt-py/app.py"

SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
TOKEN=xoxb-bench-$(python3 -c 'import secrets; print(secrets.token_hex(8))')
SIM_PORT=$(free_port)
STANDIN_PORT=$(free_port)
BOT_PORT=$(free_port)
JS_PORT=$(free_port)
PY_PORT=$(free_port)
STANDIN=http://127.0.0.1:$STANDIN_PORT
export SLACK_SIGNING_SECRET=$SECRET SLACK_BOT_TOKEN=$TOKEN SLACK_API_URL=$STANDIN/api

say "starting the Tailer simulator and the Slack stand-in"
"$BIN/tailerbot" sim --port "$SIM_PORT" --slack-standin "$STANDIN_PORT" >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
wait_http "the simulator" "http://127.0.0.1:$SIM_PORT/healthz"
wait_http "the Slack stand-in" "$STANDIN/_standin/responses?summary=true"

# loadgen against one target; its output goes to the terminal and to $WORK/NAME.txt.
load() {
  local name=$1 port=$2
  shift 2
  "$BIN/loadgen" --label "$name" --url "http://127.0.0.1:$port/slack/commands" --text "$TEXT" \
    --seconds "$BENCH_SECONDS" --concurrency "$CONCURRENCY" --response-url-base "$STANDIN/response" "$@" |
    tee "$WORK/$name.txt" >&2
  grep '^loadgen: rps=' "$WORK/$name.txt"
}

say "tailerbot serve (release): $TEXT"
sed "s|https://hooks.slack.com/|$STANDIN/|" tailerbot.example.toml >"$WORK/tailerbot.toml"
rm -f "$WORK"/bench.db*
TAILERBOT_CONFIG=$WORK/tailerbot.toml DATABASE_URL=sqlite://$WORK/bench.db PORT=$BOT_PORT \
  TAILER_API_URL=http://127.0.0.1:$SIM_PORT TAILER_API_TOKEN=bench \
  "$BIN/tailerbot" serve >"$WORK/tailerbot.log" 2>&1 &
BOT=$!
PIDS+=($BOT)
wait_http "tailerbot" -f "http://127.0.0.1:$BOT_PORT/readyz"
TB=$(load tailerbot "$BOT_PORT" --check-replies "$STANDIN")
stop "$BOT"

say "Bolt for JavaScript"
(cd "$WORK/bolt-js" && PORT=$JS_PORT exec node app.js) >"$WORK/bolt-js.log" 2>&1 &
JS=$!
PIDS+=($JS)
wait_http "bolt-js" -X POST "http://127.0.0.1:$JS_PORT/slack/commands"
BJ=$(load bolt-js "$JS_PORT")
stop "$JS"

say "Bolt for Python"
PORT=$PY_PORT "$WORK/bolt-py/bin/python" "$WORK/bolt-py/app.py" >"$WORK/bolt-py.log" 2>&1 &
PY=$!
PIDS+=($PY)
wait_http "bolt-py" -X POST "http://127.0.0.1:$PY_PORT/slack/commands"
BP=$(load bolt-py "$PY_PORT")
stop "$PY"

say "results ($BENCH_SECONDS s, $CONCURRENCY connections, \`$TEXT\`)"
printf '%-10s %10s %10s %10s %10s %8s %10s\n' "" "req/s" "p50 ms" "p99 ms" "max ms" "errors" "sent"
for row in "tailerbot:$TB" "bolt-js:$BJ" "bolt-py:$BP"; do
  name=${row%%:*}
  line=${row#*:}
  printf '%-10s %10s %10s %10s %10s %8s %10s\n' "$name" "$(field "$line" rps)" "$(field "$line" p50_ms)" \
    "$(field "$line" p99_ms)" "$(field "$line" max_ms)" "$(field "$line" errors)" "$(field "$line" sent)"
done
MISSING=$(field "$TB" missing)
DUPLICATED=$(field "$TB" duplicated)
printf 'tailerbot replies: %s answered, %s missing, %s duplicated, all in %s s after the load\n' \
  "$(field "$TB" replied)" "$MISSING" "$DUPLICATED" "$(field "$TB" drain_s)"

ERRORS=$(($(field "$TB" errors) + $(field "$BJ" errors) + $(field "$BP" errors) + MISSING + DUPLICATED))
awk -v tb="$(field "$TB" rps)" -v js="$(field "$BJ" rps)" -v py="$(field "$BP" rps)" \
  -v tb99="$(field "$TB" p99_ms)" -v js99="$(field "$BJ" p99_ms)" -v errors="$ERRORS" 'BEGIN {
    printf "ingress: ratio_js=%.2f ratio_py=%.2f p99_ratio_js=%.3f errors=%d\n", tb / js, tb / py, tb99 / js99, errors
  }'
