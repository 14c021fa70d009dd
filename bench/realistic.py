#!/usr/bin/env python3
"""Realistic locustfiles (issue 18): locusta versus Locust 2.47, side by side, per locustfile.

Each locustfile in bench/locustfiles/ (NAME.py, HttpUser, and its twin NAME_fast.py,
FastHttpUser) runs, in every round, with:

  * locusta, NAME.py (HttpUser, as written)          -- the figure the ratios are about
  * locusta, NAME_fast.py (FastHttpUser, as written)  -- skip with --no-locusta-fast
  * Locust 2.47, NAME_fast.py (FastHttpUser)
  * Locust 2.47, NAME.py (HttpUser)

each load generator pinned to one core (--gen-core; the whole process), against one nginx worker
pinned to the other core (--server-core) that answers like the shop API: fixed JSON bodies for
POST /api/auth/login, GET /api/products?..., GET /api/products/N, POST /api/cart/items (201),
POST /api/orders (201), any other /api/... path and method, and a few HTML pages. The score is
requests per CPU-second of the generator process (user + system time of the child, from
getrusage): it does not depend on how much of its core a generator got on a shared machine.
The ratios locusta/FastHttpUser and locusta/HttpUser are computed within each round (runs seconds
apart drift together) and reported as median and range over rounds.

--profile NAME runs locusta on NAME.py once under `perf record -g` (falls back to py-spy when
perf cannot run) and prints where its CPU goes: the Python interpreter (libpython), locusta's
Rust (the extension module), the kernel, libc, greenlet/gevent, ...; then a py-spy pass (if
py-spy is installed next to --locusta-python) attributes the interpreter's time to Python-level
costs (json encode/decode, the response object, catch_response, events, ...).

When wrk is installed (apt-get install wrk; skip with --no-wrk), every round also runs wrk
(`-t1 -c USERS`, GET /api/products/7, the 335-byte product) against the same nginx from the same
core: the cost of a bare keep-alive exchange with no interpreter, no statistics and no
locustfile. Its requests per CPU-second divided by Locust FastHttpUser's (HttpUser's) on each
locustfile is the ratio a generator with *zero* cost of its own above the exchange would reach
there: a ceiling for any tool that runs the locustfile, which the goals can be checked against.

Loopback only; every run is bounded by -t (and a timeout).

Usage: bench/realistic.py [--rounds 3] [--duration 15] [--users 50] [--only shop,one_get]
           [--locusta-python PY] [--locust /opt/locust-venv/bin/locust] [--no-locusta-fast] [--no-wrk]
       bench/realistic.py --profile shop [--duration 15] [--users 50]
"""

import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, nginx, parse_wrk, read_stats_csv, run_measured

LOCUSTFILES = Path(__file__).resolve().parent / "locustfiles"
# Benchmark order (the reference last, as in the list).
NAMES = ["shop", "shop_validated", "shop_tasksets", "shop_endpoints", "one_get"]

# --- the target: fixed bodies, as nginx `location` blocks ---------------------------------------


def _product(i: int) -> dict:
    return {"id": i, "name": f"Product {i}", "sku": f"SKU-{i:05d}", "price": round(4.99 + i * 1.25, 2),
            "currency": "EUR", "in_stock": i % 7 != 0, "rating": round(3 + (i % 20) / 10, 1),
            "category": {"id": i % 12 + 1, "name": f"Category {i % 12 + 1}"},
            "image": f"https://cdn.example.com/p/{i}.jpg"}


def _html(title: str) -> str:
    items = "".join(f'<li><a href="/products/{i}">Product {i}</a> <span class="price">{4.99 + i:.2f} EUR</span></li>'
                    for i in range(1, 25))
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} - Example Shop</title>'
            '<link rel="stylesheet" href="/static/site.css"></head><body><header><nav><a href="/home">Home</a> '
            '<a href="/about">About</a> <a href="/help">Help</a> <a href="/contact">Contact</a></nav></header>'
            f'<main><h1>{title}</h1><ul class="products">{items}</ul></main>'
            '<footer>Example Shop - a fixed page for load tests</footer></body></html>')


def _quote(body: str) -> str:
    # nginx single-quoted string: no quote, backslash or variable sign in the bodies
    assert not set(body) & {"'", "\\", "$"}, body
    return f"'{body}'"


def _json(obj) -> str:
    return _quote(json.dumps(obj, separators=(",", ":")))


