#!/usr/bin/env python3
"""What ``--otel`` costs on the request path: requests per CPU-second of the same load with
``--otel`` off, metrics only (``OTEL_TRACES_EXPORTER=none``), metrics and a span per request,
and metrics with spans sampled down to 1% (``OTEL_TRACES_SAMPLER=traceidratio``,
``OTEL_TRACES_SAMPLER_ARG=0.01``), for a Rust user (the ``hammer`` example, one engine thread)
and a Python locustfile (``examples/perf_one_get.py``). One nginx (one worker, core 0), the
generator pinned to core 1, OTLP/gRPC export to a receiver in this process
(``tests/python/otlp_receiver.py``, metrics every 5 s); the modes alternate within each round.
Loopback only, bounded runs.

Needs ``grpcio`` and ``opentelemetry-proto`` in the interpreter running this script, and
locusta installed in ``--python``'s (``maturin develop --release``).

Usage: bench/otel_cost.py [--rounds 3] [--duration 10] [--python VENV/bin/python]
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import ROOT, build_example, nginx, read_stats_csv, run_measured

sys.path.insert(0, str(ROOT / "tests" / "python"))
from otlp_receiver import GrpcReceiver  # noqa: E402

MODES = {
    "off": None,
    "metrics": {"OTEL_TRACES_EXPORTER": "none"},
    "metrics+traces": {},
    "metrics+traces 1%": {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"},
}


def run(cmd, mode_env, endpoint, url, users, duration):
    """(requests, CPU seconds) of one bounded headless run."""
    env = ["env", f"OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}", "OTEL_METRIC_EXPORT_INTERVAL=5000",
           "OTEL_LOGS_EXPORTER=none"]
    otel = []
    if mode_env is not None:
        env += [f"{k}={v}" for k, v in mode_env.items()]
        otel = ["--otel"]
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"{tmp}/run"
        proc, cpu, _, _ = run_measured(
            env + ["taskset", "-c", "1"] + cmd
            + ["--headless", "-u", str(users), "-r", "100000", "-t", f"{duration}s", "--only-summary",
               "--csv", prefix, "-H", url, "-L", "WARNING"] + otel,
            cwd=tmp,
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{cmd[0]} exited with {proc.returncode}")
        return int(read_stats_csv(prefix)["Aggregated"]["Request Count"]), cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run")
    ap.add_argument("--python", default=sys.executable, help="interpreter with locusta installed")
    ap.add_argument("--port", type=int, default=18095)
    ap.add_argument("--skip", default="", help="comma-separated generators to leave out (rust, python)")
    args = ap.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    gens = {}
    if "rust" not in skip:
        gens["Rust user (hammer, 50 users, 1 thread)"] = ([str(build_example("hammer")), "--threads", "1"], 50)
    if "python" not in skip:
        gens["Python HttpUser (perf_one_get.py, 20 users)"] = (
            [args.python, "-m", "locusta", "-f", str(ROOT / "examples" / "perf_one_get.py")], 20)
    receiver = GrpcReceiver()
    results = {(g, m): [] for g in gens for m in MODES}
    try:
        with nginx(args.port, 0) as url:
            for r in range(args.rounds):
                for (g, m), rows in results.items():
                    cmd, users = gens[g]
                    reqs, cpu = run(cmd, MODES[m], receiver.endpoint, url, users, args.duration)
                    rows.append(reqs / cpu)
                    print(f"round {r + 1} {g} {m}: {reqs / cpu:.0f} req/CPU-s", flush=True)
    finally:
        receiver.stop()
    print()
    print("| generator | mode | req/CPU-s per round | median | vs off (per-round median) |")
    print("|---|---|---|---|---|")
    for g in gens:
        base = results[(g, "off")]
        for m in MODES:
            rows = results[(g, m)]
            ratio = statistics.median(x / b for x, b in zip(rows, base))
            print(f"| {g} | {m} | {', '.join(f'{x / 1000:.1f}k' for x in rows)} | "
                  f"{statistics.median(rows) / 1000:.1f}k | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
