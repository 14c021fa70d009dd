"""FastHttpUser's settings (network_timeout, max_redirects, max_retries, concurrency, proxy,
a shared client_pool), stream=True and iter_lines, and header names sent as written, run side by
side with the real Locust 2.47 against a loopback target that records what arrives: every
check's printed outcome must be the same under both tools."""

import re
import subprocess
import sys

import pytest

from conftest import lf


@pytest.fixture
def fresh_target():
    """Starts fasthttp_target.py (a new one per run: it counts attempts) and yields its URL."""
    procs = []

    def start():
        proc = subprocess.Popen(
            [sys.executable, lf("fasthttp_target.py"), "0"], stdout=subprocess.PIPE, text=True
        )
        procs.append(proc)
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        return url

    yield start
    for p in procs:
        p.kill()
        p.wait()


def markers(run):
    """The checks' outcomes, with the target's port (different per run) masked."""
    found = re.findall(r"^EXAMPLE .*$", run.stdout + run.stderr, re.M)
    return sorted({re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", m) for m in found})


def test_fasthttp_settings_behave_as_under_locust(run_locustfile, fresh_target, real_locust):
    outcomes = []
    for cmd in (None, real_locust):
        url = fresh_target()
        port = url.rsplit(":", 1)[1]
        run = run_locustfile(
            lf("fasthttp_settings.py"), url, "--proxy-port", port, users=18, rate=100, time_s="20s", cmd=cmd
        )
        assert "Traceback" not in run.stderr, run.stderr[-3000:]
        outcomes.append((markers(run), run.counts(), run.code))
    (ours, our_counts, our_code), (theirs, their_counts, their_code) = outcomes
    assert len(ours) == 25, ours
    # Beyond Locust: FastHttpSession.iter_lines waits for 1024 bytes (geventhttpclient's read)
    # before it yields, so the first line of a slow stream comes with the last; locusta's comes
    # when it arrives (time to first token). Everything else is the same.
    early = "EXAMPLE fast stream first line early = (5, True, True)"
    assert early in ours
    assert "EXAMPLE fast stream first line early = (5, False, True)" in theirs
    assert [m for m in ours if m != early] == [m for m in theirs if "fast stream first line" not in m]
    assert our_counts == their_counts
    assert our_code == their_code == 1  # three requests fail on purpose


def test_fasthttp_session_rejects_what_it_cannot_do():
    """Unknown settings fail like geventhttpclient's TypeError; a proxy host needs a port."""
    code = """
from locusta.locust.env import Environment
from locusta.locust.contrib.fasthttp import FastHttpSession
env = Environment()
for kwargs in ({"no_such_setting": 1}, {"proxy_host": "127.0.0.1"}):
    try:
        FastHttpSession("http://127.0.0.1:1", env.events.request, user=None, **kwargs)
    except (TypeError, ValueError) as e:
        print(type(e).__name__, e)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "TypeError FastHttpSession got unexpected keyword arguments: no_such_setting" in out.stdout, out
    assert "ValueError you have to provide proxy_port if you set proxy_host" in out.stdout, out


def test_ssl_context_factory_is_called_at_the_first_https_request():
    """As geventhttpclient: the factory runs when the first https request connects (its
    exception reaches the caller), and a context with CERT_NONE turns verification off."""
    code = """
import ssl
from locusta.locust.env import Environment
from locusta.locust.contrib.fasthttp import FastHttpSession
env = Environment()

def bad():
    context = ssl.create_default_context()
    context.check_hostname = True
    context.verify_mode = ssl.CERT_NONE  # raises ValueError
    return context

def lenient():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context

try:
    FastHttpSession("https://127.0.0.1:1", env.events.request, user=None, ssl_context_factory=bad).get("/")
except ValueError as e:
    print("raised", e)
s = FastHttpSession("https://127.0.0.1:1", env.events.request, user=None, insecure=False, ssl_context_factory=lenient)
print("verify before", s.verify)
s.get("/")
print("verify after", s.verify)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "raised Cannot set verify_mode to CERT_NONE when check_hostname is enabled." in out.stdout, out
    assert "verify before True" in out.stdout and "verify after False" in out.stdout, out