def shop_locations() -> str:
    """nginx `location` blocks answering like the seed shop's API (bodies are fixed)."""
    products = [_product(i) for i in range(1, 21)]
    blocks = [
        ("= /api/auth/login", 200, {"token": "eyJhbGciOiJIUzI1NiJ9.bG9hZHRlc3RAZXhhbXBsZS5jb20.c2lnbmF0dXJl",
                                    "expires_in": 3600, "user": {"id": 42, "email": "loadtest@example.com"}}),
        ("= /api/products", 200, products),
        ("~ ^/api/products/[0-9]+$", 200, dict(_product(137), description="A fixed product for load tests.",
                                               stock=12, variants=[{"size": s, "stock": 4} for s in "SML"])),
        ("= /api/cart/items", 201, {"cart_id": "c-7f3a", "items": 3, "total": 59.97, "currency": "EUR"}),
        ("= /api/orders", 201, {"order_id": "o-000123", "status": "created", "total": 59.97, "currency": "EUR"}),
        ("= /api/users/me", 200, {"id": 42, "email": "loadtest@example.com", "name": "Load Test",
                                  "addresses": 2, "newsletter": False}),
        ("/api/", 200, {"ok": True, "items": [{"id": i, "label": f"item {i}"} for i in range(1, 6)]}),
    ]
    out = []  # "/" keeps answering "ok" as text/plain (the one-GET reference, as in python_throughput.py)
    for match, status, body in blocks:
        out.append(f"location {match} {{ default_type application/json; return {status} {_json(body)}; }}")
    for page in ("home", "about", "help", "contact"):
        out.append(f"location = /{page} {{ default_type text/html; return 200 {_quote(_html(page.title()))}; }}")
    return "\n        ".join(out)


# --- runs ----------------------------------------------------------------------------------------


def tools(args):
    """(label, command, locustfile suffix) in the order they run within a round."""
    py = [args.locusta_python, "-m", "locusta"]
    out = [("locusta HttpUser", py, "")]
    if not args.no_locusta_fast:
        out.append(("locusta FastHttpUser", py, "_fast"))
    out += [("Locust FastHttpUser", [args.locust], "_fast"), ("Locust HttpUser", [args.locust], "")]
    return out


def load_args(locustfile, url, users, duration, prefix):
    return ["-f", str(locustfile), "--headless", "-u", str(users), "-r", "1000", "-t", f"{duration}s",
            "--only-summary", "--csv", prefix, "-H", url, "-L", "WARNING"]


def run_one(cmd, locustfile, pin, url, users, duration):
    with tempfile.TemporaryDirectory(prefix="locusta-realistic-") as tmp:
        prefix = f"{tmp}/run"
        proc, cpu, _rss, wall = run_measured(pin + cmd + load_args(locustfile, url, users, duration, prefix),
                                             cwd=tmp, timeout=duration + 120)
        if proc.returncode not in (0, 1) or not os.path.exists(f"{prefix}_stats.csv"):
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{' '.join(cmd)} -f {locustfile.name} exited with {proc.returncode}")
        stats = read_stats_csv(prefix)
        agg = stats["Aggregated"]
        return {"requests": int(agg["Request Count"]), "failures": int(agg["Failure Count"]), "cpu": cpu,
                "wall": wall, "names": len(stats) - 1}


def run_wrk(wrk, pin, url, users, duration):
    """wrk's requests and CPU seconds for one bare GET per request (the ceiling's reference)."""
    proc, cpu, _rss, wall = run_measured(pin + [wrk, "-t1", f"-c{users}", f"-d{duration}s", url + "/api/products/7"],
                                         timeout=duration + 60)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"wrk exited with {proc.returncode}")
    requests, _ = parse_wrk(proc.stdout)
    return {"requests": requests, "failures": 0, "cpu": cpu, "wall": wall, "names": 1}


