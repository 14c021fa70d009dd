#!/usr/bin/env python3
"""Master CPU and memory under many workers (issue 19), locusta's master and optionally Locust's
side by side on the same simulated workers.

Each simulated worker is a pyzmq DEALER, as Locust's own workers: it says `client_ready`, then
sends a heartbeat every second and a realistic stats report every 3 s (--entries entries with
Locust's response_times buckets and per-second counts, plus the total), and drains whatever the
master sends. The workers are spread over several processes (--procs) so the simulator is not
the bottleneck; with --locust every simulated process also runs the same workers against a real
Locust master (/opt/locust-venv/bin/locust), at the same time, so both masters see the same load
and the same machine noise.

Per master and worker count it reports:
- CPU: user + system time from /proc over the steady state (--duration s after --warmup s), in
  percent of one core;
- RSS at the end of the steady state;
- missing latency: --missing workers stop sending at the end of the steady state; the time
  until the master logs each as "failed to send heartbeat, setting state to missing" (median,
  max; Locust's rule makes ~3-4 s the expected value);
- merged: requests in the master's final summary versus requests the simulator reported (a
  correctness check: every report merged exactly once);
- with --web, the masters keep their web UI (--autostart instead of --headless) and
  `/stats/requests` (what the UI polls, the Workers tab's rows included) is fetched every 2 s
  during the measurement: its median and slowest response time; and "merged after": the time
  from the last stats report any simulated worker sent to the moment `/stats/requests` (polled
  every 25 ms) shows every reported request in the Aggregated row.

Needs pyzmq and msgpack (they come with `pip install locust`). Loopback only; every run ends
within warmup + duration + about 20 s per worker count.

Usage: bench/dist_master.py [--workers 500,2000,10000] [--locust] [--web] [--entries 10]
                            [--duration 30] [--warmup 15] [--procs N] [--missing 10]
                            [--binary PATH] [--locust-bin PATH]
"""

import argparse
import json
import math
import multiprocessing as mp
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import msgpack
import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCUSTFILE = os.path.join(ROOT, "bench", "locustfiles", "one_get.py")
MISSING_RE = re.compile(r"Worker (\S+) failed to send heartbeat, setting state to missing")
READY_RE = re.compile(r"reported as ready")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def entry(name, t, rng):
    rts = {rng.choice([1, 2, 3, 5, 8, 13, 21, 40, 70, 110, 250]): rng.randint(1, 50) for _ in range(12)}
    n = sum(rts.values())
    return {
        "name": name, "method": "GET", "last_request_timestamp": t, "start_time": t - 3,
        "num_requests": n, "num_none_requests": 0, "num_failures": 0,
        "total_response_time": float(sum(k * v for k, v in rts.items())),
        "max_response_time": float(max(rts)), "min_response_time": float(min(rts)),
        "total_content_length": n * 100, "response_times": rts,
        "num_reqs_per_sec": {int(t) - 2: n // 3, int(t) - 1: n // 3, int(t): n - 2 * (n // 3)},
        "num_fail_per_sec": {},
    }


def report(entries, t, rng):
    """A report's msgpack data (without the [type, data, node] frame) and its request count."""
    stats = [entry(f"/endpoint/{k}", t, rng) for k in range(entries)]
    total = dict(entry("Aggregated", t, rng), method="")
    total["num_requests"] = sum(e["num_requests"] for e in stats)
    data = {"stats": stats, "stats_total": total, "errors": {},
            "user_classes_count": {"OneGet": 1}, "user_count": 1}
    return msgpack.dumps(data), total["num_requests"]


def frame(kind, data_bytes, node_bytes):
    # [kind, data, node] as msgpack: a fixarray of 3, then the three values.
    return b"\x93" + kind + data_bytes + node_bytes


def simulate(proc_index, nodes, ports, entries, t_start, t_silence, t_end, silent, results, marks):
    """One simulator process: `nodes` workers against each master port, until t_end."""
    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, 19000)
    rng = random.Random(proc_index)
    socks = []  # (socket, target index, node id bytes packed, silent)
    running = []  # whether each worker got its spawn message (its heartbeats then say so)
    for target, port in enumerate(ports):
        for node in nodes:
            s = ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.IDENTITY, node.encode())
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDHWM, 100)
            s.connect(f"tcp://127.0.0.1:{port}")
            socks.append((s, target, msgpack.dumps(node), node in silent))
            running.append(False)
    ready_kind = msgpack.dumps("client_ready")
    for s, _, node, _ in socks:
        s.send(frame(ready_kind, msgpack.dumps(-1), node))
    hb_kind, stats_kind = msgpack.dumps("heartbeat"), msgpack.dumps("stats")
    hb = {state: frame(hb_kind, msgpack.dumps({"state": state, "current_cpu_usage": 10.0,
                                               "current_memory_usage": 50_000_000}), b"")
          for state in ("ready", "running")}
    spawn_prefix = b"\x93" + msgpack.dumps("spawn")
    sent_requests = [0] * len(ports)
    last_report = 0.0
    marked = False
    dropped = 0
    tick = 0
    next_tick = time.time()
    while True:
        now = time.time()
        if now >= t_end:
            break
        # One report body per process and second (the node id differs per worker).
        data, n = report(entries, now, rng)
        silenced = now >= t_silence
        for i, (s, target, node, quiet) in enumerate(socks):
            if quiet and silenced:
                continue
            try:
                s.send(hb["running" if running[i] else "ready"] + node, zmq.NOBLOCK)
                if (tick + i) % 3 == 0 and t_start <= now < t_silence:
                    s.send(frame(stats_kind, data, node), zmq.NOBLOCK)
                    sent_requests[target] += n
                    last_report = time.time()
            except zmq.Again:
                dropped += 1
        if not marked and (silenced or next_tick + 1.0 >= t_silence):
            # This tick sent the last reports: what the masters should show, and when.
            marks.put((list(sent_requests), last_report))
            marked = True
        for i, (s, _, _, _) in enumerate(socks):
            while True:
                try:
                    msg = s.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if msg.startswith(spawn_prefix):
                    running[i] = True
        tick += 1
        next_tick += 1.0
        time.sleep(max(0.0, next_tick - time.time()))
    for s, _, _, _ in socks:
        s.close(0)
    ctx.term()
    results.put((proc_index, sent_requests, dropped, cpu_seconds(os.getpid())))


