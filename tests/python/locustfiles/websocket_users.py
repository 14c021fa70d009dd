"""WebSocketUser (locusta's addition) against the demo target's /ws/echo and /ws/chat: the
users print CHECK lines for what they saw, the test reads them and the CSV statistics."""

import gevent

from locust import constant, events, task
from locust.contrib.websocket import (
    WebSocketBadStatusException,
    WebSocketConnectionClosedException,
    WebSocketTimeoutException,
    WebSocketUser,
)

seen_by_listener = {}


@events.request.add_listener
def count(request_type, name, exception=None, **_kw):
    seen_by_listener[request_type] = seen_by_listener.get(request_type, 0) + 1


@events.quitting.add_listener
def report(**_kw):
    print("LISTENER " + " ".join(f"{k}={v}" for k, v in sorted(seen_by_listener.items())), flush=True)


class EchoUser(WebSocketUser):
    wait_time = constant(0.05)

    def on_start(self):
        self.connect("/ws/echo", name="echo", subprotocols=["nonsense", "echo.v1"], recv_timeout=5)
        print(f"CHECK protocol={self.ws.protocol}", flush=True)

    @task
    def echo(self):
        self.ws.send("hello")
        assert self.ws.recv() == "hello"
        payload = b"\x01" * 100
        reply = self.ws.request(payload, match=lambda m: m == payload, name="echo pair")
        assert reply == payload
        self.ws.ping()

    def on_stop(self):
        self.ws.close()


class ChatUser(WebSocketUser):
    wait_time = constant(0.05)

    def on_start(self):
        self.mine = f"hi from {id(self)}"
        self.connect("/ws/chat", recv_timeout=5)

    @task
    def say(self):
        self.ws.request(self.mine, match=lambda m: m == self.mine, name="chat broadcast")


class FailureUser(WebSocketUser):
    fixed_count = 1
    wait_time = constant(1)

    def on_start(self):
        try:
            self.connect("/ws/nope")
        except WebSocketBadStatusException as e:
            print(f"CHECK refused status={e.status_code}", flush=True)
        closing = self.connect("/ws/echo?close_after=1", name="closing", recv_timeout=5)
        closing.send("one")
        assert closing.recv() == "one"
        try:
            closing.recv()
        except WebSocketConnectionClosedException as e:
            print(f"CHECK closed {e}", flush=True)
        quiet = self.connect("/ws/echo", name="quiet", recv_timeout=0.2)
        try:
            quiet.recv()
        except WebSocketTimeoutException:
            print("CHECK timeout", flush=True)
        # a greenlet waiting in recv does not hold up a send from another
        waiting = gevent.spawn(quiet.recv, 5)
        gevent.sleep(0.05)
        quiet.send("from the other greenlet")
        print(f"CHECK background={waiting.get(timeout=5)}", flush=True)

    @task
    def idle(self):
        pass
