#!/usr/bin/env bash
# The ingress benchmark: how many slash commands `tailerbot serve` handles per second, how
# fast it acknowledges them and how much CPU each costs, against Slack Bolt apps
# (JavaScript and Python) given the same signed commands, one system after the other on
# this machine, each for BENCH_SECONDS with the same load generator settings:
#
#   tailerbot     its whole job for `status JOB RUN`: signature, replay record, rules, the
#                 Tailer call (`check_run_status`, to the simulator) and the reply to the
#                 command's `response_url` (the Slack stand-in);
#   bolt-js-ack   the reference Bolt apps (bench/bolt-js/app.js, bench/bolt-py/app.py):
#   bolt-py-ack   they only verify the signature and acknowledge;
#   bolt-js-work  the same-work Bolt apps (bench/bolt-js/work.js, bench/bolt-py/work.py):
#   bolt-py-work  verify, acknowledge, call the simulator's `check_run_status`, and post
#                 the answer to the `response_url`.
#
# For tailerbot and the same-work apps the load generator then checks, at the stand-in,
# that every acknowledged command got exactly one reply (`--check-replies`). The CPU time
# of each system's server process (utime + stime of /proc/PID/stat, read just before and
# just after its load, replies included) is divided by the commands it acknowledged,
# warm-up included. Tailer calls are counted too: tailerbot's from its /metrics (it makes
# one read for identical reads on their way and keeps a finished run's status a few
# seconds, so it calls Tailer far less than once per command), the same-work apps' from
# the counts they print when stopped (one call per command).
#
#   bench/ingress.sh                         # BENCH_SECONDS=20 CONCURRENCY=64 by default
#   SKIP_BUILD=1 bench/ingress.sh            # use target/release as it is, no cargo build
#   bench/ingress.sh --compare caa85ee       # this build and an older one, side by side
#
# --compare REV builds REV (a commit, tag or branch) in a worktree of its own under
# bench/.work (its release build is kept there between runs) and loads the two builds of
# tailerbot in turn, ROUNDS times each (2 by default with --compare, else 1), the same
# sitting, the same simulator and stand-in, each with its own revision's example
# configuration; each round is a row (`tailerbot`, `REV`, `tailerbot#2`, ...) with its
# CPU per command. The ratios at the end are those of this build's first round.
#
# Needs: cargo, node >= 20 with npm, python3 (venv). Installs Bolt into bench/.work/.
# Prints a table, a line of ratios against the acknowledge-only apps, and ends with one
# line of ratios against the same-work apps (tailerbot's figure over theirs):
#   ingress: ratio_js=... ratio_py=... p99_ratio_js=... cpu_ratio_js=... errors=...
# errors: every system's failed requests, missing and duplicated replies, and failed
# Tailer calls (a same-work app still replies when its call fails, as tailerbot does).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/.work
BENCH_SECONDS=${BENCH_SECONDS:-20}
CONCURRENCY=${CONCURRENCY:-64}
SKIP_BUILD=${SKIP_BUILD:-0}
COMPARE=""
while (($#)); do
  case $1 in
    --compare)
      COMPARE=${2:?--compare needs a revision}
      shift 2
      ;;
    --compare=*)
      COMPARE=${1#--compare=}
      shift
      ;;
    *)
      echo "usage: bench/ingress.sh [--compare REV]" >&2
      exit 2
      ;;
  esac
done
ROUNDS=${ROUNDS:-$([[ -n $COMPARE ]] && echo 2 || echo 1)}
# A run of the public docs' examples, which the simulator knows.
JOB=iowa-prepare
RUN=20201210-140612-19e547a1-de6a-47f0-b563-b8a3d5754118
TEXT="status $JOB $RUN"
CLK_TCK=$(getconf CLK_TCK)

mkdir -p "$WORK"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

if [[ $SKIP_BUILD == 1 ]]; then
  say "not building (SKIP_BUILD=1): target/release as it is"
else
  say "building (release)"
  cargo build --release --locked --workspace >&2
fi
BIN=$ROOT/target/release
for bin in tailerbot loadgen; do
  [[ -x $BIN/$bin ]] || {
    echo "error: $BIN/$bin is missing: build it (cargo build --release --workspace)" >&2
    exit 1
  }
done

