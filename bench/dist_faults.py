#!/usr/bin/env python3
"""Master/worker faults, measured with real processes on loopback (the figures of the
"Master and workers under faults" section of docs/reliability.md; bench/reliability.py calls
`measure()`; run alone it prints the results as JSON):

- a worker killed with SIGKILL mid-test: how long until the master marks it missing, and whether
  the statistics it reported before dying are kept;
- the master killed with SIGKILL: how long until the worker notices and exits;
- malformed and oversized frames sent to the master's port (raw garbage, a ZMTP frame header
  claiming 1 TiB, 40 MiB actually streamed, malformed msgpack, a stats report of the wrong shape,
  an unknown message type): what the master logs, how long it takes, its RSS before and after,
  and whether the test that follows still counts every request;
- a worker joining mid-test: how long until the master has it ready (and gives it users).

Times come from the arrival of log lines read from the processes' stderr, so they include the
log pipe (milliseconds). Bounded: every process is killed after a deadline.

Usage: bench/dist_faults.py [--locusta target/release/locusta] [--master-timeout SECONDS]
"""

import argparse
import csv
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


class Proc:
    """A locusta process whose stderr lines are collected with their arrival time."""

    def __init__(self, args, cwd, env=None):
        self.started = time.monotonic()
        self.p = subprocess.Popen(
            args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, **(env or {})),
        )
        self.lines = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stderr:
            with self.lock:
                self.lines.append((time.monotonic(), line.rstrip("\n")))

    def wait_for(self, needle, timeout, after=0.0):
        """Arrival time of the first line containing `needle` that arrived after `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for t, line in self.lines:
                    if t >= after and needle in line:
                        return t
            if self.p.poll() is not None:
                self.reader.join(timeout=2)
                with self.lock:
                    hits = [t for t, line in self.lines if t >= after and needle in line]
                return hits[0] if hits else None
            time.sleep(0.02)
        return None

    def count(self, needle):
        with self.lock:
            return sum(needle in line for _, line in self.lines)

    def text(self):
        with self.lock:
            return "\n".join(line for _, line in self.lines)

    def finish(self, timeout):
        try:
            code = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            code = None
        self.reader.join(timeout=5)
        return code

    def kill9(self):
        self.p.kill()
        self.p.wait()
        return time.monotonic()


def master(locusta, cwd, port, host, workers, users, run_time):
    return Proc([str(locusta), "demo", "--master", "--headless", "--master-bind-host", "127.0.0.1",
                 "--master-bind-port", str(port), "--expect-workers", str(workers),
                 "--expect-workers-max-wait", "60", "-u", str(users), "-r", str(users), "-t", run_time,
                 "-H", host, "--csv", "m", "--only-summary"], cwd)


def worker(locusta, cwd, port, host, env=None):
    return Proc([str(locusta), "demo", "--worker", "--master-port", str(port), "-H", host], cwd, env)


def aggregated(cwd):
    """(requests, failures) of the master's Aggregated row in m_stats.csv, or None."""
    try:
        with open(Path(cwd) / "m_stats.csv", newline="") as f:
            for row in csv.reader(f):
                if len(row) > 3 and row[1] == "Aggregated":
                    return int(row[2]), int(row[3])
    except (OSError, ValueError):
        pass
    return None


def user_counts(cwd):
    """User count column of m_stats_history.csv (one row per second)."""
    try:
        with open(Path(cwd) / "m_stats_history.csv", newline="") as f:
            return [int(r["User Count"]) for r in csv.DictReader(f) if r.get("Name") == "Aggregated"]
    except (OSError, ValueError, KeyError):
        return []


def reported(proc):
    for _, line in proc.lines:
        if " reported " in line and "requests in total" in line:
            return int(line.split(" reported ")[1].split()[0])
    return None


def ms(a, b):
    return None if a is None or b is None else round((a - b) * 1000)


