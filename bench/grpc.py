#!/usr/bin/env python3
"""gRPC throughput: locusta (Python GrpcUser and a Rust-native user) versus Locust's documented
GrpcUser pattern (grpcio + grpc.experimental.gevent + grpc_interceptor), side by side in one run,
on the same unary method: SayHello of Locust's gRPC example (hello.proto), served by the demo
target's gRPC service on h2c (crates/locusta-grpc/examples/grpc_target.rs) pinned to one core,
each load generator pinned to the other.

The score is requests per CPU-second of the generator process (user + system time from
getrusage), median over --rounds alternating rounds; users run with no wait.

ghz (the usual gRPC benchmarking tool) is a Go program, not packaged for Debian, PyPI or npm,
so it is not part of the comparison.

Needs: locusta installed in --locusta-python (``maturin develop --release``), Locust 2.47 with
grpcio and grpc-interceptor in --locust-python (``pip install locust==2.47.0 grpcio
grpc-interceptor``), cargo for the release builds of the target and the Rust user.

Usage: bench/grpc.py [--duration 10] [--users 20] [--rounds 3] [--locusta-python PY] [--locust-python PY]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile

from common import ROOT, build_example, read_stats_csv, run_measured

NAME = "/locust.hello.HelloService/SayHello"
LOCUSTFILES = ROOT / "bench" / "locustfiles"


def build():
    """The gRPC target and the Rust-native user, release builds."""
    return str(build_example("grpc_target", "locusta-grpc")), str(build_example("grpc_hello"))


def start_target(binary, core):
    proc = subprocess.Popen(["taskset", "-c", str(core), binary, "0"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"grpc_target did not start: {line!r}")
    return proc, int(line.split()[-1])


def run_tool(cmd, pin, url, users, duration):
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"{tmp}/run"
        proc, cpu, _rss, wall = run_measured(
            pin + cmd + ["--headless", "-u", str(users), "-r", "1000", "-t", f"{duration}s", "--only-summary",
                         "--csv", prefix, "-H", url, "-L", "WARNING"],
            cwd=tmp,
            timeout=duration + 60,
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
        row = read_stats_csv(prefix).get(NAME)
        if row is None:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{' '.join(cmd)} recorded no {NAME}")
        return int(row["Request Count"]), int(row["Failure Count"]), cpu, wall, float(row["50%"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    ap.add_argument("--users", type=int, default=20, help="users per run (default 20)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    ap.add_argument("--locusta-python", default=sys.executable, help="interpreter with locusta installed")
    ap.add_argument("--locust-python", default=sys.executable,
                    help="interpreter with Locust 2.47, grpcio and grpc-interceptor installed")
    ap.add_argument("--gen-core", type=int, default=1)
    ap.add_argument("--server-core", type=int, default=0)
    args = ap.parse_args()

    target_bin, rust_user = build()
    pin = ["taskset", "-c", str(args.gen_core)]
    tools = {
        "locusta GrpcUser (Python)": [args.locusta_python, "-m", "locusta", "-f", str(LOCUSTFILES / "grpc_hello.py")],
        "locusta Rust-native user": [rust_user],
        "Locust GrpcUser pattern (grpcio + gevent)": [args.locust_python, "-m", "locust", "-f",
                                                      str(LOCUSTFILES / "grpc_hello_locust.py")],
    }
    target, port = start_target(target_bin, args.server_core)
    url = f"http://127.0.0.1:{port}"
    results = {name: [] for name in tools}
    try:
        for r in range(args.rounds):
            for name, cmd in tools.items():
                reqs, fails, cpu, wall, p50 = run_tool(cmd, pin, url, args.users, args.duration)
                results[name].append((reqs / cpu if cpu else 0.0, reqs / wall, fails, p50))
                print(f"round {r + 1} {name}: {reqs} requests, {fails} failures, {cpu:.2f} CPU-s, "
                      f"{reqs / cpu:.0f} req/CPU-s, p50 {p50} ms", file=sys.stderr)
    finally:
        target.terminate()
        target.wait(timeout=10)

    base = statistics.median(x[0] for x in results["Locust GrpcUser pattern (grpcio + gevent)"])
    print(f"\n{args.users} users, {args.duration} s runs, {args.rounds} rounds, unary {NAME}\n")
    print("| generator | req/CPU-s (median) | per round | req/s | failures | p50 ms | vs Locust |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        med = statistics.median(x[0] for x in rows)
        rounds = " / ".join(f"{x[0] / 1000:.1f}k" for x in rows)
        rps = statistics.median(x[1] for x in rows)
        fails = sum(x[2] for x in rows)
        p50 = statistics.median(x[3] for x in rows)
        print(f"| {name} | {med / 1000:.1f}k | {rounds} | {rps:.0f} | {fails} | {p50} | {med / base:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