# The older build, with --compare: its own worktree and target directory, kept between
# runs (a cold release build takes minutes).
if [[ -n $COMPARE ]]; then
  REV=$(git rev-parse --short "$COMPARE^{commit}")
  OLD_TREE=$WORK/compare-$REV
  if [[ ! -d $OLD_TREE ]]; then
    git worktree add --detach "$OLD_TREE" "$REV" >&2
  fi
  say "building $REV (release) in $OLD_TREE"
  (cd "$OLD_TREE" && CARGO_TARGET_DIR=$WORK/compare-target cargo build --release --locked -p tailerbot >&2)
  OLD_BIN=$WORK/compare-target/release
  cp "$OLD_BIN/tailerbot" "$WORK/tailerbot-$REV"
fi

say "installing Bolt for JavaScript and Bolt for Python into bench/.work"
mkdir -p "$WORK/bolt-js"
cp bench/bolt-js/package.json bench/bolt-js/app.js bench/bolt-js/work.js "$WORK/bolt-js/"
if ! cmp -s bench/bolt-js/package.json "$WORK/bolt-js/.installed" 2>/dev/null; then
  (cd "$WORK/bolt-js" && npm install --no-audit --no-fund --loglevel=error >&2)
  cp bench/bolt-js/package.json "$WORK/bolt-js/.installed"
fi
if ! cmp -s bench/bolt-py/requirements.txt "$WORK/bolt-py/.installed" 2>/dev/null; then
  python3 -m venv "$WORK/bolt-py"
  "$WORK/bolt-py/bin/pip" install --quiet --disable-pip-version-check -r bench/bolt-py/requirements.txt >&2
  cp bench/bolt-py/requirements.txt "$WORK/bolt-py/.installed"
fi
cp bench/bolt-py/app.py bench/bolt-py/work.py "$WORK/bolt-py/"

SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
TOKEN=xoxb-bench-$(python3 -c 'import secrets; print(secrets.token_hex(8))')
SIM_PORT=$(free_port)
STANDIN_PORT=$(free_port)
STANDIN=http://127.0.0.1:$STANDIN_PORT
export SLACK_SIGNING_SECRET=$SECRET SLACK_BOT_TOKEN=$TOKEN SLACK_API_URL=$STANDIN/api
# Where tailerbot and the same-work apps find Tailer.
export TAILER_API_URL=http://127.0.0.1:$SIM_PORT TAILER_API_TOKEN=bench

say "starting the Tailer simulator and the Slack stand-in"
"$BIN/tailerbot" sim --port "$SIM_PORT" --slack-standin "$STANDIN_PORT" >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
wait_http "the simulator" "http://127.0.0.1:$SIM_PORT/healthz"
wait_http "the Slack stand-in" "$STANDIN/_standin/responses?summary=true"

# The CPU time process $1 has used so far, in clock ticks: utime + stime, fields 14 and 15
# of /proc/PID/stat, counted after the name (field 2, which may hold spaces).
cpu_ticks() {
  local stat
  stat=$(<"/proc/$1/stat")
  awk '{ print $12 + $13 }' <<<"${stat##*) }"
}

# Stops the script unless process $1 is the server itself, named $2 (a prefix of
# /proc/PID/comm), rather than a shell around it: its CPU time is what is measured.
is_server() {
  local comm
  comm=$(<"/proc/$1/comm")
  if [[ $comm != "$2"* ]]; then
    echo "error: process $1 is \`$comm\`, not $2: its CPU time would not be the server's" >&2
    exit 1
  fi
}

# load NAME PORT PID [loadgen options]: loads one system (server process PID) with the
# same settings as the others; loadgen's output goes to the terminal and to
# $WORK/NAME.txt. Prints loadgen's last line followed by `cpu_ms=` (CPU time per command,
# in ms, the process's time read just before and just after) and `commands=` (the
# commands it acknowledged, warm-up included).
load() {
  local name=$1 port=$2 pid=$3 before after line acked
  shift 3
  before=$(cpu_ticks "$pid")
  "$BIN/loadgen" --label "$name" --url "http://127.0.0.1:$port/slack/commands" --text "$TEXT" \
    --seconds "$BENCH_SECONDS" --concurrency "$CONCURRENCY" --response-url-base "$STANDIN/response" "$@" |
    tee "$WORK/$name.txt" >&2
  after=$(cpu_ticks "$pid")
  line=$(grep '^loadgen: rps=' "$WORK/$name.txt")
  # "(N acknowledged of M sent; warm-up W of X)": measured and warm-up commands.
  acked=$(sed -n 's/.*(\([0-9]*\) acknowledged of [0-9]* sent; warm-up \([0-9]*\) of .*/\1 \2/p' "$WORK/$name.txt")
  awk -v line="$line" -v ticks=$((after - before)) -v hz="$CLK_TCK" -v acked="$acked" 'BEGIN {
    split(acked, a, " ")
    n = a[1] + a[2]
    printf "%s cpu_ms=%.3f commands=%d\n", line, (n > 0 ? ticks * 1000 / hz / n : 0), n
  }'
}

