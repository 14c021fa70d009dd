#!/usr/bin/env python3
"""HTTP/2 throughput: locusta (Rust-native user, GET / with no wait, `--http2 prior-knowledge`)
versus h2load (nghttp2's HTTP/2 benchmark client) against the same nginx speaking h2c, one
nginx worker pinned to one core and the load generator to the other.

Each tool runs --connections clients (locusta: users, each with its one HTTP/2 connection and
one request in flight, as a Locust user; h2load: `-c N -m 1`, one stream in flight per
connection), alternating, for --rounds rounds of --duration seconds. The score is requests per
CPU-second of the load generator (user + system time of the child, from getrusage), median over
rounds. Goal (issue 17): locusta >= 0.8x h2load. With --python, a Python FastHttpUser with
`http2 = "prior-knowledge"` runs too (bench/locustfiles/http2_get.py).

Usage: bench/http2.py [--duration 10] [--connections 50] [--rounds 3] [--python PYTHON]
Needs: nginx with the http_v2 module (`apt-get install nginx-light`), h2load
(`apt-get install nghttp2-client`).
"""

import argparse
import statistics
import sys
import tempfile

from common import ROOT, build_example, nginx, read_stats_csv, require, run_measured


def run_h2load(h2load, pin, url, connections, duration):
    proc, cpu, _, wall = run_measured(
        pin + [h2load, "-c", str(connections), "-m", "1", "-t", "1", "-D", str(duration), url + "/"]
    )
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        raise SystemExit(f"h2load exited with {proc.returncode}")
    done = next((line for line in proc.stdout.splitlines() if line.startswith("requests:")), None)
    if done is None:
        raise SystemExit(f"no 'requests:' line in h2load's output:\n{proc.stdout}")
    # requests: 100 total, 100 started, 100 done, 100 succeeded, 0 failed, 0 errored, 0 timeout
    succeeded = int(done.split(",")[3].split()[0])
    return succeeded, cpu, wall


def run_locusta(cmd, pin, url, users, duration):
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"{tmp}/run"
        proc, cpu, _, wall = run_measured(
            pin + cmd + ["--headless", "-u", str(users), "-r", "100000", "-t", f"{duration}s",
                         "--only-summary", "--csv", prefix, "-H", url, "-L", "WARNING",
                         "--http2", "prior-knowledge"]
        )
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(f"locusta exited with {proc.returncode}")
        agg = read_stats_csv(prefix)["Aggregated"]
        if int(agg["Failure Count"]):
            raise SystemExit(f"locusta had {agg['Failure Count']} failures:\n{proc.stderr}")
        return int(agg["Request Count"]), cpu, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    ap.add_argument("--connections", type=int, default=50, help="connections / users (default 50)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    ap.add_argument("--port", type=int, default=18090)
    ap.add_argument("--python", help="also run the Python FastHttpUser with this interpreter (locusta installed)")
    ap.add_argument("--gen-core", type=int, default=1)
    ap.add_argument("--server-core", type=int, default=0)
    args = ap.parse_args()

    h2load = require("h2load", "apt-get install nghttp2-client")
    hammer = build_example("hammer")
    pin = ["taskset", "-c", str(args.gen_core)]
    tools = {
        "h2load": None,
        "locusta": [str(hammer), "--threads", "1"],
    }
    if args.python:
        lf = ROOT / "bench" / "locustfiles" / "http2_get.py"
        tools["locusta-py"] = [args.python, "-m", "locusta", "-f", str(lf)]
    results = {t: [] for t in tools}
    h2c = args.port + 1
    # nginx 1.22 (Debian 12): `listen ... http2` on a plain listener is h2c with prior knowledge
    with nginx(args.port, args.server_core, extra_listen=[f"127.0.0.1:{h2c} http2"]):
        url = f"http://127.0.0.1:{h2c}"
        for _ in range(args.rounds):
            for tool, cmd in tools.items():
                if cmd is None:
                    results[tool].append(run_h2load(h2load, pin, url, args.connections, args.duration))
                else:
                    results[tool].append(run_locusta(cmd, pin, url, args.connections, args.duration))

    print(f"\nall runs ({args.duration} s each, {args.connections} connections, h2c; generator pinned "
          f"to core {args.gen_core}, nginx to core {args.server_core})")
    print(f"{'tool':<11} {'round':>5} {'requests':>10} {'cpu s':>7} {'cpu %':>6} {'req/cpu-s':>10} {'req/s':>9}")
    for tool, rows in results.items():
        for i, (reqs, cpu, wall) in enumerate(rows):
            print(f"{tool:<11} {i:>5} {reqs:>10} {cpu:>7.2f} {100 * cpu / wall:>6.0f} {reqs / cpu:>10.0f} {reqs / wall:>9.0f}")
    eff = {t: statistics.median(r[0] / r[1] for r in rows) for t, rows in results.items()}
    print("\nmedian requests per CPU-second: " + ", ".join(f"{t} {v:.0f}" for t, v in eff.items()))
    for t in tools:
        if t != "h2load":
            print(f"{t} / h2load: {eff[t] / eff['h2load']:.2f}x (goal >= 0.8x for the Rust-native user)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
