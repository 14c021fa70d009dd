"""HTTP/2 users against the demo target: each checks the protocol its response came with, then
sends ten requests at once from gevent greenlets (streams of its one connection), then stops.

The Tls* users run against the demo target's TLS port (``demo-target --tls-port``), whose
certificate is self-signed: HttpUser verifies certificates as requests does, so it turns
``verify`` off; FastHttpUser does not verify by default (``insecure = True``)."""

import os

import gevent
from locust import FastHttpUser, HttpUser, constant, task
from locust.exception import StopUser

#: What the responses must have come with: "HTTP/2" or "HTTP/1.1".
EXPECTED = os.environ.get("EXPECT_HTTP_VERSION", "HTTP/2")


def check_and_fan_out(user):
    with user.client.get("/_test/echo", name="echo", catch_response=True) as resp:
        spoke = resp.json()["http_version"]
        if resp.http_version != EXPECTED or spoke != EXPECTED.replace("HTTP/2", "HTTP/2.0"):
            resp.failure(f"client saw {resp.http_version}, server saw {spoke}")
    parallel = [gevent.spawn(user.client.get, "/_test/delay?ms=200", name="parallel") for _ in range(10)]
    gevent.joinall(parallel, timeout=30)
    raise StopUser()


class H2cHttpUser(HttpUser):
    http2 = "prior-knowledge"
    wait_time = constant(0)

    @task
    def check(self):
        check_and_fan_out(self)


class H2cFastHttpUser(FastHttpUser):
    http2 = "prior-knowledge"
    wait_time = constant(0)

    @task
    def check(self):
        check_and_fan_out(self)


class PlainHttpUser(HttpUser):
    """No attribute: follows --http2."""

    wait_time = constant(0)

    @task
    def check(self):
        check_and_fan_out(self)


class TlsHttpUser(HttpUser):
    """ALPN over TLS; verification off as with requests' ``session.verify = False``."""

    http2 = True
    wait_time = constant(0)

    def on_start(self):
        self.client.verify = False

    @task
    def check(self):
        check_and_fan_out(self)


class TlsFastHttpUser(FastHttpUser):
    """ALPN over TLS; FastHttpUser's default ``insecure = True`` accepts the certificate."""

    http2 = True
    wait_time = constant(0)

    @task
    def check(self):
        check_and_fan_out(self)


class TlsPlainHttpUser(HttpUser):
    """No attribute: follows --http2 over TLS; verification off."""

    wait_time = constant(0)

    def on_start(self):
        self.client.verify = False

    @task
    def check(self):
        check_and_fan_out(self)


class TlsProxiedFastHttpUser(FastHttpUser):
    """ALPN over TLS inside a proxy's CONNECT tunnel (the proxy's port from HTTP2_PROXY_PORT)."""

    http2 = True
    proxy_host = "127.0.0.1"
    proxy_port = int(os.environ.get("HTTP2_PROXY_PORT", "0"))
    wait_time = constant(0)

    @task
    def check(self):
        check_and_fan_out(self)


class VerifyingHttpUser(HttpUser):
    """HttpUser's default: the self-signed certificate is refused."""

    http2 = True
    wait_time = constant(0)

    @task
    def check(self):
        self.client.get("/_test/echo", name="echo")
        raise StopUser()
