#!/usr/bin/env python3
"""How far the diagnosis can be trusted: a labelled scenario corpus run end to end.

Each scenario pairs endpoints of the demo target whose behaviour under load is known by
construction (``/_insight/``: latency is a fixed function of the requests in flight on that
endpoint, of the endpoint's request rate, or of time; see crates/locusta-demo/src/patterns.rs)
with a load program (a ramp, a ramp then a hold, a step shape, ``--find-capacity``, an open-model
arrival rate), runs it with locusta, reads the diagnosis from the HTML report
(``#locusta-diagnosis``) and compares it with the truth: which endpoints are culprits, each
endpoint's pattern, the knee (in users, the run's total, or in it/s in the open model), the
capacity and a sawtooth's period. The summary is a confusion table: culprit recall, false
culprits on healthy endpoints, pattern accuracy, knee, capacity and period within +-15 % of the
truth, whether a one-level run's capacity percentile is the statistics table's, the undetermined
rate, and with ``--repeat N`` whether the verdicts stayed the same. docs/insight.md keeps the
latest figures.

Python scenarios generate a locustfile. In the closed model every pattern endpoint gets its own
user class (so the endpoint's concurrency is that class's users) next to ``healthy_users`` users
on the healthy endpoints; truths in users count both. In the open model (``--arrival-rate``) one
class runs every endpoint once per iteration. Rust scenarios run a built-in class of
``locusta demo`` (crates/locusta/src/demo_patterns.rs) with no locustfile. Each run gets a fresh
demo target, so the endpoints' clocks and counters start from zero.

Usage: bench/diagnosis.py [--locusta-python PY] [--repeat 1] [--only NAME,...] [--json FILE]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field

HEALTHY = "/_insight/fast"


@dataclass
class Scenario:
    """One labelled run: the pattern endpoints (path with parameters), the load program and what
    a correct diagnosis says."""

    name: str
    #: pattern endpoint (path?query) -> expected pattern name
    endpoints: dict
    #: "ramp": -u users -r rate -t seconds (a high rate makes it a hold at -u); "steps": a
    #: LoadTestShape of `step` users every `step_s` seconds; "capacity": --find-capacity with
    #: that step; "open": --arrival-rate `arrival` with a pool of `users` users for `seconds`
    program: str
    #: users of the pattern classes (closed model), the pool (open model), or -u (Rust)
    users: int
    rate: float = 1.0
    step: int = 2
    step_s: int = 4
    seconds: int = 0
    #: expected culprit names (paths without query)
    culprits: set = field(default_factory=set)
    #: the knee of the first culprit, in users (the run's total) or it/s, or None to skip
    knee: float = None
    #: load sustained within the objective, 0 when not even the lowest load meets it, or None
    #: to skip
    capacity: float = None
    #: a sawtooth culprit's period in seconds, or None to skip
    period: float = None
    slo: str = "p95<500ms"
    #: Python wait_time of the pattern classes (closed model)
    wait: str = "constant(0)"
    #: --arrival-rate (open model): RATE or FROM:TO
    arrival: str = None
    #: a `locusta demo` class run instead of a generated locustfile
    rust: str = None
    #: healthy endpoints, name -> path?query: each must stay none or undetermined, never a culprit
    healthy: dict = field(default_factory=lambda: {HEALTHY: HEALTHY})
    #: users on the healthy endpoints (closed-model Python scenarios)
    healthy_users: int = 1


def _path(endpoint):
    return endpoint.split("?", 1)[0]


POOL = "/_insight/pool?size=10&hold_ms=20&timeout_ms=200"
# A healthy neighbourhood: fixed work, pseudo-random jitter, a slower noisy endpoint.
NOISY_HEALTHY = {
    HEALTHY: HEALTHY,
    "/_insight/jitter": "/_insight/jitter?base_ms=2&jitter_ms=8",
    "/_insight/jitter (slow)": "/_insight/jitter?base_ms=20&jitter_ms=30",
    "/_test/delay": "/_test/delay?ms=5",
}

# The pool answers within `hold` while fewer than `size` others are in flight, so the cliff is at
# size + 1 users of its class, size + 2 in all with the healthy user (in the open model at
# size / hold it/s: beyond it 11 requests are in flight). The spike is flat while at most `flat`
# others are in flight. The rate limiter refuses above `rps` requests per second: users paced at
# 10 per second cross it at rps / 10 users. Capacity under p95<500ms: the pool's 503s and the
# limiter's 429s fail the objective's 1 % failures above the cliff; the stall's waits hold more
# than 5 % of the requests, so its p95 is far above 500 ms at any rate.
SCENARIOS = [
    Scenario("healthy only (noise)", {"/_insight/fast": "none"}, "ramp", users=20, seconds=30),
    Scenario("linear, ramp", {"/_insight/linear?base_ms=2&per_ms=4": "linear"}, "ramp", users=20,
             seconds=30, culprits={"/_insight/linear"}),
    Scenario("pool cliff, slow ramp", {POOL: "cliff"}, "ramp",
             users=20, rate=0.5, seconds=45, culprits={"/_insight/pool"}, knee=12, capacity=11),
    Scenario("pool cliff, steps", {POOL: "cliff"}, "steps",
             users=20, step=2, step_s=4, culprits={"/_insight/pool"}, knee=12, capacity=11),
    Scenario("pool cliff, --find-capacity", {POOL: "cliff"},
             "capacity", users=24, step=2, step_s=4, culprits={"/_insight/pool"}, knee=12, capacity=11),
    Scenario("spike, slow ramp", {"/_insight/spike?flat=10&base_ms=2&per_ms=1": "flat-then-spike"}, "ramp",
             users=24, rate=0.5, seconds=50, culprits={"/_insight/spike"}, knee=13),
    Scenario("stall, constant load", {"/_insight/stall?period_s=6&stall_ms=1500&base_ms=2": "sawtooth"},
             "ramp", users=10, rate=10, seconds=36, culprits={"/_insight/stall"}, period=6),
    Scenario("pool cliff next to linear", {POOL: "cliff", "/_insight/linear?base_ms=2&per_ms=5": "linear"},
             "steps", users=24, step=2, step_s=4, culprits={"/_insight/pool", "/_insight/linear"}),
    # 10 requests/s per user against 100/s: the class crosses the limit at 10 users, 11 in all
    # (at most 12 user counts, so every count is its own level).
    Scenario("rate limit, slow ramp", {"/_insight/limit?rps=100": "cliff"}, "ramp", users=11, rate=0.25,
             seconds=50, wait="constant_throughput(10)", culprits={"/_insight/limit"}, knee=11, capacity=11),
    # The most common run shape: a quick ramp, then a long hold at one load.
    Scenario("drift, ramp then hold", {"/_insight/drift?base_ms=2&per_s_ms=5": "drift"}, "ramp", users=10,
             rate=10, seconds=45, culprits={"/_insight/drift"}),
    Scenario("noisy healthy endpoints next to a pool cliff", {POOL: "cliff"}, "steps", users=20, step=2,
             step_s=4, culprits={"/_insight/pool"}, knee=13, capacity=12, healthy=NOISY_HEALTHY,
             healthy_users=2),
    # Open model: 10 connections held 200 ms each take 50 it/s (12 levels of 4 it/s). The
    # pool gives up after 50 ms, less than a connection is held, so refusals do not hold the
    # pool longer than successes (else, past 11 / 0.2 s = 55 it/s, one burst of late arrivals
    # would tip it over for good).
    Scenario("open model: pool cliff, arrival ramp",
             {"/_insight/pool?size=10&hold_ms=200&timeout_ms=50": "cliff"}, "open", users=150,
             arrival="25:73", seconds=48, culprits={"/_insight/pool"}, knee=50, capacity=50),
    Scenario("open model: stall, constant rate",
             {"/_insight/stall?period_s=6&stall_ms=1500&base_ms=2": "sawtooth"}, "open", users=400,
             arrival="100", seconds=36, culprits={"/_insight/stall"}, capacity=0, period=6),
    # Rust users of `locusta demo` (no locustfile): concurrency is the users (4 of 5 tasks on
    # the pattern, the fast one takes microseconds).
    Scenario("rust SpikeUser, ramp", {"/_insight/spike": "flat-then-spike"}, "ramp", rust="SpikeUser",
             users=30, rate=1, seconds=30, culprits={"/_insight/spike"}, knee=13),
    Scenario("rust PoolUser, --find-capacity", {"/_insight/pool": "cliff"}, "capacity", rust="PoolUser",
             users=30, step=2, step_s=4, culprits={"/_insight/pool"}, knee=11, capacity=10),
    Scenario("rust LimitUser, slow ramp", {"/_insight/limit": "cliff"}, "ramp", rust="LimitUser", users=12,
             rate=0.25, seconds=50, culprits={"/_insight/limit"}, knee=10, capacity=10, healthy={}),
    Scenario("rust DriftUser, ramp then hold", {"/_insight/drift": "drift"}, "ramp", rust="DriftUser",
             users=10, rate=10, seconds=45, culprits={"/_insight/drift"}),
    # The stall of 1 s every 10 s holds 10 % of the requests, so p99 is far above 500 ms.
    Scenario("rust StallUser, open model constant rate", {"/_insight/stall": "sawtooth"}, "open",
             rust="StallUser", users=600, arrival="300", seconds=32, culprits={"/_insight/stall"},
             capacity=0, period=10, slo="p99<500ms", healthy={}),
]


def locustfile(s: Scenario) -> str:
    """The scenario's locustfile: one class per pattern endpoint and a healthy class (closed
    model), or one class running every endpoint once per iteration (open model)."""
    header = "from locust import HttpUser, LoadTestShape, constant, constant_throughput, task\n"
    if s.program == "open":
        calls = [f"self.client.get({e!r}, name={_path(e)!r})" for e in sorted(s.endpoints)]
        calls += [f"self.client.get({url!r}, name={name!r})" for name, url in sorted(s.healthy.items())]
        body = "\n".join("        " + c for c in calls)
        return header + textwrap.dedent("""
            class Open(HttpUser):
                @task
                def iteration(self):
            """) + body + "\n"
    classes = []
    weights = max(1, len(s.endpoints))
    for i, (endpoint, _) in enumerate(sorted(s.endpoints.items())):
        classes.append(textwrap.dedent(f"""
            class Pattern{i}(HttpUser):
                weight = {100 // weights}
                wait_time = {s.wait}

                @task
                def hit(self):
                    self.client.get({endpoint!r}, name={_path(endpoint)!r})
            """))
    if s.healthy:
        tasks = "".join(textwrap.indent(textwrap.dedent(f"""
            @task
            def healthy{j}(self):
                self.client.get({url!r}, name={name!r})
            """), "    ") for j, (name, url) in enumerate(sorted(s.healthy.items())))
        classes.append(textwrap.dedent(f"""
            class Healthy(HttpUser):
                fixed_count = {s.healthy_users}
                wait_time = constant(0.05)
            """) + tasks)
    shape = ""
    if s.program == "steps":
        shape = textwrap.dedent(f"""
            class Steps(LoadTestShape):
                def tick(self):
                    t = self.get_run_time()
                    users = {s.healthy_users} + {s.step} * (1 + int(t // {s.step_s}))
                    if users > {s.users + s.healthy_users - 1}:
                        return None
                    return (users, 100)
            """)
    return header + "".join(classes) + shape


def locusta_command(python: str) -> list:
    """The `locusta` command installed next to `python` (as users run it), else `python -m
    locusta`."""
    script = os.path.join(os.path.dirname(python), "locusta")
    return [script] if os.path.exists(script) else [python, "-m", "locusta"]


def command(s: Scenario, python: str, host: str, workdir: str, report: str) -> list:
    """The command line of the scenario's run."""
    if s.rust:
        args = locusta_command(python) + ["demo", s.rust]
        extra = 0
    else:
        path = os.path.join(workdir, "locustfile.py")
        with open(path, "w") as f:
            f.write(locustfile(s))
        args = [python, "-m", "locusta", "-f", path, "-H", host]
        extra = s.healthy_users if s.healthy and s.program != "open" else 0
    args += ["--headless", "--html", report, "--only-summary", "-L", "WARNING", "--slo", s.slo]
    if s.program == "ramp":
        args += ["-u", str(s.users + extra), "-r", str(s.rate), "-t", f"{s.seconds}s"]
    elif s.program == "steps":
        args += ["-t", f"{(s.users // s.step + 2) * s.step_s}s"]
    elif s.program == "capacity":
        args += ["--find-capacity", "-u", str(s.users), "--capacity-step", str(s.step),
                 "--capacity-step-time", f"{s.step_s}s", "-t", f"{(s.users // s.step + 2) * s.step_s}s"]
    elif s.program == "open":
        args += ["--arrival-rate", s.arrival, "-u", str(s.users), "-r", str(s.users), "-t", f"{s.seconds}s"]
    else:
        raise SystemExit(f"{s.name}: unknown program {s.program!r}")
    return args


def run(s: Scenario, python: str, workdir: str) -> tuple:
    """Runs the scenario (against a fresh demo target); returns the diagnosis JSON and the HTML
    report."""
    report = os.path.join(workdir, "report.html")
    target, host = (None, None) if s.rust else start_target(python)
    try:
        proc = subprocess.run(command(s, python, host, workdir, report), capture_output=True, text=True,
                              timeout=600, cwd=workdir)
    finally:
        if target:
            target.terminate()
            target.wait(timeout=10)
    if not os.path.exists(report):
        raise SystemExit(f"{s.name}: no report (exit {proc.returncode})\n{proc.stderr[-3000:]}")
    html = open(report).read()
    m = re.search(r'id="locusta-diagnosis">(.*?)</script>', html, re.S)
    if not m:
        raise SystemExit(f"{s.name}: no diagnosis in the report")
    return json.loads(m.group(1)), html


def table_percentile(html: str, slo: str):
    """The Aggregated row's percentile of the objective (e.g. p95) in the report's Response Time
    Statistics, ms; None when absent."""
    pct = re.match(r"p(\d+)", slo)
    section = re.search(r'<section id="response-times">(.*?)</section>', html, re.S)
    if not pct or not section:
        return None
    heads = re.findall(r"<th>(\d+)%ile", section.group(1))
    row = re.search(r"<td></td><td>Aggregated</td>(.*?)</tr>", section.group(1), re.S)
    if not row or pct.group(1) not in heads:
        return None
    cells = re.findall(r"<td>([0-9.]+)</td>", row.group(1))
    i = heads.index(pct.group(1))
    return float(cells[i]) if i < len(cells) else None


def within(value, truth, tolerance=0.15):
    return value is not None and truth is not None and abs(value - truth) <= tolerance * truth


def judge(s: Scenario, d: dict, html: str = "") -> dict:
    """What the diagnosis got right, for the confusion table."""
    endpoints = {e["name"]: e for e in d["endpoints"]}
    culprits = [e["name"] for e in d["endpoints"][: d["culprit_count"]]]
    patterns = {_path(ep): (want, endpoints.get(_path(ep), {}).get("pattern", "absent"))
                for ep, want in s.endpoints.items()}
    healthy = {name: endpoints.get(name, {}).get("pattern", "absent") for name in s.healthy}
    knee = period = None
    for name in culprits:
        if name in s.culprits and endpoints[name].get("knee"):
            knee = endpoints[name]["knee"]["users"]
            break
    for name in culprits:
        if name in s.culprits and endpoints[name]["pattern"] == "sawtooth":
            period = endpoints[name].get("period_s")
            break
    capacity = d.get("capacity") or {}
    sustained = (capacity.get("sustained") or {}).get("users")
    if s.capacity == 0:
        capacity_ok = sustained is None and capacity.get("broken_at") is not None
    else:
        capacity_ok = within(sustained, s.capacity) if s.capacity else None
    # A run at one load is one level: its capacity percentile must be the statistics table's.
    table_ok = table_ms = level_ms = None
    levels = d["overall"]["levels"]
    if len(levels) == 1 and html:
        table_ms = table_percentile(html, s.slo)
        level_ms = levels[0]["slo_latency_ms"]
        table_ok = table_ms is not None and abs(level_ms - table_ms) <= 0.2 * max(table_ms, 1.0)
    return {
        "culprits": culprits,
        "recall": s.culprits <= set(culprits) if s.culprits else None,
        "false culprits": sorted(set(culprits) - s.culprits),
        "patterns": patterns,
        "healthy": healthy,
        "knee": knee,
        "knee ok": within(knee, s.knee) if s.knee else None,
        "capacity": sustained,
        "capacity ok": capacity_ok,
        "period": period,
        "period ok": within(period, s.period) if s.period else None,
        "capacity percentile": [level_ms, table_ms],
        "capacity percentile ok": table_ok,
    }


def start_target(python: str):
    proc = subprocess.Popen([python, "-m", "locusta", "demo-target", "--port", "0"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    line = proc.stderr.readline()
    m = re.search(r"http://[0-9.]+:\d+", line)
    if not m:
        proc.kill()
        raise SystemExit(f"demo-target did not start: {line!r}")
    return proc, m.group(0)


def run_scenario(s: Scenario, python: str, repeat: int = 1, echo=print) -> list:
    """Runs one scenario `repeat` times; returns the judgements (one line each to `echo`)."""
    if os.sep in python:
        python = os.path.abspath(python)  # the runs work in a temporary directory
    verdicts = []
    for i in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            j = judge(s, *run(s, python, tmp))
        j["seconds"] = round(time.time() - t0, 1)
        verdicts.append(j)
        pats = ", ".join(f"{p}: {got} (want {want})" for p, (want, got) in j["patterns"].items())
        healthy = ", ".join(f"{p}: {got}" for p, got in j["healthy"].items()) or "-"
        extra = ""
        if s.period:
            extra += f"; period {j['period']} (want {s.period})"
        if j["capacity percentile ok"] is not None:
            level_ms, table_ms = j["capacity percentile"]
            extra += f"; capacity {s.slo[:3]} {level_ms:.0f} ms, table {table_ms} ms"
        echo(f"{s.name} #{i + 1}: culprits {j['culprits'] or 'none'}; {pats}; healthy {healthy}; "
             f"knee {j['knee']} (want {s.knee}); capacity {j['capacity']} (want {s.capacity}){extra}; "
             f"{j['seconds']} s")
    return verdicts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--locusta-python", default=sys.executable)
    ap.add_argument("--repeat", type=int, default=1, help="runs per scenario (verdict stability)")
    ap.add_argument("--only", help="comma-separated scenario names (substrings)")
    ap.add_argument("--json", help="write every run's judgement here")
    args = ap.parse_args()
    chosen = [s for s in SCENARIOS if not args.only or any(o in s.name for o in args.only.split(","))]
    results = []
    for s in chosen:
        results.append((s, run_scenario(s, args.locusta_python, args.repeat, lambda line: print(line, flush=True))))
        if args.json:  # after every scenario, so a long run that is cut short keeps what it did
            with open(args.json, "w") as f:
                json.dump([{"scenario": s.name, "runs": vs} for s, vs in results], f, indent=1, default=list)

    def rate(values):
        values = [v for v in values if v is not None]
        return f"{sum(values)}/{len(values)}" + (f" ({100 * sum(values) / len(values):.0f}%)" if values else "")

    runs = [(s, j) for s, vs in results for j in vs]
    print("\nconfusion table")
    print(f"  culprit recall (every expected culprit named): {rate([j['recall'] for _, j in runs])}")
    false = [(s.name, j["false culprits"]) for s, j in runs if j["false culprits"]]
    print(f"  runs naming a false culprit: {len(false)}/{len(runs)} {false if false else ''}")
    healthy_ok = [got in ("none", "undetermined") for _, j in runs for got in j["healthy"].values()]
    print(f"  healthy endpoints not blamed (none/undetermined): {rate(healthy_ok)}")
    pattern_ok = [got == want for _, j in runs for want, got in j["patterns"].values()]
    print(f"  pattern accuracy: {rate(pattern_ok)}")
    undetermined = [got == "undetermined" for _, j in runs for _, got in j["patterns"].values()]
    print(f"  undetermined among pattern endpoints: {rate(undetermined)}")
    print(f"  knee within 15 %: {rate([j['knee ok'] for _, j in runs])}")
    print(f"  capacity within 15 % (or rightly not met): {rate([j['capacity ok'] for _, j in runs])}")
    print(f"  sawtooth period within 15 %: {rate([j['period ok'] for _, j in runs])}")
    print(f"  one-level capacity percentile within 20 % of the table's: "
          f"{rate([j['capacity percentile ok'] for _, j in runs])}")
    if args.repeat > 1:
        stable = [len({json.dumps([j['culprits'], j['patterns']], sort_keys=True) for j in vs}) == 1
                  for _, vs in results]
        print(f"  scenarios with the same verdict in all {args.repeat} runs: {rate(stable)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