def fmt_k(x: float) -> str:
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def bench(args) -> int:
    names = [n for n in NAMES if not args.only or n in args.only]
    unknown = set(args.only or ()) - set(NAMES)
    if unknown:
        raise SystemExit(f"unknown locustfile(s) {', '.join(sorted(unknown))}: choose from {', '.join(NAMES)}")
    pin = ["taskset", "-c", str(args.gen_core)]
    ts = tools(args)
    results = {n: {label: [] for label, _, _ in ts} for n in names}
    wrk = None if args.no_wrk else shutil.which("wrk")
    wrk_runs = []
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with nginx(args.port, args.server_core, locations=shop_locations()) as url:
        for rnd in range(args.rounds):
            if wrk:
                r = run_wrk(wrk, pin, url, args.users, args.duration)
                wrk_runs.append(r)
                print(f"round {rnd} {'(ceiling)':<15} {'wrk GET':<21} {r['requests']:>8} req {0:>5} fail "
                      f"{1:>3} names {r['cpu']:>6.2f} cpu-s {100 * r['cpu'] / r['wall']:>4.0f}% "
                      f"{r['requests'] / r['cpu']:>8.0f} req/cpu-s", flush=True)
            for n in names:
                for label, cmd, suffix in ts:
                    r = run_one(cmd, LOCUSTFILES / f"{n}{suffix}.py", pin, url, args.users, args.duration)
                    results[n][label].append(r)
                    print(f"round {rnd} {n:<15} {label:<21} {r['requests']:>8} req {r['failures']:>5} fail "
                          f"{r['names']:>3} names {r['cpu']:>6.2f} cpu-s {100 * r['cpu'] / r['wall']:>4.0f}% "
                          f"{r['requests'] / r['cpu']:>8.0f} req/cpu-s", flush=True)

    print(f"\nstarted {started}; {args.rounds} round(s) of {args.duration} s, {args.users} users; generator pinned "
          f"to core {args.gen_core}, nginx (1 worker) to core {args.server_core}")
    print("requests per CPU-second of the generator process: median (min-max over rounds); ratios per round")
    labels = [label for label, _, _ in ts]
    short = {"locusta HttpUser": "locusta", "locusta FastHttpUser": "locusta Fast",
             "Locust FastHttpUser": "Locust Fast", "Locust HttpUser": "Locust Http"}
    head = f"{'locustfile':<15}" + "".join(f"{short[l]:>22}" for l in labels) + f"{'locusta/Fast':>22}{'locusta/Http':>22}"
    print(head)
    print("-" * len(head))
    for n in names:
        eff = {l: [r["requests"] / r["cpu"] for r in results[n][l]] for l in labels}
        cells = []
        for l in labels:
            v = eff[l]
            cells.append(f"{fmt_k(statistics.median(v))} ({fmt_k(min(v))}-{fmt_k(max(v))})")
        for other in ("Locust FastHttpUser", "Locust HttpUser"):
            ratios = [a / b for a, b in zip(eff["locusta HttpUser"], eff[other])]
            cells.append(f"{statistics.median(ratios):.1f}x ({min(ratios):.1f}-{max(ratios):.1f})")
        print(f"{n:<15}" + "".join(f"{c:>22}" for c in cells))
    if wrk_runs:
        w = [r["requests"] / r["cpu"] for r in wrk_runs]
        print(f"\nceiling: wrk (no interpreter, one bare GET per request) {fmt_k(statistics.median(w))} "
              f"({fmt_k(min(w))}-{fmt_k(max(w))}) req/cpu-s; divided by Locust's on each locustfile, per round, "
              "is the ratio a generator with no cost above the HTTP exchange would reach:")
        print(f"{'locustfile':<15}{'wrk/Locust Fast':>22}{'wrk/Locust Http':>22}{'locusta/wrk':>22}")
        for n in names:
            cells = []
            for other in ("Locust FastHttpUser", "Locust HttpUser"):
                ratios = [a / (r["requests"] / r["cpu"]) for a, r in zip(w, results[n][other])]
                cells.append(f"{statistics.median(ratios):.1f}x ({min(ratios):.1f}-{max(ratios):.1f})")
            own = [(r["requests"] / r["cpu"]) / a for a, r in zip(w, results[n]["locusta HttpUser"])]
            cells.append(f"{statistics.median(own):.2f} ({min(own):.2f}-{max(own):.2f})")
            print(f"{n:<15}" + "".join(f"{c:>22}" for c in cells))
    fails = [(n, l, r["failures"]) for n in names for l in labels for r in results[n][l] if r["failures"]]
    if fails:
        print("failures seen: " + ", ".join(f"{n}/{l}: {f}" for n, l, f in fails))
    if args.json:
        Path(args.json).write_text(json.dumps({"started": started, "args": vars(args), "results": results,
                                               "wrk": wrk_runs}, indent=1))
    return 0


# --- profile -------------------------------------------------------------------------------------


