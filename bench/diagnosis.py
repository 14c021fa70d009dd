#!/usr/bin/env python3
"""How far the diagnosis can be trusted: a labelled scenario corpus run end to end.

Each scenario pairs endpoints of the demo target whose behaviour under load is known by
construction (``/_insight/``: latency is a fixed function of the requests in flight on that
endpoint, or of time; see crates/locusta-demo/src/patterns.rs) with a load program (a ramp, a
step shape, ``--find-capacity``), runs it as a Python locustfile with locusta, reads the
diagnosis from the HTML report (``#locusta-diagnosis``) and compares it with the truth: which
endpoints are culprits, each endpoint's pattern, the knee (in users, the run's total) and the
capacity. The summary is a confusion table: culprit recall, false culprits on healthy endpoints,
pattern accuracy, knee and capacity within +-15 % of the truth, the undetermined rate, and with
``--repeat N`` whether the verdicts stayed the same. docs/insight.md keeps the latest figures.

Every scenario gives each pattern endpoint its own user class (so the endpoint's concurrency is
that class's users) next to one healthy user on ``/_insight/fast``; truths in users count both.

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
    #: "ramp": -u users -r rate; "steps": a LoadTestShape of `step` users every `step_s`
    #: seconds; "capacity": --find-capacity with that step
    program: str
    users: int
    rate: float = 1.0
    step: int = 2
    step_s: int = 4
    seconds: int = 0
    #: expected culprit names (paths without query)
    culprits: set = field(default_factory=set)
    #: the knee of the first culprit, in users (the run's total), or None to skip
    knee: float = None
    #: users sustained within the objective, or None to skip
    capacity: float = None
    slo: str = "p95<500ms"


def _path(endpoint):
    return endpoint.split("?", 1)[0]


# The pool answers within `hold` while fewer than `size` others are in flight, so the cliff is at
# size + 1 users of its class, size + 2 in all with the healthy user. The spike is flat while at
# most `flat` others are in flight. Capacity under p95<500ms: the pool's 503s (after 200 ms) fail
# the objective's 1 % failures above the cliff.
SCENARIOS = [
    Scenario("healthy only (noise)", {"/_insight/fast": "none"}, "ramp", users=20, seconds=30),
    Scenario("linear, ramp", {"/_insight/linear?base_ms=2&per_ms=4": "linear"}, "ramp", users=20,
             seconds=30, culprits={"/_insight/linear"}),
    Scenario("pool cliff, slow ramp", {"/_insight/pool?size=10&hold_ms=20&timeout_ms=200": "cliff"}, "ramp",
             users=20, rate=0.5, seconds=45, culprits={"/_insight/pool"}, knee=12, capacity=11),
    Scenario("pool cliff, steps", {"/_insight/pool?size=10&hold_ms=20&timeout_ms=200": "cliff"}, "steps",
             users=20, step=2, step_s=4, culprits={"/_insight/pool"}, knee=12, capacity=11),
    Scenario("pool cliff, --find-capacity", {"/_insight/pool?size=10&hold_ms=20&timeout_ms=200": "cliff"},
             "capacity", users=24, step=2, step_s=4, culprits={"/_insight/pool"}, knee=12, capacity=11),
    Scenario("spike, slow ramp", {"/_insight/spike?flat=10&base_ms=2&per_ms=1": "flat-then-spike"}, "ramp",
             users=24, rate=0.5, seconds=50, culprits={"/_insight/spike"}, knee=13),
    Scenario("stall, constant load", {"/_insight/stall?period_s=6&stall_ms=1500&base_ms=2": "sawtooth"},
             "ramp", users=10, rate=10, seconds=36, culprits={"/_insight/stall"}),
    Scenario("pool cliff next to linear", {"/_insight/pool?size=10&hold_ms=20&timeout_ms=200": "cliff",
                                           "/_insight/linear?base_ms=2&per_ms=5": "linear"},
             "steps", users=24, step=2, step_s=4, culprits={"/_insight/pool", "/_insight/linear"}),
]


def locustfile(s: Scenario) -> str:
    """The scenario's locustfile: one class per pattern endpoint, one healthy user."""
    classes = []
    weights = max(1, len(s.endpoints))
    for i, (endpoint, _) in enumerate(sorted(s.endpoints.items())):
        classes.append(textwrap.dedent(f"""
            class Pattern{i}(HttpUser):
                weight = {100 // weights}
                wait_time = constant(0)

                @task
                def hit(self):
                    self.client.get({endpoint!r}, name={_path(endpoint)!r})
            """))
    healthy = textwrap.dedent(f"""
        class Healthy(HttpUser):
            fixed_count = 1
            wait_time = constant(0.05)

            @task
            def hit(self):
                self.client.get({HEALTHY!r})
        """)
    shape = ""
    if s.program == "steps":
        shape = textwrap.dedent(f"""
            class Steps(LoadTestShape):
                def tick(self):
                    t = self.get_run_time()
                    users = 1 + {s.step} * (1 + int(t // {s.step_s}))
                    if users > {s.users}:
                        return None
                    return (users, 100)
            """)
    return "from locust import HttpUser, LoadTestShape, constant, task\n" + "".join(classes) + healthy + shape