def worker_kill(locusta, host):
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        m = master(locusta, tmp, port, host, 2, 10, "20s")
        w1 = worker(locusta, tmp, port, host)
        w2 = worker(locusta, tmp, port, host)
        spawned = m.wait_for("All users spawned", 90)
        time.sleep(5)
        before = aggregated(tmp)
        killed = w2.kill9()
        missing = m.wait_for("failed to send heartbeat, setting state to missing", 30, after=killed)
        code = m.finish(90)
        w1_code = w1.finish(30)
        final = aggregated(tmp)
        users = user_counts(tmp)
        return {
            "spawned": spawned is not None,
            "detect_ms": ms(missing, killed),
            "requests_before_kill": before and before[0],
            "requests_final": final and final[0],
            "survivor_reported": reported(w1),
            "users_before": max(users, default=None),
            "users_after": users[-2] if len(users) >= 2 else None,
            "master_exit": code,
            "survivor_exit": w1_code,
            "crashed": code not in (0, 1),
        }


def master_kill(locusta, host, timeout):
    env = {"LOCUSTA_MASTER_HEARTBEAT_TIMEOUT": str(timeout)} if timeout else {}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        m = master(locusta, tmp, port, host, 1, 4, "300s")
        w = worker(locusta, tmp, port, host, env)
        m.wait_for("All users spawned", 90)
        time.sleep(3)
        killed = m.kill9()
        noticed = w.wait_for("Didn't get heartbeat from master", (timeout or 60) + 60, after=killed)
        code = w.finish((timeout or 60) + 60)
        exited = time.monotonic()
        return {
            "timeout_s": timeout or 60,
            "detect_ms": ms(noticed, killed),
            "exit_ms": ms(exited, killed),
            "worker_exit": code,
            "crashed": code not in (0, 1),
        }


def zmtp_greeting():
    g = bytes([0xFF]) + bytes(8) + bytes([0x7F, 3, 0]) + b"NULL".ljust(20, b"\0") + bytes([0])
    return g.ljust(64, b"\0")


def zmtp_ready(identity):
    def prop(name, value):
        return bytes([len(name)]) + name + struct.pack(">I", len(value)) + value

    body = bytes([5]) + b"READY" + prop(b"Socket-Type", b"DEALER") + prop(b"Identity", identity)
    return bytes([0x04, len(body)]) + body


def zmtp_frame(payload):
    if len(payload) < 256:
        return bytes([0x00, len(payload)]) + payload
    return bytes([0x02]) + struct.pack(">Q", len(payload)) + payload


def mp_str(s):
    b = s.encode()
    return bytes([0xA0 | len(b)]) + b


def send_and_wait(m, label, payloads, needle, results, port, handshake=True, stream_mib=0):
    """Opens a connection, sends the payloads (after a ZMTP handshake when asked), and records
    how long until the master logs `needle`."""
    sent = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            if handshake:
                s.sendall(zmtp_greeting())
                s.sendall(zmtp_ready(b"fuzz_1"))
            for p in payloads:
                s.sendall(p)
            chunk = b"\0" * (1 << 20)
            streamed = 0
            try:
                for _ in range(stream_mib):
                    s.sendall(chunk)
                    streamed += 1
            except OSError:
                pass
            time.sleep(0.3)
    except OSError as e:
        results.append({"attack": label, "error": str(e)})
        return
    seen = m.wait_for(needle, 10, after=sent)
    results.append({"attack": label, "logged": needle if seen else None, "detect_ms": ms(seen, sent),
                    "master_rss_mib": rss_mib(m.p.pid), **({"streamed_mib": streamed} if stream_mib else {})})