def classify_dso(dso: str, ext_name: str) -> str:
    d = dso.lower()
    if "kernel" in d or d.startswith("[k"):
        return "kernel"
    if ext_name in dso or "_core" in d:
        return "locusta Rust (extension module)"
    if "_json" in d:
        return "json C accelerator (_json)"
    if "libpython" in d or re.search(r"python3(\.\d+)?$", d):
        return "Python interpreter (libpython)"
    if "greenlet" in d or "gevent" in d:
        return "greenlet / gevent C"
    if d.startswith("libc") or d.startswith("libm.") or "ld-linux" in d:
        return "libc / ld.so"
    if "vdso" in d:
        return "kernel"
    return "other: " + dso


def perf_works() -> bool:
    perf = shutil.which("perf") or "/usr/bin/perf"
    if not os.path.exists(perf):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([perf, "record", "-q", "-o", f"{tmp}/t.data", "--", "true"], capture_output=True,
                           text=True, timeout=30)
        return p.returncode == 0


def profile_perf(args, locustfile, url, ext) -> None:
    pin = ["taskset", "-c", str(args.gen_core)]
    with tempfile.TemporaryDirectory(prefix="locusta-realistic-perf-") as tmp:
        data = f"{tmp}/perf.data"
        cmd = (["perf", "record", "-F", str(args.perf_freq), "-g", "-q", "-o", data, "--"] + pin
               + [args.locusta_python, "-m", "locusta"] + load_args(locustfile, url, args.users, args.duration, f"{tmp}/run"))
        proc, cpu, _rss, wall = run_measured(cmd, cwd=tmp, timeout=args.duration + 180)
        if proc.returncode not in (0, 1):
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"perf record exited with {proc.returncode}")
        agg = read_stats_csv(f"{tmp}/run")["Aggregated"]
        reqs = int(agg["Request Count"])
        print(f"perf record -F {args.perf_freq} -g on locusta {locustfile.name}: {reqs} requests in "
              f"{args.duration} s (perf's own CPU is included in the {cpu:.1f} cpu-s, so no req/cpu-s here)")
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                              "--percent-limit", "0", "--sort", "dso,sym"],
                             capture_output=True, text=True, timeout=600).stdout
    by_cat = collections.Counter()
    top = []
    for line in rep.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$", line)
        if not m:
            continue
        pct, dso, _kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
        cat = classify_dso(dso, ext)
        by_cat[cat] += pct
        top.append((pct, cat, sym))
    total = sum(by_cat.values()) or 1.0
    print(f"\nCPU of the locusta process by where the code lives (perf self samples, {total:.1f}% attributed):")
    print(f"{'share':>7}  part")
    for cat, pct in by_cat.most_common():
        if pct >= 0.3:
            print(f"{100 * pct / total:>6.1f}%  {cat}")
    print("\ntop symbols (self):")
    for pct, cat, sym in sorted(top, reverse=True)[:args.top]:
        print(f"{pct:>6.2f}%  {cat.split(' (')[0]:<22} {sym[:90]}")


# Python-level buckets for the py-spy pass. A sample goes to the rule matching its innermost
# Python frame that any rule matches (so json.dumps called by HttpSession.request is "json encode",
# HttpSession.request's own lines are "request()"). Frames look like "func (file:line)".
PY_RULES = [
    ("json encode (json=)", re.compile(r"^(dumps|JSONEncoder\.\w+) \(json/")),
    ("json decode (.json())", re.compile(r"^(loads|JSONDecoder\.\w+) \(json/|^Response\.json \(")),
    ("catch_response (context manager, success/failure, report)",
     re.compile(r"^(Rest)?ResponseContextManager\.|^HttpSession\._record \(")),
    ("response object (Response.*)", re.compile(r"^Response\.")),
    ("events (fire, listeners)", re.compile(r"\(locusta/locust/event\.py")),
    ("random (locustfile's randint/choice, task pick)", re.compile(r"\(random\.py")),
    ("send + park (submit to Rust, greenlet switch)", re.compile(r"^Runtime\.(send|_park|get) \(")),
    ("I/O turn in the hub (Rust driver, syscalls)", re.compile(r"^Runtime\.(_on_ready|_flush) \(|\(locusta/_driver\.py")),
    ("HttpSession.request/get/post (arguments, name, record)", re.compile(r"^HttpSession\.")),
    ("run loop, task pick, TaskSets (locust/user/)", re.compile(r"\(locusta/locust/user/")),
    ("locustfile's own code", re.compile(r"\((shop|one_get)\w*\.py:")),
    ("gevent hub / greenlet (no Python frame above)", re.compile(r"\(gevent/")),
]


