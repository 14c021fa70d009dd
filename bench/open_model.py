"""Open vs closed model against a target that stalls for 1 s every 10 s (issue 5).

The built-in demo target's `/_insight/stall?period_s=10&stall_ms=1000` answers in ~1 ms except
during the first second of every 10 s, when requests wait for the stall to end. The same
`StallUser` runs twice for 60 s on loopback:

- closed model: 20 users with no wait time (Locust's model: each user waits for its response);
- open model: `--arrival-rate 1000` iterations per second with a pool of 2000 users; latency
  counts from each iteration's intended start (wrk2-style, free of coordinated omission).

Prints both runs' request counts and percentiles, and the open model's late-start line.
Usage: python3 bench/open_model.py [seconds]
"""

import json
import subprocess
import sys

from common import build_binary


def run(binary, extra, seconds):
    cmd = [
        str(binary), "demo", "StallUser", "-t", f"{seconds}s", "--only-summary", "--json",
        "-L", "WARNING", *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    stats = json.loads(proc.stdout)
    row = next(s for s in stats if s["name"] == "/_insight/stall")
    pct = {}
    # Percentiles from Locust's response_times buckets (ms -> count).
    buckets = sorted((float(k), v) for k, v in row["response_times"].items())
    total = sum(v for _, v in buckets)
    for p in (0.5, 0.9, 0.95, 0.99, 0.999):
        rank, seen = int(total * p) + 1, 0
        for ms, n in buckets:
            seen += n
            if seen >= rank:
                pct[p] = ms
                break
    late = [l.strip() for l in proc.stderr.splitlines() if "open model:" in l]
    return row["num_requests"], pct, row["max_response_time"], late


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    binary = build_binary()
    for label, extra in [
        ("closed (20 users, no wait)", ["-u", "20", "-r", "20"]),
        ("open (--arrival-rate 1000, pool 2000)", ["-u", "2000", "-r", "2000", "--arrival-rate", "1000"]),
    ]:
        n, pct, mx, late = run(binary, extra, seconds)
        print(
            f"{label}: {n} requests; p50 {pct[0.5]:.0f} ms, p90 {pct[0.9]:.0f} ms, "
            f"p95 {pct[0.95]:.0f} ms, p99 {pct[0.99]:.0f} ms, p99.9 {pct[0.999]:.0f} ms, max {mx:.0f} ms"
        )
        for line in late:
            print(f"  {line}")


if __name__ == "__main__":
    main()
