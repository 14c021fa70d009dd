"""`-f https://...`: the locustfile is downloaded (as Locust does) from a server the test runs on
loopback, then run; a response that is not Python is refused with Locust's message."""

import csv
import http.server
import os
import subprocess
import threading

import pytest

from conftest import lf, locusta_cmd


@pytest.fixture
def file_server():
    """Serves the test locustfiles directory on a free loopback port; yields its base URL."""
    directory = os.path.dirname(lf("distributed.py"))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=directory, **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(args, cwd):
    env = dict(os.environ)
    env.pop("LOCUST_HOST", None)
    return subprocess.run(locusta_cmd() + args, cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


def test_locustfile_from_a_url_runs(file_server, target, tmp_path):
    prefix = str(tmp_path / "u")
    p = run(
        ["-f", f"{file_server}/distributed.py", "--headless", "-u", "2", "-r", "2", "-t", "3s",
         "--csv", prefix, "--only-summary", "-H", target],
        tmp_path,
    )
    assert p.returncode == 0, p.stderr
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    names = {r["Name"] for r in rows}
    assert {"/api/products", "/about/"} <= names, rows
    agg = next(r for r in rows if r["Name"] == "Aggregated")
    assert int(agg["Request Count"]) > 0


def test_a_url_that_is_not_python_is_refused(file_server, tmp_path):
    (tmp_path / "x").mkdir()
    p = run(["-f", f"{file_server}/", "--headless", "-u", "1", "-t", "1s", "-H", "http://127.0.0.1:1"], tmp_path)
    assert p.returncode == 1, p.stderr
    assert f"Failed to get locustfile from: {file_server}/. Response was not valid python code" in p.stderr


def test_an_unreachable_url_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = run(["-f", f"http://127.0.0.1:{port}/locustfile.py", "--headless", "-H", "http://127.0.0.1:1"], tmp_path)
    assert p.returncode == 1, p.stderr
    assert f"Failed to get locustfile from: http://127.0.0.1:{port}/locustfile.py. Exception:" in p.stderr