# ` tailer_calls=N tailer_errors=E`: the `check_run_status` calls tailerbot (on port $1)
# has made so far, by its /metrics, and those that failed.
tailerbot_calls() {
  curl -fsS "http://127.0.0.1:$1/metrics" | awk '
    /^tailerbot_tailer_calls_total\{/ && /action="check_run_status"/ {
      calls += $NF
      if ($0 !~ /outcome="ok"/) errors += $NF
    }
    END { printf " tailer_calls=%d tailer_errors=%d\n", calls, errors }'
}

# ` tailer_calls=N tailer_errors=E`: the counts a same-work app printed when stopped
# (its log $1, its line prefix $2).
app_calls() {
  local counts
  counts=$(grep "^$2: commands=" "$1" | tail -n 1)
  if [[ -z $counts ]]; then
    echo "error: no counts from $2 in $1" >&2
    exit 1
  fi
  printf ' tailer_calls=%s tailer_errors=%s\n' "$(field "$counts" tailer_calls)" "$(field "$counts" tailer_errors)"
}

# bench_bot NAME BINARY CONFIG: loads `BINARY serve` (on a fresh database, with CONFIG
# pointed at the stand-in) and prints its loadgen line with its Tailer calls.
bench_bot() {
  local name=$1 binary=$2 config=$3 port line before after
  say "$name serve (release): $TEXT"
  sed "s|https://hooks.slack.com/|$STANDIN/|" "$config" >"$WORK/$name.toml"
  rm -f "$WORK"/bench.db*
  port=$(free_port)
  TAILERBOT_CONFIG=$WORK/$name.toml DATABASE_URL=sqlite://$WORK/bench.db PORT=$port \
    "$binary" serve >"$WORK/$name.log" 2>&1 &
  # Not local: the trap below runs when the command substitution this runs in exits,
  # after the function has returned (the script's own trap does not reach in there).
  BOT_PID=$!
  trap 'kill "${BOT_PID:-}" 2>/dev/null || true' EXIT
  wait_http "$name" -f "http://127.0.0.1:$port/readyz"
  is_server "$BOT_PID" tailerbot
  before=$(tailerbot_calls "$port")
  line=$(load "$name" "$port" "$BOT_PID" --check-replies "$STANDIN")
  after=$(tailerbot_calls "$port")
  printf '%s tailer_calls=%d tailer_errors=%d\n' "$line" \
    $(($(field "$after" tailer_calls) - $(field "$before" tailer_calls))) \
    $(($(field "$after" tailer_errors) - $(field "$before" tailer_errors)))
  stop "$BOT_PID"
}

# This build and, with --compare, the older one in turn, round after round.
BOTS=()
for round in $(seq 1 "$ROUNDS"); do
  suffix=$([[ $round == 1 ]] || echo "#$round")
  BOTS+=("tailerbot$suffix:$(bench_bot "tailerbot$suffix" "$BIN/tailerbot" tailerbot.example.toml)")
  if [[ -n $COMPARE ]]; then
    BOTS+=("$REV$suffix:$(bench_bot "$REV$suffix" "$WORK/tailerbot-$REV" "$OLD_TREE/tailerbot.example.toml")")
  fi
done
TB=${BOTS[0]#*:}

say "Bolt for JavaScript, acknowledging only (app.js)"
JS_PORT=$(free_port)
(cd "$WORK/bolt-js" && PORT=$JS_PORT exec node app.js) >"$WORK/bolt-js-ack.log" 2>&1 &
JS=$!
PIDS+=("$JS")
wait_http "bolt-js-ack" -X POST "http://127.0.0.1:$JS_PORT/slack/commands"
is_server "$JS" node
BJ=$(load bolt-js-ack "$JS_PORT" "$JS")
stop "$JS"

say "Bolt for Python, acknowledging only (app.py)"
PY_PORT=$(free_port)
PORT=$PY_PORT "$WORK/bolt-py/bin/python" "$WORK/bolt-py/app.py" >"$WORK/bolt-py-ack.log" 2>&1 &
PY=$!
PIDS+=("$PY")
wait_http "bolt-py-ack" -X POST "http://127.0.0.1:$PY_PORT/slack/commands"
is_server "$PY" python
BP=$(load bolt-py-ack "$PY_PORT" "$PY")
stop "$PY"

say "Bolt for JavaScript, doing the work (work.js)"
JS_PORT=$(free_port)
(cd "$WORK/bolt-js" && PORT=$JS_PORT exec node work.js) >"$WORK/bolt-js-work.log" 2>&1 &
JS=$!
PIDS+=("$JS")
wait_http "bolt-js-work" -X POST "http://127.0.0.1:$JS_PORT/slack/commands"
is_server "$JS" node
WJ=$(load bolt-js-work "$JS_PORT" "$JS" --check-replies "$STANDIN")
stop "$JS"
WJ+=$(app_calls "$WORK/bolt-js-work.log" work-js)

say "Bolt for Python, doing the work (work.py)"
PY_PORT=$(free_port)
PORT=$PY_PORT "$WORK/bolt-py/bin/python" "$WORK/bolt-py/work.py" >"$WORK/bolt-py-work.log" 2>&1 &
PY=$!
PIDS+=("$PY")
wait_http "bolt-py-work" -X POST "http://127.0.0.1:$PY_PORT/slack/commands"
is_server "$PY" python
WP=$(load bolt-py-work "$PY_PORT" "$PY" --check-replies "$STANDIN")
stop "$PY"
WP+=$(app_calls "$WORK/bolt-py-work.log" work-py)

say "results ($BENCH_SECONDS s, $CONCURRENCY connections, \`$TEXT\`)"
# A figure of a loadgen line, or `-` where it has none (no replies checked, no calls).
cell() {
  local value
  value=$(field "$1" "$2")
  printf '%s' "${value:--}"
}
FORMAT='%-13s %8s %8s %8s %8s %7s %8s %8s %8s %8s %8s %8s\n'
# shellcheck disable=SC2059 # the format is the table's
printf "$FORMAT" "" "req/s" "p50 ms" "p99 ms" "max ms" "errors" "CPU ms" "Tailer" "failed" "replies" "missing" "dupl."
# shellcheck disable=SC2059
printf "$FORMAT" "" "" "" "" "" "" "per cmd" "calls" "calls" "answered" "" ""
ERRORS=0
for row in "${BOTS[@]}" "bolt-js-ack:$BJ" "bolt-py-ack:$BP" "bolt-js-work:$WJ" "bolt-py-work:$WP"; do
  name=${row%%:*}
  line=${row#*:}
  # shellcheck disable=SC2059
  printf "$FORMAT" "$name" "$(cell "$line" rps)" "$(cell "$line" p50_ms)" "$(cell "$line" p99_ms)" \
    "$(cell "$line" max_ms)" "$(cell "$line" errors)" "$(cell "$line" cpu_ms)" "$(cell "$line" tailer_calls)" \
    "$(cell "$line" tailer_errors)" "$(cell "$line" replied)" "$(cell "$line" missing)" "$(cell "$line" duplicated)"
  for key in errors missing duplicated tailer_errors; do
    ERRORS=$((ERRORS + $(field "$line" "$key" | grep . || echo 0)))
  done
done
printf 'CPU ms per command: of the server process, replies included, over %s commands (tailerbot), warm-up included\n' \
  "$(field "$TB" commands)"
printf 'replies checked at the stand-in, all in %s s (tailerbot), %s s (bolt-js-work), %s s (bolt-py-work) after the load\n' \
  "$(field "$TB" drain_s)" "$(field "$WJ" drain_s)" "$(field "$WP" drain_s)"

# Tailerbot's figure over another system's; 0 when that one has none.
ratios() {
  awk -v tb="$(field "$TB" rps)" -v js="$(field "$2" rps)" -v py="$(field "$3" rps)" \
    -v tb99="$(field "$TB" p99_ms)" -v js99="$(field "$2" p99_ms)" \
    -v tbcpu="$(field "$TB" cpu_ms)" -v jscpu="$(field "$2" cpu_ms)" -v label="$1" -v errors="$4" 'function r(a, b) {
      return b > 0 ? a / b : 0
    }
    BEGIN {
      printf "%s: ratio_js=%.2f ratio_py=%.2f p99_ratio_js=%.3f cpu_ratio_js=%.2f", label, r(tb, js), r(tb, py), r(tb99, js99), r(tbcpu, jscpu)
      if (errors != "") printf " errors=%d", errors
      printf "\n"
    }'
}
ratios "against the acknowledge-only Bolt apps (reference)" "$BJ" "$BP" ""
ratios ingress "$WJ" "$WP" "$ERRORS"