def bad_frames(locusta, host):
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        m = master(locusta, tmp, port, host, 1, 4, "6s")
        if m.wait_for("Master listening on port", 30) is None:
            time.sleep(1)
        rss_before = rss_mib(m.p.pid)
        results = []
        huge = bytes([0x02]) + struct.pack(">Q", 1 << 40)
        send_and_wait(m, "ZMTP frame header claiming 1 TiB", [huge], "would exceed the", results, port)
        send_and_wait(m, "frame header claiming 40 MiB, then 40 MiB streamed",
                      [bytes([0x02]) + struct.pack(">Q", 40 << 20)], "would exceed the", results, port,
                      stream_mib=40)
        send_and_wait(m, "an HTTP request instead of ZMTP", [b"GET / HTTP/1.1\r\n\r\n" * 10],
                      "invalid ZMTP", results, port, handshake=False)
        for label, payload in [
            ("empty message", b""),
            ("msgpack: reserved byte 0xc1", b"\xc1"),
            ("msgpack: truncated array", b"\x93\x01\xc0\xa1x"),
            ("msgpack: map claiming 4 billion entries", b"\xdf\xff\xff\xff\xff"),
        ]:
            send_and_wait(m, label, [zmtp_frame(payload)], "dropping a malformed message", results, port)
        stats = b"\x93" + mp_str("stats") + b"\x81" + mp_str("stats") + b"\x05" + mp_str("fuzz_1")
        send_and_wait(m, "stats report of the wrong shape", [zmtp_frame(stats)],
                      "dropping a stats report from fuzz_1", results, port)
        unknown = b"\x93" + mp_str("no_such_type") + b"\xc0" + mp_str("fuzz_1")
        send_and_wait(m, "unknown message type", [zmtp_frame(unknown)], "Unknown message type", results,
                      port)
        rss_after = rss_mib(m.p.pid)
        w = worker(locusta, tmp, port, host)
        code = m.finish(90)
        w.finish(30)
        final = aggregated(tmp)
        return {
            "attacks": results,
            "master_rss_before_mib": rss_before,
            "master_rss_after_mib": rss_after,
            "master_exit": code,
            "requests_final": final and final[0],
            "worker_reported": reported(w),
            "crashed": code not in (0, 1),
        }


def worker_join(locusta, host):
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        m = master(locusta, tmp, port, host, 1, 8, "16s")
        w1 = worker(locusta, tmp, port, host)
        m.wait_for("All users spawned", 90)
        time.sleep(4)
        w2 = worker(locusta, tmp, port, host)
        started = w2.started
        ready = m.wait_for("(index 1) reported as ready", 60, after=started)
        code = m.finish(90)
        c1, c2 = w1.finish(30), w2.finish(30)
        final = aggregated(tmp)
        r1, r2 = reported(w1), reported(w2)
        return {
            "ready_ms": ms(ready, started),
            "first_reported": r1,
            "late_reported": r2,
            "requests_final": final and final[0],
            "master_exit": code,
            "worker_exits": [c1, c2],
            "crashed": code not in (0, 1),
        }


def measure(locusta, master_timeout=None):
    """Runs every scenario against a demo target of its own; returns the results."""
    port = free_port()
    target = subprocess.Popen([str(locusta), "demo-target", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host = f"http://127.0.0.1:{port}"
    try:
        time.sleep(1)
        out = {}
        for name, run in [("worker_kill", lambda: worker_kill(locusta, host)),
                          ("master_kill", lambda: master_kill(locusta, host, master_timeout)),
                          ("bad_frames", lambda: bad_frames(locusta, host)),
                          ("worker_join", lambda: worker_join(locusta, host))]:
            print(f"+ master/worker fault: {name}", file=sys.stderr, flush=True)
            out[name] = run()
        return out
    finally:
        target.terminate()
        target.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--locusta", default=str(ROOT / "target" / "release" / "locusta"))
    ap.add_argument("--master-timeout", type=int, default=None,
                    help="the worker's master heartbeat timeout (default: Locust's 60 s)")
    args = ap.parse_args()
    print(json.dumps(measure(Path(args.locusta), args.master_timeout), indent=2))


if __name__ == "__main__":
    main()
