#!/usr/bin/env bash
# Two probes of the second hostile-input review, rerun from outside on a release
# `tailerbot serve` (or the BINARY given), with no signing key for the attacker:
#  1. PATHS unsigned requests to unique paths (`GET /p/<uuid>`...) from 8 threads: RSS
#     and the size of `/metrics` before and after.
#  2. IDLE kept-alive connections (one unsigned request each) and as many bare ones,
#     all held open, then ROUNDS signed commands: the time each takes to be acknowledged
#     (Slack gives up at 3 s).
# Ends with one line
#   probes: paths=.. rss_before_mb=.. rss_after_mb=.. metrics_before_kb=.. metrics_after_kb=.. idle=.. ack_max_ms=.. acked=../..
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY=${BINARY:-target/release/tailerbot}
PATHS=${PATHS:-20000}
IDLE=${IDLE:-512}
ROUNDS=${ROUNDS:-10}

if [ "$BINARY" = target/release/tailerbot ]; then cargo build --release --locked --quiet; fi
python3 - "$BINARY" "$PATHS" "$IDLE" "$ROUNDS" <<'PY'
import hashlib, hmac, os, resource, socket, subprocess, sys, tempfile, threading, time, urllib.parse, urllib.request, uuid

binary, paths, idle, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
SECRET = "probe-secret"

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

def metrics(port):
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()

def flood(port, count, stream):
    s = socket.create_connection(("127.0.0.1", port))
    reader = s.makefile("rb")
    for i in range(count):
        path = [f"/p/{uuid.uuid4()}", f"/slack/commands/{uuid.uuid4()}", f"/slack/{stream}-{i}"][i % 3]
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: bot\r\n\r\n".encode())
        status = reader.readline()
        assert status.split()[1].startswith(b"4"), status
        length = 0
        while (line := reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        reader.read(length)
    s.close()

def signed_command(port, n):
    body = urllib.parse.urlencode({"team_id": "T0001", "channel_id": "C0DATA", "user_id": "U0ANALYST", "command": "/tailer",
                                   "text": "help", "response_url": "https://hooks.slack.com/commands/T0001/1/probe",
                                   "trigger_id": f"1.probe.{n}"}).encode()
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/slack/commands", data=body, headers={
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"})
    start = time.monotonic()
    try:
        status = urllib.request.urlopen(request, timeout=10).status
    except Exception as error:
        return None, str(error)
    return (time.monotonic() - start) * 1000, status

with tempfile.TemporaryDirectory() as d:
    port = free_port()
    env = {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": "xoxb-probe", "SLACK_API_URL": "http://127.0.0.1:9/api",
           "TAILER_API_URL": "http://127.0.0.1:9", "TAILER_API_TOKEN": "t", "DATABASE_URL": f"sqlite://{d}/bot.db",
           "PORT": str(port), "TAILERBOT_CONFIG": "tailerbot.example.toml", "RUST_LOG": "error", "PATH": os.environ["PATH"]}
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

        # 1. Unique paths.
        flood(port, 300, 0)
        rss_before, metrics_before = rss_mb(bot.pid), len(metrics(port))
        started = time.monotonic()
        threads = [threading.Thread(target=flood, args=(port, paths // 8, t)) for t in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        took = time.monotonic() - started
        rss_after, metrics_after = rss_mb(bot.pid), len(metrics(port))
        print(f"{paths} unique paths in {took:.1f} s: RSS {rss_before:.1f} -> {rss_after:.1f} MB, "
              f"/metrics {metrics_before / 1024:.1f} -> {metrics_after / 1024:.1f} KB")

        # 2. Idle connections hold no slot a signed command needs.
        held = []
        for i in range(2 * idle):
            s = socket.create_connection(("127.0.0.1", port))
            if i % 2 == 0:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")
                s.recv(4096)
            held.append(s)
        acks = [signed_command(port, n) for n in range(rounds)]
        times = [ms for ms, _ in acks if ms is not None]
        acked = sum(1 for ms, status in acks if ms is not None and status == 200 and ms < 3000)
        print(f"{idle} kept-alive and {idle} bare connections held: {acked}/{rounds} signed commands acknowledged within 3 s, "
              f"slowest {max(times) if times else float('nan'):.0f} ms")
        for s in held:
            s.close()
        print(f"probes: paths={paths} rss_before_mb={rss_before:.1f} rss_after_mb={rss_after:.1f} "
              f"metrics_before_kb={metrics_before / 1024:.1f} metrics_after_kb={metrics_after / 1024:.1f} "
              f"idle={2 * idle} ack_max_ms={max(times) if times else -1:.0f} acked={acked}/{rounds}")
    finally:
        bot.terminate()
        bot.wait()
PY
