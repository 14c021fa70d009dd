"""The ``locusta`` command: Locust's command line running a Python locustfile on the Rust engine.

``locusta demo`` and ``locusta demo-target`` run the built-in demo (pure Rust). Everything else
is Locust's command line: options are parsed by the Rust ``locusta-options`` crate, the
locustfile is imported with ``import locust`` redirected to locusta's compatibility API, users
run as greenlets on gevent's hub, and requests, timing, statistics and every output (console
tables, CSV, JSON) are Rust.
"""

import os
import sys


def main(argv=None):
    """Entry point of the ``locusta`` console script; returns the exit code."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        argv = ["locusta"]
    argv[0] = "locusta"
    sub = argv[1] if len(argv) > 1 else None
    if sub in ("demo", "demo-target"):
        from . import _core

        rest = [argv[0]] + argv[2:]
        return _core.run_demo(rest) if sub == "demo" else _core.run_demo_target(rest)

    # Locust patches the standard library on `import locust`; locustfiles expect it.
    if not os.getenv("LOCUST_SKIP_MONKEY_PATCH"):
        from gevent import monkey

        monkey.patch_all()

    from . import _core
    from ._run import run

    try:
        return run(argv)
    finally:
        _core.otel_shutdown()  # --otel: the last metrics and spans go out before the exit


if __name__ == "__main__":
    sys.exit(main())