class Master:
    """A master process whose output is read line by line, each line timestamped."""

    def __init__(self, name, cmd, log_dir, web_port=None):
        self.name = name
        self.web_port = web_port
        self.web_times = []
        self.log = open(os.path.join(log_dir, f"{name}.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        self.ready = 0
        self.missing = {}  # node id -> time the master logged it missing
        self.tail = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            t = time.time()
            self.log.write(f"{t:.3f} {line}")
            with self.lock:
                if READY_RE.search(line):
                    self.ready += 1
                m = MISSING_RE.search(line)
                if m:
                    self.missing.setdefault(m.group(1).strip("'"), t)
                self.tail.append(line)
                if len(self.tail) > 400:
                    del self.tail[:200]

    def summary_requests(self):
        with self.lock:
            text = "".join(self.tail)
        if os.environ.get("DIST_MASTER_DEBUG"):
            print(text[-3000:])
        m = re.findall(r"Aggregated\s+(\d+)\s+\d+\(", text)
        return int(m[-1]) if m else None


def run_size(a, n):
    ports = [free_port()]
    run_time = f"{int(a.warmup + a.duration + 60)}s"
    common = ["--master", "--autostart" if a.web else "--headless", "--master-bind-host", "127.0.0.1",
              "--expect-workers", str(n), "-u", str(n), "-r", str(n), "-t", run_time, "-H", "http://127.0.0.1:9",
              "--only-summary"]
    log_dir = tempfile.mkdtemp(prefix=f"dist-master-{n}-")

    def web(port):
        return ["--web-host", "127.0.0.1", "--web-port", str(port)] if a.web else []

    wp = free_port() if a.web else None
    masters = [Master("locusta", [a.binary, "demo", "--master-bind-port", str(ports[0])] + common + web(wp),
                      log_dir, wp)]
    if a.locust:
        ports.append(free_port())
        wp = free_port() if a.web else None
        masters.append(Master("Locust", [a.locust_bin, "-f", LOCUSTFILE, "--master-bind-port", str(ports[1])]
                              + common + web(wp), log_dir, wp))
    time.sleep(1.5)
    nodes = [f"sim{i % 8}_{i:032x}" for i in range(n)]
    silent = set(random.Random(n).sample(nodes, min(a.missing, n)))
    procs = a.procs or max(2, math.ceil(n * len(ports) / 2500))
    t0 = time.time()
    t_start = t0 + a.warmup
    t_measure_end = t_start + a.duration
    t_silence = t_measure_end
    t_end = t_silence + 12
    results, marks = mp.Queue(), mp.Queue()
    sims = [mp.Process(target=simulate, args=(p, nodes[p::procs], ports, a.entries, t_start, t_silence, t_end, silent, results, marks))
            for p in range(procs)]
    for p in sims:
        p.start()
    merged_after = {}
    merge_watch = None
    if a.web:
        merge_watch = threading.Thread(target=watch_merge, args=(masters, sims, marks, merged_after), daemon=True)
        merge_watch.start()
    time.sleep(max(0.0, t_start - time.time()))
    cpu0 = {m.name: cpu_seconds(m.proc.pid) for m in masters}
    sim0 = sum(cpu_seconds(p.pid) for p in sims)
    while time.time() < t_measure_end:
        for m in masters:
            if m.web_port:
                t = time.perf_counter()
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{m.web_port}/stats/requests", timeout=10).read()
                    m.web_times.append(time.perf_counter() - t)
                except OSError:
                    pass
        time.sleep(max(0.0, min(2.0, t_measure_end - time.time())))
    cpu1 = {m.name: cpu_seconds(m.proc.pid) for m in masters}
    sim1 = sum(cpu_seconds(p.pid) for p in sims)
    rss = {m.name: rss_mb(m.proc.pid) for m in masters}
    span = time.time() - t_start
    if merge_watch:
        merge_watch.join(timeout=40)
    # The masters end while the other workers still send heartbeats (Locust's master stops
    # printing once its last worker went missing); the last reports went out at t_silence.
    time.sleep(max(0.0, t_end - 3 - time.time()))
    rows = []
    for m in masters:
        m.proc.terminate()
    for m in masters:
        try:
            m.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            m.proc.kill()
            m.proc.wait()
        m.reader.join(timeout=10)
        m.log.close()
    sent = [0] * len(ports)
    dropped = 0
    for _ in sims:
        _, s, d, _ = results.get(timeout=60)
        sent = [x + y for x, y in zip(sent, s)]
        dropped += d
    for p in sims:
        p.join(timeout=30)
    for i, m in enumerate(masters):
        lat = sorted(t - t_silence for node, t in m.missing.items() if node in silent)
        # Every simulated worker stops at t_end: only earlier reports can be wrong.
        wrong = sorted(node for node, t in m.missing.items() if node not in silent and t < t_end)
        rows.append({
            "master": m.name, "workers": n, "ready": m.ready,
            "cpu": 100.0 * (cpu1[m.name] - cpu0[m.name]) / span, "rss": rss[m.name],
            "missing_found": len(lat), "missing_median": statistics.median(lat) if lat else None,
            "missing_max": lat[-1] if lat else None, "wrongly_missing": len(wrong),
            "merged": m.summary_requests(), "sent": sent[i],
            "web": (statistics.median(m.web_times), max(m.web_times)) if m.web_times else None,
            "merged_after": merged_after.get(m.name),
            "web_all": [round(1000 * t) for t in m.web_times],
        })
    sim_cpu = 100.0 * (sim1 - sim0) / span
    print(f"         master output (timestamped): {log_dir}", flush=True)
    return rows, sim_cpu, dropped, procs


def watch_merge(masters, sims, marks, merged_after):
    """Waits for every simulator's last report, then polls each master until its Aggregated row
    holds every reported request: `merged_after[name]` is the time since the last report."""
    expected, last_report = [0] * len(masters), 0.0
    for _ in sims:
        sent_so_far, last = marks.get()
        expected = [x + y for x, y in zip(expected, sent_so_far)]
        last_report = max(last_report, last)
    deadline = time.time() + 10
    while time.time() < deadline and len(merged_after) < len(masters):
        for i, m in enumerate(masters):
            if m.name not in merged_after and aggregated_requests(m.web_port) == expected[i]:
                merged_after[m.name] = time.time() - last_report
        time.sleep(0.025)


def aggregated_requests(port):
    """The Aggregated row's request count in a master's `/stats/requests` (None if unreadable)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats/requests", timeout=5) as r:
            stats = json.load(r)["stats"]
    except (OSError, ValueError, KeyError):
        return None
    return next((e["num_requests"] for e in stats if e.get("name") == "Aggregated"), None)


def fmt(v, spec, unit=""):
    return "-" if v is None else f"{v:{spec}}{unit}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", default="500", help="comma-separated worker counts, one row each")
    ap.add_argument("--locust", action="store_true", help="also run Locust's master side by side")
    ap.add_argument("--web", action="store_true", help="keep the web UIs and time /stats/requests")
    ap.add_argument("--entries", type=int, default=10)
    ap.add_argument("--duration", type=float, default=30, help="seconds measured")
    ap.add_argument("--warmup", type=float, default=15, help="seconds for workers to join and settle")
    ap.add_argument("--procs", type=int, default=0, help="simulator processes (default: 1 per 2,500 sockets, at least 2)")
    ap.add_argument("--missing", type=int, default=10, help="workers that go silent after the measurement")
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "locusta"))
    ap.add_argument("--locust-bin", default="/opt/locust-venv/bin/locust")
    a = ap.parse_args()
    sizes = [int(x) for x in a.workers.split(",") if x.strip()]
    if not os.path.exists(a.binary):
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "locusta"], cwd=ROOT, check=True)
    print(f"{a.entries} entries per report, warmup {a.warmup:.0f} s, measured {a.duration:.0f} s; "
          f"CPU in % of one core, RSS at the end of the measurement", flush=True)
    table = []
    for n in sizes:
        rows, sim_cpu, dropped, procs = run_size(a, n)
        for r in rows:
            print(f"{r['master']:>8} {n:>6} workers: {r['ready']} ready, CPU {r['cpu']:5.1f}%, RSS {r['rss']:6.1f} MB, "
                  f"missing {r['missing_found']}/{min(a.missing, n)} after {fmt(r['missing_median'], '.1f', ' s')} "
                  f"(max {fmt(r['missing_max'], '.1f', ' s')}), wrongly missing {r['wrongly_missing']}, "
                  f"merged {fmt(r['merged'], 'd')} of {r['sent']} requests"
                  + (f", /stats/requests {1000 * r['web'][0]:.0f} ms (max {1000 * r['web'][1]:.0f} ms)"
                     if r["web"] else "")
                  + (f", merged {fmt(r['merged_after'] and 1000 * r['merged_after'], '.0f', ' ms')} after the last report"
                     if a.web else ""), flush=True)
        if os.environ.get("DIST_MASTER_DEBUG"):
            print([r.get("web_all") for r in rows])
        print(f"         simulator: {procs} processes, {sim_cpu:.1f}% CPU, {dropped} sends dropped", flush=True)
        table.append(rows)
    print()
    if a.locust:
        print("| workers | locusta CPU | Locust CPU | ratio | locusta RSS | Locust RSS | missing after (locusta / Locust) |")
        print("|---|---|---|---|---|---|---|")
        for rows in table:
            ours, theirs = rows
            ratio = ours["cpu"] / theirs["cpu"] if theirs["cpu"] > 0 else float("nan")
            print(f"| {ours['workers']:,} | {ours['cpu']:.1f}% | {theirs['cpu']:.1f}% | {ratio:.2f}x | "
                  f"{ours['rss']:.0f} MB | {theirs['rss']:.0f} MB | "
                  f"{fmt(ours['missing_median'], '.1f', ' s')} / {fmt(theirs['missing_median'], '.1f', ' s')} |")
    else:
        print("| workers | locusta CPU | locusta RSS | missing after |")
        print("|---|---|---|---|")
        for (ours,) in table:
            print(f"| {ours['workers']:,} | {ours['cpu']:.1f}% | {ours['rss']:.0f} MB | {fmt(ours['missing_median'], '.1f', ' s')} |")


if __name__ == "__main__":
    sys.exit(main())
