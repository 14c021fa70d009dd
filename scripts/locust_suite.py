#!/usr/bin/env python3
"""Locust's own behavioural tests as a yardstick for locusta.

Locust's test package (``locust/test``) pins down how users, task sets, wait times, tags and the
HTTP clients behave. This script runs a chosen set of those modules with pytest under one or more
Python interpreters -- typically the real Locust's and one where ``import locust`` gives
locusta's compatibility package -- and prints per-module passed/failed/error/skipped counts side
by side (and, with ``--json``, every test's outcome), so behaviour differences show up as
failures we can read and classify.

Locust's release archives do not ship ``locust/test``, so the tests come from a git snapshot of
Locust (``--tests DIR`` with a ``locust/test`` package inside, or by default extracted from the
local mirror into a temporary directory). They are never copied into this repository. To make
them importable as ``locust.test`` under an interpreter whose ``locust`` has no ``test``
subpackage (locusta's always, Locust's release too), a small pytest plugin written to a temporary
directory puts a finder for ``locust.test.*`` in front of the import system before collection.

Locust's tests need a few packages that neither Locust nor locusta install (``cryptography`` for
the TLS helpers, ``pyquery`` for the fasthttp tests); ``--deps DIR`` puts a directory holding
them (``pip install --target DIR cryptography pyquery``) on ``PYTHONPATH``.

    scripts/locust_suite.py --python /opt/locust-venv/bin/python --python .venv/bin/python \\
        --deps /tmp/suite-deps --json suite.json
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

DEFAULT_MODULES = [
    "test_wait_time",
    "test_taskratio",
    "test_tags",
    "test_sequential_taskset",
    "test_markov_taskset",
    "test_users",
    "test_locust_class",
    "test_http",
    "test_fasthttp",
    "test_interruptable_task",
]
# Tests that leave loopback (they fetch https://expired.badssl.com): never run, the suite's traffic
# stays on this machine.
OFF_LOOPBACK = [
    "locust/test/test_http.py::TestHttpSession::test_verify_true_fails_with_bad_cert",
    "locust/test/test_http.py::TestHttpSession::test_verify_false_succeeds_with_bad_cert",
]
DEFAULT_MIRROR = "/work/.mirror/locustio+locust/repo"

# The pytest plugin loaded with ``-p`` in the child interpreter. It runs before collection, makes
# the extracted tests importable as ``locust.test`` (refusing if the interpreter's ``locust`` has
# its own, which would mix two versions), and appends one JSON line per test phase to a results file (so a module that hangs and is
# killed still leaves the outcomes of the tests that finished).
PLUGIN = r'''
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys

import locust

_parent = os.environ["LOCUST_SUITE_PARENT"]
_results = os.environ["LOCUST_SUITE_RESULTS"]
_spec = importlib.util.find_spec("locust.test")
if _spec is not None and not (_spec.origin or "").startswith(_parent):
    raise SystemExit(f"locust.test already resolves to {_spec.origin}, not to {_parent}")


class _LocustTestFinder(importlib.abc.MetaPathFinder):
    """Finds ``locust.test`` and its modules in the extracted directory, as ordinary modules
    with those names. (Appending to ``locust.__path__`` is enough for Locust, but locusta's
    import hook aliases every ``locust.*`` name to ``locusta.locust.*``, whose specs carry no
    file, and pytest needs one to match a test file to its module name.)"""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "locust.test":
            return importlib.machinery.PathFinder.find_spec(fullname, [_parent], target)
        if fullname.startswith("locust.test."):
            return importlib.machinery.PathFinder.find_spec(fullname, path, target)
        return None


sys.meta_path.insert(0, _LocustTestFinder())

# Harness shims: names that Locust's test helpers (locust/test/util.py) import at module level
# but that only the command-line tests call. Where the interpreter's locust lacks them (locusta
# has its own command line), stand-ins that refuse to be called let the behavioural modules load;
# the shims applied are printed in the run's header.
_SHIMS = {"locust.argument_parser": ["get_locustfiles_locally", "parse_locustfile_option"]}
_applied = []
for _modname, _names in _SHIMS.items():
    _mod = importlib.import_module(_modname)
    for _name in _names:
        if not hasattr(_mod, _name):
            def _refuse(*args, _n=f"{_modname}.{_name}", **kwargs):
                raise NotImplementedError(f"{_n} is a locust_suite.py harness shim")
            setattr(_mod, _name, _refuse)
            _applied.append(f"{_modname}.{_name}")
if _applied and os.environ.get("LOCUST_SUITE_SHIMS"):
    with open(os.environ["LOCUST_SUITE_SHIMS"], "w") as f:
        f.write("\n".join(_applied))


def _write(record):
    with open(_results, "a") as f:
        f.write(json.dumps(record) + "\n")


def pytest_collectreport(report):
    if report.failed:
        _write({"nodeid": report.nodeid, "when": "collect", "outcome": "failed",
                "longrepr": str(report.longrepr)[-4000:]})


def pytest_runtest_logreport(report):
    record = {"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
              "duration": round(report.duration, 3)}
    if report.failed:
        record["longrepr"] = str(report.longrepr)[-4000:]
    elif report.skipped and isinstance(report.longrepr, tuple):
        record["longrepr"] = str(report.longrepr[2])
    _write(record)
'''

PROBE = (
    "import json, locust; "
    "print(json.dumps({'file': locust.__file__, 'version': getattr(locust, '__version__', '?')}))"
)


def probe(python, env):
    """Which ``locust`` the interpreter imports: its file and version."""
    proc = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode != 0:
        sys.exit(f"{python}: `import locust` failed:\n{proc.stderr}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["locusta"] = "locusta" in info["file"]
    info["label"] = "locusta" if info["locusta"] else f"Locust {info['version']}"
    return info


def extract_tests(mirror, into):
    """``locust/test`` from the mirror's HEAD into ``into``; returns ``into``."""
    archive = subprocess.run(
        ["git", "-C", mirror, "archive", "HEAD", "locust/test"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", into], input=archive.stdout, check=True)
    return into


def outcomes(results_file):
    """{nodeid: outcome} from the plugin's lines: error (setup/teardown/collection failed),
    failed (the test body failed), skipped or passed; and {nodeid: longrepr} for the first."""
    result, detail = {}, {}
    if not os.path.exists(results_file):
        return result, detail
    with open(results_file) as f:
        for line in f:
            rec = json.loads(line)
            node, when, outcome = rec["nodeid"], rec["when"], rec["outcome"]
            if when == "collect":
                result[node] = "error"
            elif when == "call":
                if result.get(node) != "error":
                    result[node] = {"passed": "passed", "failed": "failed", "skipped": "skipped"}[outcome]
            elif outcome == "failed":
                result[node] = "error"
            elif outcome == "skipped":  # skipped in setup (skip markers, skipTest in setUp)
                result[node] = "skipped"
            if "longrepr" in rec and node not in detail:
                detail[node] = rec["longrepr"]
    return result, detail


def run_module(python, module, tests_dir, deps, timeout, pytest_args):
    """Run one Locust test module under ``python``; returns a dict of counts and outcomes."""
    work = tempfile.mkdtemp(prefix="locust-suite-run-")
    try:
        with open(os.path.join(work, "locust_suite_plugin.py"), "w") as f:
            f.write(PLUGIN)
        results = os.path.join(work, "results.jsonl")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([work] + ([deps] if deps else []))
        env["LOCUST_SUITE_PARENT"] = os.path.join(tests_dir, "locust")
        env["LOCUST_SUITE_RESULTS"] = results
        shims_file = os.path.join(work, "shims.txt")
        env["LOCUST_SUITE_SHIMS"] = shims_file
        env.pop("PYTEST_ADDOPTS", None)
        path = os.path.join(tests_dir, "locust", "test", f"{module}.py")
        cmd = [
            python, "-m", "pytest", "-p", "locust_suite_plugin", "-p", "no:cacheprovider",
            "-o", "consider_namespace_packages=true", "--rootdir", tests_dir, "-c", os.devnull,
            "-q", "--no-header", "-rN", path,
        ] + [f"--deselect={node}" for node in OFF_LOOPBACK] + pytest_args
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=work)
            timed_out, rc, tail = False, proc.returncode, (proc.stdout + proc.stderr)[-3000:]
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"") + (e.stderr or b"")
            timed_out, rc, tail = True, None, out.decode(errors="replace")[-3000:]
        elapsed = time.monotonic() - started
        tests, detail = outcomes(results)
        shims = open(shims_file).read().split() if os.path.exists(shims_file) else []
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts = {k: 0 for k in ("passed", "failed", "error", "skipped")}
    for outcome in tests.values():
        counts[outcome] += 1
    if (timed_out or (rc not in (0, 1, 5))) and not any(counts.values()):
        counts["error"] += 1  # pytest itself broke (usage error, crash) before reporting a test
    return {
        "module": module, "counts": counts, "tests": tests, "details": detail,
        "shims": shims, "returncode": rc, "timed_out": timed_out, "seconds": round(elapsed, 1), "output_tail": tail,
    }


