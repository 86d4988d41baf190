#!/usr/bin/env bash
# The edge under attack, on a release `tailerbot serve` (or the BINARY given):
#  1. CPU per refused request (bad signature, so the HMAC is computed) for three bodies:
#     a small one, 64 KiB of ~16,000 short keys, 64 KiB of one key; ROUNDS of each,
#     read from /proc/PID/stat.
#  2. RSS under STALLED connections that send part of a request's headers and stop:
#     before, the peak while they hang (HOLD seconds), how many the bot closed by itself,
#     and RSS once they are gone.
# Ends with one line
#   edge: unsigned_many_keys_ms=.. unsigned_small_ms=.. ratio=.. rss_idle_mb=.. rss_stalled_mb=.. rss_after_mb=.. closed_by_bot=..
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY=${BINARY:-target/release/tailerbot}
ROUNDS=${ROUNDS:-300}
STALLED=${STALLED:-1000}
HOLD=${HOLD:-50}

if [ "$BINARY" = target/release/tailerbot ]; then cargo build --release --locked --quiet; fi
python3 - "$BINARY" "$ROUNDS" "$STALLED" "$HOLD" <<'PY'
import os, resource, selectors, socket, subprocess, sys, tempfile, time, urllib.request

binary, rounds, stalled, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
tick = os.sysconf("SC_CLK_TCK")

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])

def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

def post(port, body):
    s = socket.create_connection(("127.0.0.1", port))
    head = (f"POST /slack/commands HTTP/1.1\r\nHost: bot\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"X-Slack-Request-Timestamp: {int(time.time())}\r\nX-Slack-Signature: v0={'0' * 64}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    s.sendall(head + body)
    answer = b""
    while chunk := s.recv(4096):
        answer += chunk
    s.close()
    assert answer.startswith(b"HTTP/1.1 401"), answer[:40]

with tempfile.TemporaryDirectory() as d:
    port = free_port()
    config = os.path.join(d, "tailerbot.toml")
    # The example, without the keys that only change a default (so that BINARY may be
    # an older build, for a before/after comparison).
    example = open("tailerbot.example.toml").read().splitlines(keepends=True)
    open(config, "w").write("".join(l for l in example if not l.startswith("max_response_bytes")))
    env = {"SLACK_SIGNING_SECRET": "edge-secret", "SLACK_BOT_TOKEN": "xoxb-edge", "SLACK_API_URL": "http://127.0.0.1:9/api",
           "TAILER_API_URL": "http://127.0.0.1:9", "TAILER_API_TOKEN": "t", "DATABASE_URL": f"sqlite://{d}/bot.db",
           "PORT": str(port), "TAILERBOT_CONFIG": config, "RUST_LOG": "error", "PATH": os.environ["PATH"]}
    bot = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=0.5).status == 200:
                    break
            except Exception:
                time.sleep(0.05)
        else:
            sys.exit(f"{binary} serve did not become ready (exit {bot.poll()})")
        many = b""
        i = 0
        while len(many) < 64 * 1024 - 16:
            many += f"k{i}&".encode()
            i += 1
        bodies = {"small": b"team_id=T0001&text=help", "many_keys": many, "one_key": b"text=" + b"a" * (len(many) - 5)}
        cost = {}
        for name, body in bodies.items():
            before = cpu(bot.pid)
            for _ in range(rounds):
                post(port, body)
            cost[name] = (cpu(bot.pid) - before) / tick * 1000 / rounds
            print(f"{name}: {len(body)} bytes, {cost[name]:.3f} ms of CPU per refused request ({i} keys)" if name == "many_keys"
                  else f"{name}: {len(body)} bytes, {cost[name]:.3f} ms of CPU per refused request")

        idle = rss_mb(bot.pid)
        sockets = []
        for _ in range(stalled):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"POST /slack/commands HTTP/1.1\r\nHost: bot\r\nX-Slack-Signature: v0=")
            s.setblocking(False)
            sockets.append(s)
        sel = selectors.DefaultSelector()
        for s in sockets:
            sel.register(s, selectors.EVENT_READ)
        closed, peak, start = set(), idle, time.time()
        while time.time() - start < hold:
            for key, _ in sel.select(timeout=1):
                try:
                    data = key.fileobj.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    closed.add(key.fileobj)
                    sel.unregister(key.fileobj)
            peak = max(peak, rss_mb(bot.pid))
        for s in sockets:
            s.close()
        time.sleep(5)
        after = rss_mb(bot.pid)
        print(f"RSS: {idle:.1f} MB idle, {peak:.1f} MB peak with {stalled} stalled connections held {hold:.0f} s, "
              f"{len(closed)} closed by the bot meanwhile, {after:.1f} MB 5 s after the rest were dropped")
        ratio = cost["many_keys"] / max(cost["small"], 1e-9)
        print(f"edge: unsigned_many_keys_ms={cost['many_keys']:.3f} unsigned_small_ms={cost['small']:.3f} ratio={ratio:.1f} "
              f"one_key_ms={cost['one_key']:.3f} rss_idle_mb={idle:.1f} rss_stalled_mb={peak:.1f} rss_after_mb={after:.1f} closed_by_bot={len(closed)}")
    finally:
        bot.terminate()
        bot.wait()
PY
