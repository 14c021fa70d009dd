#!/usr/bin/env python3
"""Regenerates docs/reliability.md: the hostile-target suite at scale on both HTTP drivers, the
soak benchmark (compressed-time statistics and real traffic), master/worker faults
(bench/dist_faults.py), and a fuzzing session.

Every figure is measured by this script on this machine; nothing is typed in by hand. Loopback
only, every phase bounded in time.

Usage: bench/reliability.py [--scale 25] [--hours 24] [--traffic-seconds 600] [--fuzz-seconds 120]
                            [--out docs/reliability.md]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dist_faults  # noqa: E402
from common import rss_kb  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def sh(cmd, env=None, **kw):
    print("+", " ".join(map(str, cmd)), file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, **(env or {})), **kw)


def fault_suite(scale):
    """Runs tests/faults.rs once per driver with LOCUSTA_FAULTS_SCALE; returns the reports."""
    reports = []
    for driver in ["hyper", "lean"]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "report.json"
            proc = sh(
                ["cargo", "test", "--release", "--locked", "-p", "locusta", "--test", "faults", "--",
                 "--nocapture"],
                env={"LOCUSTA_FAULTS_REPORT": str(path), "LOCUSTA_FAULTS_SCALE": str(scale),
                     "LOCUSTA_HTTP_DRIVER": driver},
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            report = json.loads(path.read_text()) if path.exists() else {"faults": []}
            report["passed"] = proc.returncode == 0
            report["driver"] = driver
            reports.append(report)
    return reports


def soak_stats(binary, hours):
    proc = sh([str(binary), "stats", str(hours), "2000", "5000", "50"], stdout=subprocess.PIPE,
              text=True, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


SAMPLE_EVERY = 2.0


def slope_mib_per_min(series, t0, t1):
    """Least-squares slope of RSS over [t0, t1] seconds, in MiB per minute."""
    pts = [(t, m) for t, m in series if t0 <= t <= t1]
    if len(pts) < 3:
        return None
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    mm = sum(m for _, m in pts) / n
    var = sum((t - mt) ** 2 for t, _ in pts)
    if var == 0:
        return None
    return sum((t - mt) * (m - mm) for t, m in pts) / var * 60


def histogram_bytes(max_us):
    """Bytes of one row's response-time histogram (hdrhistogram, 3 significant digits, 1 µs
    resolution, resized to the slowest value recorded): 2048 sub-buckets, one more bucket of 1024
    u64 counts per doubling of the maximum."""
    smallest_untrackable, buckets = 2048, 1
    while smallest_untrackable <= max_us:
        smallest_untrackable <<= 1
        buckets += 1
    return (buckets + 1) * 1024 * 8


def soak_traffic(locusta, soak, seconds, users):
    """Real traffic: the demo target in its own process, the SoakUser for `seconds`, RSS sampled
    every SAMPLE_EVERY seconds."""
    port = 18700 + os.getpid() % 1000
    target = subprocess.Popen([str(locusta), "demo-target", "--port", str(port)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [str(soak), "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
                   "-H", f"http://127.0.0.1:{port}", "--csv", f"{tmp}/soak", "--only-summary",
                   "-L", "WARNING"]
            print("+", " ".join(cmd), file=sys.stderr, flush=True)
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
            samples = []
            stop = threading.Event()

            began = time.monotonic()

            def sample():
                while not stop.is_set():
                    samples.append((round(time.monotonic() - began, 1), rss_kb(proc.pid)))
                    stop.wait(SAMPLE_EVERY)

            t = threading.Thread(target=sample)
            t.start()
            _, stderr = proc.communicate(timeout=seconds + 120)
            stop.set()
            t.join()
            samples = [(t, kib) for t, kib in samples if kib > 0]
            import csv
            with open(f"{tmp}/soak_stats.csv") as f:
                rows = list(csv.reader(f))
            agg = next(r for r in rows if r[1] == "Aggregated")
            hist_mib = round(sum(histogram_bytes(float(r[7]) * 1000) for r in rows[1:]) / 2**20, 1)
            with open(f"{tmp}/soak_failures.csv") as f:
                error_rows = len(list(csv.reader(f))) - 1
            names = len(rows) - 2
            crashed = proc.returncode not in (0, 1)
            return {
                "seconds": seconds,
                "users": users,
                "requests": int(agg[2]),
                "failures": int(agg[3]),
                "names": names,
                "error_rows": error_rows,
                "exit_code": proc.returncode,
                "crashed": crashed,
                "histograms_mib": hist_mib,
                "rss_mib": [round(kib / 1024, 1) for _, kib in samples],
                "rss_series": [(t, round(kib / 1024, 1)) for t, kib in samples],
                "stderr_tail": stderr.strip().splitlines()[-3:] if crashed else [],
            }
    finally:
        target.terminate()
        target.wait(timeout=10)


def fuzz(seconds):
    proc = sh(["cargo", "run", "--release", "--locked", "-q", "-p", "locusta-fuzz", "--", "--seconds",
               str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [l for l in proc.stdout.splitlines() if re.match(r"^\w+: ", l)]
    return proc.returncode, lines


def quartiles(values):
    if not values:
        return []
    n = len(values)
    return [values[min(n - 1, int(n * q))] for q in (0.1, 0.25, 0.5, 0.75, 1.0)]


def render_dist(w, dist):
    """The master/worker fault section; returns the number of crashes seen."""
    w("## Master and workers under faults")
    w("")
    w("`bench/dist_faults.py`: real `locusta demo --master`/`--worker` processes on loopback "
      "against the demo target; times are from the fault to the log line that shows it was "
      "noticed (read from stderr as it arrives).")
    w("")
    k = dist["worker_kill"]
    w("| fault | what happened | time to detect | statistics |")
    w("|---|---|---|---|")
    w(f"| worker killed with SIGKILL mid-test (2 workers, 10 users) | master marked it missing "
      f"(`failed to send heartbeat, setting state to missing`), ran on with the other worker "
      f"(users {k['users_before']} → {k['users_after']}; without `--enable-rebalancing` its users "
      f"are not moved, as in Locust) and exited {k['master_exit']} | {k['detect_ms']} ms "
      f"(3 missed 1 s heartbeats) | requests counted before the kill: {k['requests_before_kill']}, "
      f"at the end: {k['requests_final']} (kept, the survivor reported {k['survivor_reported']}) |")
    m = dist["master_kill"]
    w(f"| master killed with SIGKILL | the worker logged `Didn't get heartbeat from master in over "
      f"{m['timeout_s']}s` and exited {m['worker_exit']} | {m['detect_ms']} ms (heartbeat timeout "
      f"{m['timeout_s']} s, Locust's) | the master's CSV files are those of its last second (a SIGKILLed run leaves CSV files that parse: `tests/long_runs.rs`) |")
    b = dist["bad_frames"]
    w(f"| {len(b['attacks'])} malformed or oversized frames (below) | each dropped with a warning; "
      f"master RSS {b['master_rss_before_mib']} → {b['master_rss_after_mib']} MiB; exited "
      f"{b['master_exit']} | see below | the test after them counted {b['requests_final']} requests, "
      f"the worker reported {b['worker_reported']} |")
    j = dist["worker_join"]
    w(f"| worker joining mid-test (1 worker, 8 users) | ready on the master after {j['ready_ms']} ms "
      f"from its start, then got a share of the users | - | first worker reported "
      f"{j['first_reported']}, late worker {j['late_reported']}, master counted "
      f"{j['requests_final']} |")
    w("")
    w("| attack on the master's port | logged | time to log | master RSS after |")
    w("|---|---|---|---|")
    for a in b["attacks"]:
        extra = f" ({a['streamed_mib']} MiB sent before the master cut it)" if "streamed_mib" in a else ""
        w(f"| {a['attack']}{extra} | `{a.get('logged') or a.get('error', 'nothing')}` | "
          f"{a.get('detect_ms')} ms | {a.get('master_rss_mib')} MiB |")
    w("")
    return sum(int(v["crashed"]) for v in dist.values())


def render(args, reports, stats, traffic, dist, fuzz_result, started):
    out = []
    w = out.append
    w("# Reliability")
    w("")
    w("Generated by `python3 bench/reliability.py "
      f"--scale {args.scale} --hours {args.hours} --traffic-seconds {args.traffic_seconds} "
      f"--fuzz-seconds {args.fuzz_seconds}` on {time.strftime('%Y-%m-%d', time.gmtime(started))} "
      f"({os.cpu_count()} CPUs, shared machine). Do not edit by hand: re-run the script.")
    w("")
    w("What is behind these figures (faults, limits, what locusta does about each) is described in")
    w("[the second half of this page](#how-locusta-handles-a-hostile-target).")
    w("")
    w("## Hostile target: every fault, counted exactly")
    w("")
    w("`tests/faults.rs` (run by `scripts/test.sh` at scale 1 on both drivers) here at scale "
      f"{args.scale}: one user per fault sends its requests, then the run ends by `StopTest`.")
    w("")
    crashes = 0
    for rep in reports:
        sent = sum(f["requests_sent"] for f in rep["faults"])
        counted = sum(f["requests_counted"] for f in rep["faults"])
        exp = sum(f["failures_expected"] for f in rep["faults"])
        got = sum(f["failures_counted"] for f in rep["faults"])
        crashed = rep.get("exit_code") not in (0, 1)
        crashes += int(crashed)
        w(f"### {rep['driver']} driver: {'PASS' if rep['passed'] else 'FAIL'}")
        w("")
        w(f"{len(rep['faults'])} faults, {sent} requests sent, {counted} counted, failures "
          f"{got} counted / {exp} expected, peak RSS {rep.get('peak_rss_mib', '?')} MiB "
          f"(test process: locusta and the demo target together), {rep.get('seconds', 0):.1f} s, "
          f"exit code {rep.get('exit_code')} (1 = failures recorded), "
          f"crashes: {1 if crashed else 0}.")
        w("")
        w("| fault | timeout | sent | counted | failures expected | failures counted | recorded as |")
        w("|---|---|---|---|---|---|---|")
        for f in rep["faults"]:
            errors = "<br>".join(e.replace("|", "\\|") for e in f["errors"][:4]) or "(success)"
            if len(f["errors"]) > 4:
                errors += f"<br>... {len(f['errors']) - 4} more rows"
            timeout = f"{f['timeout_s']:g} s" if f["timeout_s"] else "-"
            w(f"| `{f['url']}` | {timeout} | {f['requests_sent']} | {f['requests_counted']} | "
              f"{f['failures_expected']} | {f['failures_counted']} | {errors} |")
        w("")
    w("## Soak: compressed time (statistics and CSV history)")
    w("")
    w("`examples/soak.rs stats`: the statistics of a long run without waiting for it. 50 samples per "
      "simulated second over 2000 distinct names (the default cap is 1000: the rest go to "
      "`(other names)`) and 5000 distinct error texts (cap 1000 distinct texts, then one `(other errors)` "
      "row per name), 20% failures, merged every "
      "simulated second, a CSV history snapshot every simulated minute.")
    w("")
    w("| simulated hour | requests | failures | RSS MiB | wall time s |")
    w("|---|---|---|---|---|")
    hours = [s for s in stats if "hour" in s]
    for s in hours:
        if s["hour"] in (1, 2, 3, 6, 12) or s["hour"] % 6 == 0 or s is hours[-1]:
            w(f"| {s['hour']} | {s['requests']:,} | {s['failures']:,} | "
              f"{s['rss_kib'] / 1024:.1f} | {s['elapsed_s']:.0f} |")
    done = next((s for s in stats if s.get("done")), {})
    w("")
    if len(hours) >= 3:
        first, last = hours[1]["rss_kib"], hours[-1]["rss_kib"]
        w(f"RSS from hour 2 to hour {hours[-1]['hour']}: {first / 1024:.1f} → {last / 1024:.1f} MiB "
          f"({(last - first) / 1024:+.1f} MiB). Entries kept: {done.get('entries')}, error rows: "
          f"{done.get('error_rows')}; every one of the {done.get('recorded', 0):,} samples counted "
          f"({done.get('recorded_failures', 0):,} failures).")
    w("")
    w("## Soak: real traffic")
    w("")
    if traffic:
        series = traffic["rss_series"]
        w(f"`examples/soak.rs` ({traffic['users']} users, no wait) against `locusta demo-target` in "
          f"another process for {traffic['seconds']} s: 80% successes at 3000 distinct "
          "`/_test/status/200?page=N` URLs (each its own name), 9% seeded random 5xx, 1% connection "
          f"resets, 10% failures with 5000 distinct messages. RSS sampled every {SAMPLE_EVERY:g} s.")
        w("")
        w(f"- requests: {traffic['requests']:,}, failures: {traffic['failures']:,}")
        w(f"- stats rows: {traffic['names']} (names beyond the cap fold into `(other names)`), "
          f"failure rows: {traffic['error_rows']} (texts beyond the cap fold into `(other errors)`)")
        w(f"- exit code {traffic['exit_code']} (1 = failures recorded), crashes: "
          f"{1 if traffic['crashed'] else 0}")
        w("")
        w("| minute | RSS MiB (min-max of the samples in that minute) |")
        w("|---|---|")
        minute = 0
        while minute * 60 < traffic["seconds"]:
            vals = [m for t, m in series if minute * 60 <= t < (minute + 1) * 60]
            if vals:
                w(f"| {minute + 1} | {min(vals)} - {max(vals)} |")
            minute += 1
        w("")
        warm = min(120, traffic["seconds"] // 3)
        slope = slope_mib_per_min(series, warm, traffic["seconds"])
        after = [m for t, m in series if t >= warm]
        if after and slope is not None:
            w(f"After a {warm} s warm-up: RSS {min(after)} - {max(after)} MiB, least-squares trend "
              f"{slope:+.2f} MiB per minute; peak {max(m for _, m in series)} MiB.")
            w("")
            w(f"The response-time histograms of the {traffic['names']} rows, sized from each row's "
              f"final *Max Response Time* (see *Memory limits* below), take {traffic['histograms_mib']} "
              "MiB at the end of the run.")
        crashes += int(traffic["crashed"])
    w("")
    crashes += render_dist(w, dist)
    w("## Fuzzing")
    w("")
    code, lines = fuzz_result
    w(f"`cargo run --release -p locusta-fuzz -- --seconds {args.fuzz_seconds}` (exit code {code}):")
    w("")
    for line in lines:
        w(f"- {line}")
    crashes += int(code != 0)
    w("")
    w(f"**Crashes in all of the above: {crashes}** (goal: zero).")
    w("")
    w((ROOT / "bench" / "reliability_notes.md").read_text().rstrip())
    w("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=25)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--traffic-seconds", type=int, default=600)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--fuzz-seconds", type=int, default=120)
    ap.add_argument("--master-timeout", type=int, default=None,
                    help="workers' master heartbeat timeout for the master-kill case (default 60 s)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "reliability.md"))
    args = ap.parse_args()
    started = time.time()
    sh(["cargo", "build", "--release", "--locked", "-p", "locusta", "--example", "soak",
        "--bin", "locusta"], check=True)
    soak = ROOT / "target" / "release" / "examples" / "soak"
    locusta = ROOT / "target" / "release" / "locusta"
    reports = fault_suite(args.scale)
    stats = soak_stats(soak, args.hours)
    traffic = soak_traffic(locusta, soak, args.traffic_seconds, args.users)
    dist = dist_faults.measure(locusta, args.master_timeout)
    fuzz_result = fuzz(args.fuzz_seconds)
    Path(args.out).write_text(render(args, reports, stats, traffic, dist, fuzz_result, started))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
