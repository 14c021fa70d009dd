"""FastHttpUser's class attributes and HttpUser details, one check per user class, each printed
as an ``EXAMPLE`` marker: run against fasthttp_target.py (``--proxy-port`` = its port) under
locusta and the real Locust, the markers must be equal (test_fasthttp_settings.py)."""

import json, time
import gevent
from locust import FastHttpUser, HttpUser, task, events
from geventhttpclient.client import HTTPClientPool
from urllib3 import PoolManager

DONE = set()
N_CLASSES = 17

def report(what, value):
    print(f"EXAMPLE {what} = {value}", flush=True)

class Checked:
    fixed_count = 1
    def finish(self):
        DONE.add(type(self).__name__)
        if len(DONE) >= N_CLASSES:
            self.environment.runner.quit()
        while True:
            gevent.sleep(1)

class HeaderUser(Checked, FastHttpUser):
    @task
    def t(self):
        r = self.client.get("/headers", headers={"x-lower": "1", "X-UPPER": "2", "X-Mixed-Case": "3"})
        report("fast headers", [h for h in r.json() if h.lower().startswith("x-")])
        report("fast default headers", sorted(h for h in r.json() if not h.lower().startswith("x-")))
        self.finish()

class HttpHeaderUser(Checked, HttpUser):
    @task
    def t(self):
        self.client.headers["x-session-lower"] = "s"
        r = self.client.get("/headers", headers={"x-lower": "1", "X-UPPER": "2", "X-Mixed-Case": "3"})
        report("http headers", [h for h in r.json() if h.lower().startswith("x-")])
        report("http default headers", sorted(h for h in r.json() if not h.lower().startswith("x-")))
        self.finish()

class RetryUser(Checked, FastHttpUser):
    max_retries = 2
    @task
    def t(self):
        r = self.client.get("/flaky?k=a&fails=2")
        report("retry get", (r.status_code, r.text))
        r = self.client.post("/flaky?k=b&fails=1", data="x")
        report("retry post", (r.status_code, r.content, type(getattr(r, "error", None)).__name__))
        self.finish()

class NoRetryUser(Checked, FastHttpUser):
    @task
    def t(self):
        r = self.client.get("/flaky?k=c&fails=1")
        report("no retry", (r.status_code, r.content, r.text, type(getattr(r, "error", None)).__name__))
        self.finish()

class TimeoutUser(Checked, FastHttpUser):
    network_timeout = 0.5
    @task
    def t(self):
        t0 = time.time()
        r = self.client.get("/slow?s=2")
        report("timeout", (r.status_code, time.time() - t0 < 1.9, type(getattr(r, "error", None)).__name__))
        self.finish()

class RedirectUser(Checked, FastHttpUser):
    max_redirects = 2
    @task
    def t(self):
        r = self.client.get("/redirect/2")
        report("redirects 2 of 2", (r.status_code, r.text))
        r = self.client.get("/redirect/3")
        report("redirects 3 of 2", (r.status_code, type(getattr(r, "error", None)).__name__))
        self.finish()

class ZeroRedirectUser(Checked, FastHttpUser):
    max_redirects = 0
    @task
    def t(self):
        r = self.client.get("/redirect/1")
        report("redirects 1 of 0", (r.status_code,))
        self.finish()

class ProxyUser(Checked, FastHttpUser):
    host = "http://target.invalid:8089"
    @task
    def t(self):
        r = self.client.get("/via/proxy?x=1")
        report("proxy", r.text)
        self.finish()

class ConcurrencyUser(Checked, FastHttpUser):
    concurrency = 2
    @task
    def t(self):
        gs = [gevent.spawn(self.client.get, "/busy?k=user") for _ in range(6)]
        gevent.joinall(gs)
        report("concurrency 2 peak", self.client.get("/peak?k=user").text)
        self.finish()

@events.init_command_line_parser.add_listener
def _(parser):
    parser.add_argument("--proxy-port", type=int, default=0)

