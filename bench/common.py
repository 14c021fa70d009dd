"""Shared helpers for locusta's benchmarks: a pinned nginx target, child CPU accounting,
and parsing of wrk and locusta outputs. Benchmarks target loopback only and are bounded in time."""

import csv
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def target_dir() -> Path:
    """Where cargo puts its builds: CARGO_TARGET_DIR, else target/."""
    return Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")


def build_example(name: str, package: str = "locusta") -> Path:
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "-p", package, "--example", name],
        cwd=ROOT,
        check=True,
    )
    return target_dir() / "release" / "examples" / name


def build_binary() -> Path:
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "locusta"], cwd=ROOT, check=True)
    return target_dir() / "release" / "locusta"


def require(tool: str, hint: str) -> str:
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if os.path.exists(f"/usr/sbin/{tool}") else None)
    if not path:
        raise SystemExit(f"{tool} not found: {hint}")
    return path


@contextmanager
def nginx(port: int, core: int, worker_connections: int = 4096, extra_listen=(), keepalive: bool = True,
          locations: str = "", tls=None):
    """nginx with one worker pinned to `core`, answering 200 "ok" on 127.0.0.1:port; `locations`
    (nginx `location` blocks) answers other paths (bench/realistic.py's shop API); `tls`, a
    (certificate, key) pair of PEM paths, is the certificate of the `ssl` listeners among
    `extra_listen`."""
    binary = require("nginx", "apt-get install nginx-light")
    work = Path(tempfile.mkdtemp(prefix="locusta-bench-nginx-"))
    listens = "\n".join(f"listen {addr};" for addr in [f"127.0.0.1:{port}", *extra_listen])
    conf = work / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
worker_rlimit_nofile 200000;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout {"300s" if keepalive else "0"};
    client_body_temp_path {work};
    proxy_temp_path {work};
    fastcgi_temp_path {work};
    uwsgi_temp_path {work};
    scgi_temp_path {work};
    server {{
        {listens}
        {f"ssl_certificate {tls[0]}; ssl_certificate_key {tls[1]};" if tls else ""}
        {locations}
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""
    )
    proc = subprocess.Popen(["taskset", "-c", str(core), binary, "-c", str(conf), "-p", str(work)])
    try:
        deadline = time.time() + 5
        import socket

        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit(f"nginx did not start: {(work / 'error.log').read_text()}")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def self_signed_cert(directory) -> tuple:
    """A self-signed certificate for 127.0.0.1 and localhost made with `openssl req` in
    `directory`: (certificate, key) PEM paths."""
    openssl = require("openssl", "apt-get install openssl")
    cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def run_measured(cmd, **kwargs):
    """Runs cmd to completion; returns (CompletedProcess, cpu_seconds, max_rss_kb) of that child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, cpu, after.ru_maxrss, wall


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str):
    """Requests, and latency percentiles in ms, from `wrk --latency` output."""
    m = re.search(r"(\d+) requests in", output)
    if not m:
        raise SystemExit(f"cannot read wrk output:\n{output}")
    pct = {}
    for p, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M):
        pct[int(p)] = float(value) * _UNITS[unit]
    return int(m.group(1)), pct


def read_stats_csv(prefix: str):
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {row["Name"]: row for row in rows}


def rss_kb(pid) -> int:
    """VmRSS of `pid` in KB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def sample_rss(pid, out, stop):
    """Samples VmRSS of `pid` every 0.2 s until `stop` is set; appends the peak (KB) to `out`."""
    peak = 0
    while not stop.is_set():
        peak = max(peak, rss_kb(pid))
        time.sleep(0.2)
    out.append(peak)


@contextmanager
def wire_capture(port: int, core: int, max_packets: int = 40000):
    """Captures the TCP traffic of `port` on loopback with tcpdump (nanosecond timestamps taken
    by the kernel when each packet crosses `lo`), pinned to `core`. Yields a list that holds, once
    the block ends, the wire latency of each request in seconds: from the request's first
    packet to the response's first packet on the same connection. This is the ground truth a
    generator's reported response time can be compared with: it contains neither generator's
    scheduling. Capped at `max_packets` packets (tcpdump -c) to bound its cost."""
    binary = require("tcpdump", "apt-get install tcpdump")
    work = Path(tempfile.mkdtemp(prefix="locusta-bench-pcap-"))
    pcap = work / "lo.pcap"
    proc = subprocess.Popen(
        ["taskset", "-c", str(core), binary, "-i", "lo", "-nn", "-s", "128", "-B", "65536", "-c", str(max_packets),
         "--time-stamp-precision", "nano", "-w", str(pcap), f"tcp port {port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # tcpdump needs a moment before it captures
    latencies = []
    try:
        yield latencies
    finally:
        if proc.poll() is None:
            proc.send_signal(2)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if pcap.exists():
            latencies.extend(_wire_latencies(pcap.read_bytes(), port))
        shutil.rmtree(work, ignore_errors=True)


def _wire_latencies(data: bytes, port: int):
    """Request-to-response latencies (s) from a nanosecond pcap of loopback (Ethernet framing)."""
    import struct

    if len(data) < 24 or data[:4] not in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        return []  # not a nanosecond pcap
    endian = "<" if data[:4] == b"\x4d\x3c\xb2\xa1" else ">"
    pending = {}
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, nsec, incl, _orig = struct.unpack_from(endian + "IIII", data, off)
        pkt = data[off + 16: off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 14 + 20 or pkt[12:14] != b"\x08\x00":
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from(">H", ip, 2)[0]
        if ip[9] != 6 or len(ip) < ihl + 20:
            continue
        tcp = ip[ihl:]
        sport, dport = struct.unpack_from(">HH", tcp, 0)
        payload = total - ihl - (tcp[12] >> 4) * 4
        if payload <= 0:
            continue
        ts = sec + nsec / 1e9
        if dport == port and sport not in pending:
            pending[sport] = ts  # a request's first packet
        elif sport == port and dport in pending:
            out.append(ts - pending.pop(dport))  # the response's first packet
    return out
