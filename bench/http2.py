#!/usr/bin/env python3
"""HTTP/2 throughput: locusta (Rust-native user, GET / with no wait, `--http2 prior-knowledge`)
versus h2load (nghttp2's HTTP/2 benchmark client) against the same nginx speaking h2c, one
nginx worker pinned to one core and the load generator to the other. With --tls, the same over
TLS: nginx `listen ... ssl http2` with a self-signed certificate made at run time by
`openssl req`, HTTP/2 chosen by ALPN (locusta `--http2 negotiate`; h2load and oha do not verify
the certificate, locusta's benchmark user does not either, as FastHttpUser's `insecure`).

Each tool runs --connections clients (locusta: users, each with its one HTTP/2 connection and
one request in flight, as a Locust user; h2load: `-c N -m 1`, one stream in flight per
connection), alternating, for --rounds rounds of --duration seconds. The score is requests per
CPU-second of the load generator (user + system time of the child, from getrusage), median over
rounds. Goal (issue 17): locusta >= 0.8x h2load. With --python, a Python FastHttpUser with
`http2 = "prior-knowledge"` runs too (bench/locustfiles/http2_get.py; over https that mode
negotiates by ALPN). With --oha PATH, oha (`oha --http2 -c N -z Ds --no-tui`, its CPU counted
the same way) runs too.

With --streams M (default 1), every client keeps M requests in flight on its one connection:
h2load `-m M`, oha `-p M`, locusta's Rust user sends M requests at once per task and waits
for all (`HAMMER_STREAMS=M`, examples/hammer.rs), the Python user spawns M greenlets per task
(bench/locustfiles/http2_streams.py).

Usage: bench/http2.py [--duration 10] [--connections 50] [--rounds 3] [--tls] [--python PYTHON]
                      [--oha PATH] [--streams 1]
Needs: nginx with the http_v2 and ssl modules (`apt-get install nginx-light`), h2load
(`apt-get install nghttp2-client`), openssl for --tls.
"""

import argparse
import re
import statistics
import sys
import tempfile

from common import ROOT, build_example, nginx, read_stats_csv, require, run_measured, self_signed_cert


def run_h2load(h2load, pin, url, connections, duration, streams):
    proc, cpu, _, wall = run_measured(
        pin + [h2load, "-c", str(connections), "-m", str(streams), "-t", "1", "-D", str(duration), url + "/"]
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


def run_oha(oha, pin, url, connections, duration, streams):
    proc, cpu, _, wall = run_measured(
        pin + [oha, "--http2", "-c", str(connections), "-p", str(streams), "-z", f"{duration}s", "--no-tui",
               "--insecure", url + "/"]
    )
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        raise SystemExit(f"oha exited with {proc.returncode}")
    # Status code distribution:
    #   [200] 123456 responses
    ok = re.search(r"\[200\]\s+(\d+)\s+responses", proc.stdout)
    if ok is None:
        raise SystemExit(f"no '[200] N responses' line in oha's output:\n{proc.stdout}")
    return int(ok.group(1)), cpu, wall


def run_locusta(cmd, pin, url, users, duration, http2, streams):
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"{tmp}/run"
        proc, cpu, _, wall = run_measured(
            ["env", f"HAMMER_STREAMS={streams}", f"H2_STREAMS={streams}"] + pin + cmd + ["--headless", "-u", str(users), "-r", "100000", "-t", f"{duration}s",
                         "--only-summary", "--csv", prefix, "-H", url, "-L", "WARNING",
                         "--http2", http2]
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
    ap.add_argument("--tls", action="store_true", help="HTTP/2 over TLS (ALPN h2) instead of h2c")
    ap.add_argument("--python", help="also run the Python FastHttpUser with this interpreter (locusta installed)")
    ap.add_argument("--oha", help="also run oha (this binary)")
    ap.add_argument("--streams", type=int, default=1, help="requests in flight per connection (default 1)")
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
    if args.oha:
        tools["oha"] = None
    if args.python:
        lf = ROOT / "bench" / "locustfiles" / ("http2_get.py" if args.streams == 1 else "http2_streams.py")
        tools["locusta-py"] = [args.python, "-m", "locusta", "-f", str(lf)]
    results = {t: [] for t in tools}
    h2_port = args.port + 1
    with tempfile.TemporaryDirectory() as certs:
        if args.tls:
            tls = self_signed_cert(certs)
            listen, scheme, mode, http2 = f"127.0.0.1:{h2_port} ssl http2", "https", "TLS, ALPN h2", "negotiate"
        else:
            # nginx 1.22 (Debian 12): `listen ... http2` on a plain listener is h2c with prior knowledge
            tls = None
            listen, scheme, mode, http2 = f"127.0.0.1:{h2_port} http2", "http", "h2c", "prior-knowledge"
        with nginx(args.port, args.server_core, extra_listen=[listen], tls=tls):
            url = f"{scheme}://127.0.0.1:{h2_port}"
            for _ in range(args.rounds):
                for tool, cmd in tools.items():
                    if tool == "h2load":
                        results[tool].append(run_h2load(h2load, pin, url, args.connections, args.duration, args.streams))
                    elif tool == "oha":
                        results[tool].append(run_oha(args.oha, pin, url, args.connections, args.duration, args.streams))
                    else:
                        results[tool].append(run_locusta(cmd, pin, url, args.connections, args.duration, http2, args.streams))

    print(f"\nall runs ({args.duration} s each, {args.connections} connections, {args.streams} stream(s) in flight "
          f"on each, {mode}; generator pinned "
          f"to core {args.gen_core}, nginx to core {args.server_core})")
    print(f"{'tool':<11} {'round':>5} {'requests':>10} {'cpu s':>7} {'cpu %':>6} {'req/cpu-s':>10} {'req/s':>9}")
    for tool, rows in results.items():
        for i, (reqs, cpu, wall) in enumerate(rows):
            print(f"{tool:<11} {i:>5} {reqs:>10} {cpu:>7.2f} {100 * cpu / wall:>6.0f} {reqs / cpu:>10.0f} {reqs / wall:>9.0f}")
    eff = {t: statistics.median(r[0] / r[1] for r in rows) for t, rows in results.items()}
    print("\nmedian requests per CPU-second: " + ", ".join(f"{t} {v:.0f}" for t, v in eff.items()))
    for t in tools:
        if t != "h2load":
            goal = " (goal >= 0.8x)" if t == "locusta" else ""
            print(f"{t} / h2load: {eff[t] / eff['h2load']:.2f}x{goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