@events.test_start.add_listener
def _(environment, **kw):
    ProxyUser.proxy_host = "127.0.0.1"
    ProxyUser.proxy_port = environment.parsed_options.proxy_port


SHARED = HTTPClientPool(concurrency=1)
POOL_DONE = []


class PoolUser(Checked, FastHttpUser):
    client_pool = SHARED
    fixed_count = 2

    @task
    def t(self):
        gs = [gevent.spawn(self.client.get, "/busy?k=pool") for _ in range(3)]
        gevent.joinall(gs)
        POOL_DONE.append(1)
        if len(POOL_DONE) == 2:
            report("shared pool of 1 peak", self.client.get("/peak?k=pool").text)
        self.finish()


TIMES = {}


@events.request.add_listener
def _(name, response_time, response_length, **kw):
    if name.startswith("/stream"):
        TIMES[name] = (response_time, response_length)


class StreamUser(Checked, FastHttpUser):
    @task
    def t(self):
        r = self.client.get("/stream?a")
        report("whole", (TIMES["/stream?a"][0] > 400, TIMES["/stream?a"][1], r.text.count("line")))
        r = self.client.get("/stream?b", stream=True)
        report("stream=True", (TIMES["/stream?b"][0] < 300, TIMES["/stream?b"][1], r.stream.read().count(b"line")))
        report("iter_lines", list(self.client.iter_lines("/stream?c")))
        with self.client.get("/stream?d", stream=True, catch_response=True) as r:
            chunks = list(r.iter_content(chunk_size=7))
            report("iter_content", (chunks[0], len(chunks)))
            r.failure("read enough")
        self.finish()


class HttpStreamUser(Checked, HttpUser):
    @task
    def t(self):
        r = self.client.get("/stream?e", stream=True)
        report("http stream=True", (TIMES["/stream?e"][0] < 300, TIMES["/stream?e"][1], list(r.iter_lines())))
        self.finish()


SHARED_MANAGER = PoolManager(maxsize=1, block=True)
MANAGER_DONE = []


class PoolManagerUser(Checked, HttpUser):
    pool_manager = SHARED_MANAGER
    fixed_count = 2

    @task
    def t(self):
        gs = [gevent.spawn(self.client.get, "/busy?k=manager") for _ in range(3)]
        gevent.joinall(gs)
        MANAGER_DONE.append(1)
        if len(MANAGER_DONE) == 2:
            report("shared pool manager of 1 peak", self.client.get("/peak?k=manager").text)
        self.finish()


class ErrorResponseUser(Checked, HttpUser):
    @task
    def t(self):
        r = self.client.get("http://127.0.0.1:1/", name="refused")
        report("http refused", (r.status_code, r.content, r.text))
        self.finish()


class FastErrorResponseUser(Checked, FastHttpUser):
    @task
    def t(self):
        r = self.client.get("http://127.0.0.1:1/", name="fast refused")
        report("fast refused", (r.status_code, r.content, r.text, type(r.error).__name__, r.url))
        r = self.client.post("/headers", json={"a": 1})
        report("fast json body", (type(r.request.body).__name__, sorted(r.json())))
        self.finish()


class FirstLineUser(Checked, FastHttpUser):
    """stream=True hands the body over as it arrives: the first line of a 5-line stream sent
    100 ms apart is there long before the last (time to first token)."""

    @task
    def t(self):
        for label, lines in (
            ("fast", lambda: self.client.iter_lines("/stream?ttft-fast")),
            ("http", lambda: self.http.get("/stream?ttft-http", stream=True).iter_lines()),
        ):
            t0 = time.time()
            arrivals = [time.time() - t0 for _ in lines()]
            report(f"{label} stream first line early", (len(arrivals), arrivals[0] < 0.3, arrivals[-1] > 0.35))
        self.finish()

    def on_start(self):
        from locust.clients import HttpSession

        self.http = HttpSession(self.host, request_event=self.environment.events.request, user=self)
