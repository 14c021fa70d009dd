#!/usr/bin/env python3
"""WebSocket users: requests per CPU-second and memory per idle connected user, side by side in
one run, against the demo target's /ws/echo (`locusta demo-target`, pinned to core 0; the load
generators run on core 1):

* `rust`: the Rust-native user (examples/websocket_users.rs, release build),
* `python`: locusta's WebSocketUser (bench/locustfiles/ws_locusta.py, `python -m locusta`),
* `locust`: the real Locust with python `websocket-client` under gevent, as Locust users write
  WebSocket users today (bench/locustfiles/ws_websocket_client.py).

Echo: `--echo-users` users send "hello" and wait for the echo, back to back, for `--duration`
seconds; requests per CPU-second = echo pairs / (user + system CPU time of the process).
Idle: `--idle-users` (two counts) users connect and then stay idle (a ping a minute); memory per
idle user = (RSS at the larger count - RSS at the smaller) / (difference in users), RSS sampled
once every user is connected.

k6 (the usual WebSocket load tool) is not installable here (no Debian, PyPI, npm or crates.io
package), so it is not in the table.

Usage: bench/websocket_bench.py [--python PYTHON] [--locust LOCUST] [--duration 10]
       [--echo-users 10] [--idle-users 1000,5000]
PYTHON must have locusta installed (`maturin develop --release` or `pip install .`); LOCUST is a
real Locust 2.47 with websocket-client.
"""

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import build_example, rss_kb

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILES = ROOT / "bench" / "locustfiles"


def start_target(python):
    """`locusta demo-target` on a free port, pinned to core 0; (process, base URL)."""
    proc = subprocess.Popen(
        ["taskset", "-c", "0", python, "-m", "locusta", "demo-target", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stderr.readline()
    m = re.search(r"http://[0-9.]+:\d+", line)
    if not m:
        raise SystemExit(f"demo-target did not start: {line!r}")
    return proc, m.group(0)


def run(cmd, env, users, rate, duration, settle):
    """Runs one headless test pinned to core 1 (every user must have connected); returns (echo pairs, failures, CPU seconds,
    steady RSS in KB: the largest sample from `settle` seconds on)."""
    with tempfile.TemporaryDirectory() as tmp:
        full = ["taskset", "-c", "1", *cmd, "--headless", "-u", str(users), "-r", str(rate), "-t", f"{duration}s",
                "--only-summary", "--csv", f"{tmp}/run", "--exit-code-on-error", "0", "-L", "WARNING"]
        # cwd: a directory without this script, whose name would shadow `import websocket`
        proc = subprocess.Popen(full, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp)
        samples, stop = [], threading.Event()

        def sample():
            started = time.monotonic()
            while not stop.is_set():
                if time.monotonic() - started >= settle:
                    samples.append(rss_kb(proc.pid))
                time.sleep(0.25)

        t = threading.Thread(target=sample)
        t.start()
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        stop.set()
        t.join()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            print(stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{full} exited with {code}")
        pairs = failures = connects = 0
        with open(f"{tmp}/run_stats.csv") as f:
            header = f.readline().strip().split(",")
            for line in f:
                row = dict(zip(header, line.strip().split(",")))
                if row["Name"] == "echo pair":
                    pairs = int(row["Request Count"])
                if (row["Type"], row["Name"]) == ("WS", "echo"):
                    connects = int(row["Request Count"]) - int(row["Failure Count"])
                if row["Name"] != "Aggregated":
                    failures += int(row["Failure Count"])
        if connects < users:
            raise SystemExit(f"{full}: only {connects} of {users} users connected")
        cpu = usage.ru_utime + usage.ru_stime
        return pairs, failures, cpu, max(samples, default=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=sys.executable, help="Python with locusta installed")
    ap.add_argument("--locust", default="/opt/locust-venv/bin/locust", help="real Locust with websocket-client")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--echo-users", type=int, default=10)
    ap.add_argument("--idle-users", default="1000,5000")
    ap.add_argument("--only", default="rust,python,locust")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    low, high = (int(x) for x in args.idle_users.split(","))
    tools = {
        "rust": [str(build_example("websocket_users"))],
        "python": [args.python, "-m", "locusta", "-f", str(LOCUSTFILES / "ws_locusta.py")],
        "locust": [args.locust, "-f", str(LOCUSTFILES / "ws_websocket_client.py")],
    }
    target, host = start_target(args.python)
    rows = []
    try:
        for name in [t.strip() for t in args.only.split(",") if t.strip()]:
            cmd = tools[name] + ["-H", host]
            env = dict(os.environ, WS_BENCH="echo")
            pairs, failures, cpu, _ = run(cmd, env, args.echo_users, 100, args.duration, settle=0)
            if pairs == 0:
                raise SystemExit(f"{name}: no echo pair recorded (is the target {host} up?)")
            env = dict(os.environ, WS_BENCH="idle")
            rss = {}
            for n in (low, high):
                rate = 500
                ramp = n / rate
                _, idle_failures, _, rss[n] = run(cmd, env, n, rate, int(ramp + 8), settle=ramp + 3)
                failures += idle_failures
                if target.poll() is not None:
                    raise SystemExit(f"the demo target exited with {target.returncode} during {name} idle {n}")
            per_user = (rss[high] - rss[low]) * 1024 / (high - low)
            rows.append((name, pairs, cpu, pairs / cpu if cpu else 0.0, rss[low], rss[high], per_user, failures))
            print(f"{name}: {pairs} echo pairs in {cpu:.2f} CPU-s, RSS {rss[low]} KB at {low} idle users, "
                  f"{rss[high]} KB at {high}; failures {failures}", flush=True)
    finally:
        target.terminate()
        target.wait(timeout=10)

    print()
    print(f"| tool | echo pairs ({args.echo_users} users, {args.duration} s) | CPU s | pairs per CPU-second "
          f"| RSS at {low} idle users | RSS at {high} | memory per idle user | failures |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, pairs, cpu, per_cpu, r_low, r_high, per_user, failures in rows:
        print(f"| {name} | {pairs} | {cpu:.2f} | {per_cpu:,.0f} | {r_low / 1024:.1f} MB | {r_high / 1024:.1f} MB "
              f"| {per_user / 1024:.1f} KB | {failures} |")


if __name__ == "__main__":
    main()
