#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, Rust unit/integration/end-to-end tests, and
# the Python compatibility suite (which installs the package with `pip install .` into a venv and
# compares behaviour with the real Locust). This is the README's second command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# The web UI (web/) is built with npm during the cargo build, and its end-to-end test drives
# Debian's chromium: install them on a bare Debian machine (CI runs as root).
need_apt=()
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM:-}" ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== apt-get install ${need_apt[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "missing: ${need_apt[*]} (install them, e.g. apt-get install ${need_apt[*]})" >&2
        exit 1
    fi
fi

# Daemons some tests talk to, installed without starting them: Debian's prometheus package
# (22 MB; promtool checks the /metrics scrapes in tests/metrics.rs and
# tests/python/test_insight.py, and a real Prometheus answers the Grafana dashboard's queries in
# tests/metrics.rs) and nginx (HTTP/2 interop in crates/locusta-http/tests/http2_nginx.rs).
# Without them those checks are skipped with a message.
need_daemons=()
command -v promtool >/dev/null 2>&1 || need_daemons+=(prometheus)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need_daemons+=(nginx)
if [ ${#need_daemons[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== apt-get install ${need_daemons[*]}"
        apt-get update -qq
        # Only the binaries are wanted: keep the packages from starting their daemons.
        own_policy=
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_daemons[@]}" >/dev/null \
            || echo "could not install ${need_daemons[*]}; their checks will be skipped" >&2
        if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
    else
        echo "not found: ${need_daemons[*]} (apt-get install ${need_daemons[*]}): their checks will be skipped" >&2
    fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
    # nextest does not run doc tests
    cargo test --workspace --locked --doc
else
    cargo test --workspace --locked --no-fail-fast
fi

echo "== the HTTP client and engine again with hyper's HTTP/1.1 client (LOCUSTA_HTTP_DRIVER=hyper)"
if cargo nextest --version >/dev/null 2>&1; then
    LOCUSTA_HTTP_DRIVER=hyper cargo nextest run -p locusta-http --locked --no-fail-fast
    LOCUSTA_HTTP_DRIVER=hyper cargo nextest run -p locusta --test cli --test faults --locked --no-fail-fast
else
    LOCUSTA_HTTP_DRIVER=hyper cargo test -p locusta-http --locked --no-fail-fast
    LOCUSTA_HTTP_DRIVER=hyper cargo test -p locusta --test cli --test faults --locked --no-fail-fast
fi

echo "== web UI end to end in headless Chromium"
cargo build --locked -p locusta --bin locusta --example web_showcase --example parity
LOCUSTA_BIN="$PWD/target/debug/locusta" LOCUSTA_SHOWCASE="$PWD/target/debug/examples/web_showcase" CHROMIUM="${CHROMIUM:-$(command -v chromium)}" \
    node web/e2e/ui.e2e.mjs

echo "== fuzz targets (corpus, then random mutations; 40 s in all)"
cargo run --locked -q -p locusta-fuzz -- --seconds "${FUZZ_SECONDS:-40}"

echo "== python package (pip install .) and compatibility suite"
VENV=.venv-test
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check pytest pytest-xdist pyyaml prometheus-client "locust==2.47.0" opentelemetry-proto grpcio protobuf
# gevent comes with locust above; rebuild locusta from this checkout every time.
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps .
# Three test processes (pytest-xdist): most tests wait on timed runs (-t 3s and the like), so
# the suite takes ~6 min instead of ~16 on 2 cores; every test uses its own free ports.
REAL_LOCUST="$PWD/$VENV/bin/locust" LOCUSTA_PARITY_BIN="$PWD/target/debug/examples/parity" \
    "$VENV/bin/python" -m pytest -q -n "${PYTEST_WORKERS:-3}" tests/python
