"""HTTP/2 for Python users: the ``http2`` class attribute of HttpUser / FastHttpUser and the
``--http2`` option, against the demo target's h2c (HTTP/2 with prior knowledge) on its own port
and against its TLS port (``demo-target --tls-port``: ALPN ``h2``, a self-signed certificate).

The demo target counts the connections that spoke HTTP/2; a user's concurrent requests (gevent
greenlets) must share one connection as streams."""

import json
import os
import re
import socket
import socketserver
import subprocess
import threading
import urllib.request

import pytest

from conftest import lf, locusta_cmd


def counters(target):
    with urllib.request.urlopen(f"{target}/_test/stats", timeout=10) as resp:
        return json.load(resp)


def run_users(run_locustfile, target, *classes_and_flags, expect="HTTP/2", users=3, host=None):
    """Runs the classes against ``host`` (``target`` by default); the HTTP/2 connections the demo
    target ``target`` counted meanwhile, and the run."""
    os.environ["EXPECT_HTTP_VERSION"] = expect
    try:
        before = counters(target)["http2_connections"]
        run = run_locustfile(
            lf("http2_users.py"), host or target, *classes_and_flags, users=users, rate=50, time_s="3s"
        )
        after = counters(target)["http2_connections"]
    finally:
        del os.environ["EXPECT_HTTP_VERSION"]
    assert run.code == 0, run.stderr
    counts = run.counts()
    assert counts[("GET", "echo")] == (users, 0), (counts, run.stderr)
    assert counts[("GET", "parallel")] == (10 * users, 0), (counts, run.stderr)
    return after - before, run


@pytest.mark.parametrize("user_class", ["H2cHttpUser", "H2cFastHttpUser"])
def test_the_http2_attribute_multiplexes_a_users_requests_on_one_connection(run_locustfile, target, user_class):
    opened, _ = run_users(run_locustfile, target, user_class)
    # one connection per user: the ten concurrent requests ran as streams of it
    assert opened == 3


def test_the_http2_option_applies_to_classes_without_the_attribute(run_locustfile, target):
    opened, _ = run_users(run_locustfile, target, "PlainHttpUser", "--http2", "prior-knowledge")
    assert opened == 3


def test_negotiate_keeps_http1_on_plain_http_and_off_is_the_default(run_locustfile, target):
    opened, _ = run_users(run_locustfile, target, "PlainHttpUser", "--http2", "negotiate", expect="HTTP/1.1")
    assert opened == 0
    opened, _ = run_users(run_locustfile, target, "PlainHttpUser", expect="HTTP/1.1")
    assert opened == 0


def test_a_wrong_mode_is_refused_with_the_choices(run_locustfile, target):
    run = run_locustfile(lf("http2_users.py"), target, "PlainHttpUser", "--http2", "h3")
    assert run.code != 0
    assert "choose from off, negotiate, prior-knowledge" in run.stderr, run.stderr


@pytest.fixture(scope="module")
def tls_target():
    """A demo target with its TLS listener: yields (plain base URL, https base URL)."""
    proc = subprocess.Popen(
        locusta_cmd() + ["demo-target", "--port", "0", "--tls-port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    plain = re.search(r"http://[0-9.]+:\d+", proc.stderr.readline())
    tls = re.search(r"https://[0-9.]+:\d+", proc.stderr.readline())
    assert plain and tls, "demo-target did not start with TLS"
    yield plain.group(0), tls.group(0)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.parametrize("user_class", ["TlsHttpUser", "TlsFastHttpUser"])
def test_http2_true_negotiates_h2_by_alpn_over_tls(run_locustfile, tls_target, user_class):
    plain, https = tls_target
    tls_before = counters(plain)["tls_connections"]
    opened, _ = run_users(run_locustfile, plain, user_class, host=https)
    # one TLS connection per user, HTTP/2 by ALPN, its ten concurrent requests as streams
    assert opened == 3
    assert counters(plain)["tls_connections"] - tls_before == 3


def test_the_http2_option_negotiates_over_tls_and_off_keeps_http1(run_locustfile, tls_target):
    plain, https = tls_target
    opened, _ = run_users(run_locustfile, plain, "TlsPlainHttpUser", "--http2", "negotiate", host=https)
    assert opened == 3
    opened, _ = run_users(run_locustfile, plain, "TlsPlainHttpUser", host=https, expect="HTTP/1.1")
    assert opened == 0


class _TunnelHandler(socketserver.BaseRequestHandler):
    """A forward proxy that only tunnels: ``CONNECT host:port``, then bytes both ways."""

    def handle(self):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode()
        self.server.lines.append(line)
        method, authority, _ = line.split(" ", 2)
        if method != "CONNECT":
            self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            return
        host, port = authority.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=30)
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pump(src, dst):
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        back = threading.Thread(target=pump, args=(upstream, self.request), daemon=True)
        back.start()
        pump(self.request, upstream)
        back.join(timeout=30)
        upstream.close()


def test_fasthttpuser_negotiates_h2_inside_a_proxys_connect_tunnel(run_locustfile, tls_target):
    plain, https = tls_target
    socketserver.ThreadingTCPServer.daemon_threads = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _TunnelHandler) as proxy:
        proxy.lines = []
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        os.environ["HTTP2_PROXY_PORT"] = str(proxy.server_address[1])
        try:
            opened, _ = run_users(run_locustfile, plain, "TlsProxiedFastHttpUser", host=https)
        finally:
            del os.environ["HTTP2_PROXY_PORT"]
            proxy.shutdown()
    # one tunnel per user, HTTP/2 inside it, the user's ten concurrent requests as its streams
    assert opened == 3
    authority = https.removeprefix("https://")
    assert proxy.lines == [f"CONNECT {authority} HTTP/1.1"] * 3, proxy.lines


def test_httpuser_verifies_the_certificate_by_default(run_locustfile, tls_target):
    plain, https = tls_target
    run = run_locustfile(lf("http2_users.py"), https, "VerifyingHttpUser", users=2, rate=50, time_s="2s")
    counts = run.counts()
    assert counts[("GET", "echo")] == (2, 2), (counts, run.stderr)
    errors = " ".join(row["Error"] for row in run.csv_rows("failures"))
    assert "SSLError" in errors and "certificate" in errors, errors