def cell(counts):
    text = f"{counts['passed']}/{counts['failed']}"
    extra = [f"{counts[k]} {k}" for k in ("error", "skipped") if counts[k]]
    return text + (f" ({', '.join(extra)})" if extra else "")


def print_table(modules, columns):
    header = ["module"] + [f"{c['label']} passed/failed" for c in columns]
    rows = [header]
    for m in modules:
        row = [m]
        for c in columns:
            r = c["results"][m]
            row.append(cell(r["counts"]) + (" TIMEOUT" if r["timed_out"] else ""))
        rows.append(row)
    total = ["total"]
    for c in columns:
        agg = {k: sum(c["results"][m]["counts"][k] for m in modules) for k in ("passed", "failed", "error", "skipped")}
        total.append(cell(agg))
    rows.append(total)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for i, r in enumerate(rows):
        print(" | ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
        if i == 0 or i == len(rows) - 2:
            print("-+-".join("-" * w for w in widths))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", action="append", required=True,
                    help="interpreter to run the tests under (repeat for side-by-side columns)")
    ap.add_argument("--tests", help="directory holding Locust's locust/test package "
                    "(default: extracted from --mirror into a temporary directory)")
    ap.add_argument("--mirror", default=DEFAULT_MIRROR, help="git repository of Locust (default: %(default)s)")
    ap.add_argument("--modules", help="comma-separated test modules (default: the behavioural set)")
    ap.add_argument("--deps", help="directory with the tests' extra packages (cryptography, pyquery), "
                    "put on PYTHONPATH")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per module (default: %(default)s)")
    ap.add_argument("--json", help="write every column's counts and per-test outcomes here")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each failing test and its error's last line")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args(argv)

    modules = [m.strip().removesuffix(".py") for m in args.modules.split(",")] if args.modules else DEFAULT_MODULES
    tmp = None
    tests_dir = args.tests
    if tests_dir is None:
        tmp = tempfile.mkdtemp(prefix="locust-tests-")
        tests_dir = extract_tests(args.mirror, tmp)
    tests_dir = os.path.abspath(tests_dir)
    if not os.path.isfile(os.path.join(tests_dir, "locust", "test", "__init__.py")):
        sys.exit(f"{tests_dir} has no locust/test package")

    columns = []
    try:
        env = dict(os.environ)
        if args.deps:
            env["PYTHONPATH"] = args.deps
        for python in args.python:
            info = probe(python, env)
            print(f"== {info['label']}: {python} (locust from {info['file']})", file=sys.stderr)
            results = {}
            for m in modules:
                r = run_module(python, m, tests_dir, args.deps, args.timeout, args.pytest_args)
                results[m] = r
                print(f"   {m}: {cell(r['counts'])} in {r['seconds']}s"
                      + (" (timed out)" if r["timed_out"] else ""), file=sys.stderr)
                if args.verbose:
                    for node, outcome in sorted(r["tests"].items()):
                        if outcome in ("failed", "error"):
                            last = (r["details"].get(node) or "").strip().splitlines()[-1:] or [""]
                            print(f"      {outcome}: {node}: {last[0][:200]}", file=sys.stderr)
            shims = sorted({s for r in results.values() for s in r["shims"]})
            if shims:
                print(f"   harness shims applied (test helpers' imports only): {', '.join(shims)}", file=sys.stderr)
            columns.append({"python": python, **info, "results": results})
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    print_table(modules, columns)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"modules": modules, "columns": columns}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
