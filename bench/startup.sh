#!/usr/bin/env bash
# Start-up and footprint of a release `tailerbot serve`: time from exec to `/readyz`
# answering 200 (fresh SQLite database each time, median and worst of RUNS starts),
# idle RSS after SETTLE seconds, and the binary's size. Ends with one line
#   startup: ready_ms_p50=<ms> ready_ms_max=<ms> idle_rss_mb=<mb> binary_mb=<mb>
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
SETTLE=${SETTLE:-5}

cargo build --release --locked --quiet
python3 - "$RUNS" "$SETTLE" <<'PY'
import os, socket, statistics, subprocess, sys, tempfile, time, urllib.request

runs, settle = int(sys.argv[1]), float(sys.argv[2])
binary = "target/release/tailerbot"

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=0.5) as r:
            return r.status == 200
    except Exception:
        return False

sim_port = free_port()
sim = subprocess.Popen([binary, "sim", "--port", str(sim_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
times, rss = [], 0
try:
    for i in range(runs):
        with tempfile.TemporaryDirectory() as d:
            port = free_port()
            env = {
                "SLACK_SIGNING_SECRET": "startup-secret", "SLACK_BOT_TOKEN": "xoxb-startup",
                "SLACK_API_URL": "http://127.0.0.1:9/api", "TAILER_API_URL": f"http://127.0.0.1:{sim_port}",
                "TAILER_API_TOKEN": "t", "DATABASE_URL": f"sqlite://{d}/bot.db", "PORT": str(port),
                "TAILERBOT_CONFIG": os.path.abspath("tailerbot.example.toml"), "RUST_LOG": "warn",
            }
            start = time.perf_counter()
            bot = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while not ready(port):
                if bot.poll() is not None:
                    sys.exit(f"serve exited with {bot.returncode}")
                time.sleep(0.002)
            times.append((time.perf_counter() - start) * 1000)
            if i == runs - 1:
                time.sleep(settle)
                with open(f"/proc/{bot.pid}/status") as f:
                    rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
            bot.terminate()
            bot.wait()
finally:
    sim.terminate()
    sim.wait()
size = os.path.getsize(binary) / 1e6
print(f"exec → /readyz 200: {', '.join(f'{t:.0f}' for t in times)} ms")
print(f"idle RSS after {settle:.0f} s: {rss:.1f} MB; binary {size:.1f} MB")
print(f"startup: ready_ms_p50={statistics.median(times):.0f} ready_ms_max={max(times):.0f} idle_rss_mb={rss:.1f} binary_mb={size:.1f}")
PY