def run(s: Scenario, python: str, host: str, workdir: str) -> dict:
    """Runs the scenario; returns the diagnosis JSON from its HTML report."""
    path = os.path.join(workdir, "locustfile.py")
    with open(path, "w") as f:
        f.write(locustfile(s))
    report = os.path.join(workdir, "report.html")
    args = [python, "-m", "locusta", "-f", path, "--headless", "-H", host, "--html", report,
            "--only-summary", "-L", "WARNING", "--slo", s.slo]
    if s.program == "ramp":
        args += ["-u", str(s.users + 1), "-r", str(s.rate), "-t", f"{s.seconds}s"]
    elif s.program == "steps":
        args += ["-t", f"{(s.users // s.step + 2) * s.step_s}s"]
    else:
        args += ["--find-capacity", "-u", str(s.users), "--capacity-step", str(s.step),
                 "--capacity-step-time", f"{s.step_s}s", "-t", f"{(s.users // s.step + 2) * s.step_s}s"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=workdir)
    if not os.path.exists(report):
        raise SystemExit(f"{s.name}: no report (exit {proc.returncode})\n{proc.stderr[-3000:]}")
    html = open(report).read()
    m = re.search(r'id="locusta-diagnosis">(.*?)</script>', html, re.S)
    if not m:
        raise SystemExit(f"{s.name}: no diagnosis in the report")
    return json.loads(m.group(1))


def within(value, truth, tolerance=0.15):
    return value is not None and truth is not None and abs(value - truth) <= tolerance * truth


def judge(s: Scenario, d: dict) -> dict:
    """What the diagnosis got right, for the confusion table."""
    endpoints = {e["name"]: e for e in d["endpoints"]}
    culprits = [e["name"] for e in d["endpoints"][: d["culprit_count"]]]
    patterns = {_path(ep): (want, endpoints.get(_path(ep), {}).get("pattern", "absent"))
                for ep, want in s.endpoints.items()}
    healthy_pattern = endpoints.get(HEALTHY, {}).get("pattern", "absent")
    knee = None
    for name in culprits:
        if name in s.culprits and endpoints[name].get("knee"):
            knee = endpoints[name]["knee"]["users"]
            break
    sustained = (d.get("capacity") or {}).get("sustained") or {}
    return {
        "culprits": culprits,
        "recall": s.culprits <= set(culprits) if s.culprits else None,
        "false culprits": sorted(set(culprits) - s.culprits),
        "patterns": patterns,
        "healthy": healthy_pattern,
        "knee": knee,
        "knee ok": within(knee, s.knee) if s.knee else None,
        "capacity": sustained.get("users"),
        "capacity ok": within(sustained.get("users"), s.capacity) if s.capacity else None,
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--locusta-python", default=sys.executable)
    ap.add_argument("--repeat", type=int, default=1, help="runs per scenario (verdict stability)")
    ap.add_argument("--only", help="comma-separated scenario names (substrings)")
    ap.add_argument("--json", help="write every run's judgement here")
    args = ap.parse_args()
    chosen = [s for s in SCENARIOS if not args.only or any(o in s.name for o in args.only.split(","))]
    results = []
    target, host = start_target(args.locusta_python)
    try:
        for s in chosen:
            verdicts = []
            for i in range(args.repeat):
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.time()
                    j = judge(s, run(s, args.locusta_python, host, tmp))
                j["seconds"] = round(time.time() - t0, 1)
                verdicts.append(j)
                pats = ", ".join(f"{p}: {got} (want {want})" for p, (want, got) in j["patterns"].items())
                print(f"{s.name} #{i + 1}: culprits {j['culprits'] or 'none'}; {pats or 'no pattern endpoint'}; "
                      f"healthy {j['healthy']}; knee {j['knee']} (want {s.knee}); capacity {j['capacity']} "
                      f"(want {s.capacity}); {j['seconds']} s", flush=True)
            results.append((s, verdicts))
    finally:
        target.terminate()
        target.wait(timeout=10)

    def rate(values):
        values = [v for v in values if v is not None]
        return f"{sum(values)}/{len(values)}" + (f" ({100 * sum(values) / len(values):.0f}%)" if values else "")

    runs = [(s, j) for s, vs in results for j in vs]
    print("\nconfusion table")
    print(f"  culprit recall (every expected culprit named): {rate([j['recall'] for _, j in runs])}")
    false = [(s.name, j["false culprits"]) for s, j in runs if j["false culprits"]]
    print(f"  runs naming a false culprit: {len(false)}/{len(runs)} {false if false else ''}")
    healthy_ok = [j["healthy"] in ("none", "undetermined") for _, j in runs]
    print(f"  healthy endpoint not blamed (none/undetermined): {rate(healthy_ok)}")
    pattern_ok = [got == want for _, j in runs for want, got in j["patterns"].values()]
    print(f"  pattern accuracy: {rate(pattern_ok)}")
    undetermined = [got == "undetermined" for _, j in runs for _, got in j["patterns"].values()]
    print(f"  undetermined among pattern endpoints: {rate(undetermined)}")
    print(f"  knee within 15 %: {rate([j['knee ok'] for _, j in runs])}")
    print(f"  capacity within 15 %: {rate([j['capacity ok'] for _, j in runs])}")
    if args.repeat > 1:
        stable = [len({json.dumps([j['culprits'], j['patterns']], sort_keys=True) for j in vs}) == 1
                  for _, vs in results]
        print(f"  scenarios with the same verdict in all {args.repeat} runs: {rate(stable)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"scenario": s.name, "runs": vs} for s, vs in results], f, indent=1, default=list)
    return 0


if __name__ == "__main__":
    sys.exit(main())
