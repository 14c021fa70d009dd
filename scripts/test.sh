#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, Rust unit/integration/end-to-end tests, and
# the Python compatibility suite (which installs the package with `pip install .` into a venv and
# compares behaviour with the real Locust). This is the README's second command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

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

echo "== the HTTP client and engine again with the lean HTTP/1.1 driver"
if cargo nextest --version >/dev/null 2>&1; then
    LOCUSTA_HTTP_DRIVER=lean cargo nextest run -p locusta-http -p locusta --locked --no-fail-fast
else
    LOCUSTA_HTTP_DRIVER=lean cargo test -p locusta-http -p locusta --locked --no-fail-fast
fi

echo "== fuzz targets (corpus, then random mutations; 40 s in all)"
cargo run --locked -q -p locusta-fuzz -- --seconds "${FUZZ_SECONDS:-40}"

echo "== python package (pip install .) and compatibility suite"
VENV=.venv-test
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check pytest "locust==2.47.0"
# gevent comes with locust above; rebuild locusta from this checkout every time.
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps .
REAL_LOCUST="$PWD/$VENV/bin/locust" "$VENV/bin/python" -m pytest -q tests/python