def profile_pyspy(args, locustfile, url, pyspy) -> None:
    pin = ["taskset", "-c", str(args.gen_core)]
    with tempfile.TemporaryDirectory(prefix="locusta-realistic-pyspy-") as tmp:
        out = f"{tmp}/stacks.txt"
        cmd = ([pyspy, "record", "--native", "-r", "250", "-f", "raw", "-o", out, "--"] + pin
               + [args.locusta_python, "-m", "locusta"] + load_args(locustfile, url, args.users, args.duration, f"{tmp}/run"))
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=args.duration + 180)
        if not os.path.exists(out):
            print(f"py-spy failed ({proc.returncode}): {proc.stderr[-1500:]}")
            return
        stacks = collections.Counter()
        for line in Path(out).read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if stack and n.isdigit():
                stacks[stack] += int(n)
    bucket = collections.Counter()
    inclusive = collections.Counter()
    startup = 0
    for stack, n in stacks.items():
        # a user's greenlet starts in run_started_user (run_user before resting users)
        if "run_started_user (" not in stack and "run_user (" not in stack and "Hub.run (" not in stack:
            startup += n  # imports, argument parsing, spawning: not per request
            continue
        frames = stack.split(";")
        for f in {re.sub(r":\d+\)$", ")", f) for f in frames if ".py:" in f}:
            inclusive[f] += n
        for f in reversed(frames):
            label = next((label for label, rx in PY_RULES if rx.search(f)), None)
            if label:
                bucket[label] += n
                break
        else:
            bucket["other"] += n
    total = sum(bucket.values()) or 1
    print(f"\npy-spy record --native -r 250: {total} samples while running ({startup} more at start-up, left out);"
          " sampling slows the process, shares are indicative. By innermost known Python frame:")
    for label, n in bucket.most_common():
        print(f"{100 * n / total:>6.1f}%  {label}")
    print("\nPython functions, inclusive share (top):")
    for f, n in inclusive.most_common(args.top):
        print(f"{100 * n / total:>6.1f}%  {f[:110]}")


def profile(args) -> int:
    name = args.profile
    if name not in NAMES:
        raise SystemExit(f"unknown locustfile {name}: choose from {', '.join(NAMES)}")
    locustfile = LOCUSTFILES / f"{name}.py"
    ext = subprocess.run([args.locusta_python, "-c", "import locusta._core as c; print(c.__file__)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    pyspy = shutil.which("py-spy", path=str(Path(args.locusta_python).parent)) or shutil.which("py-spy")
    with nginx(args.port, args.server_core, locations=shop_locations()) as url:
        if args.pyspy_only:
            pass
        elif perf_works():
            profile_perf(args, locustfile, url, Path(ext).name)
        else:
            print("perf cannot record here (see kernel.perf_event_paranoid): py-spy only")
        if pyspy:
            profile_pyspy(args, locustfile, url, pyspy)
        else:
            print("py-spy not found (pip install py-spy): no Python-level breakdown")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=15, help="seconds per run (default 15)")
    ap.add_argument("--users", type=int, default=50, help="users per run (default 50)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; each runs every tool on every locustfile (default 3)")
    ap.add_argument("--only", type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
                    help=f"comma-separated locustfiles among {', '.join(NAMES)}")
    ap.add_argument("--locusta-python", default=sys.executable, type=os.path.abspath,
                    help="interpreter with locusta installed")
    ap.add_argument("--locust", default=os.environ.get("REAL_LOCUST", "/opt/locust-venv/bin/locust"),
                    help="the real Locust command")
    ap.add_argument("--no-locusta-fast", action="store_true", help="skip locusta on the FastHttpUser twins")
    ap.add_argument("--no-wrk", action="store_true", help="skip the wrk ceiling runs")
    ap.add_argument("--json", help="also write all runs to this JSON file")
    ap.add_argument("--profile", metavar="NAME", help="profile locusta on NAME.py instead of benchmarking")
    ap.add_argument("--pyspy-only", action="store_true", help="with --profile: skip perf")
    ap.add_argument("--perf-freq", type=int, default=1999, help="perf sampling frequency (default 1999 Hz)")
    ap.add_argument("--top", type=int, default=25, help="with --profile: symbols/functions listed")
    ap.add_argument("--port", type=int, default=18095)
    ap.add_argument("--gen-core", type=int, default=1)
    ap.add_argument("--server-core", type=int, default=0)
    args = ap.parse_args()
    return profile(args) if args.profile else bench(args)


if __name__ == "__main__":
    sys.exit(main())
