"""Users whose greenlets stop waiting for a Rust job (killed, or a ``gevent.Timeout``): the job
must end at once and let go of its socket. Each user checks once and prints CHECK lines that
tests/python/test_cancel.py reads."""

import json
import os
import time
import urllib.request

import gevent
from locust import HttpUser, constant, task
from locust.contrib.websocket import WebSocketUser

checked = set()


def target_stats(host):
    with urllib.request.urlopen(f"{host}/_test/stats", timeout=5) as resp:
        return json.load(resp)


def open_sockets():
    """This process's open sockets."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def wait_until(condition, limit=3.0):
    """Seconds until ``condition()`` held (polled every 10 ms), or None after ``limit``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if condition():
            return time.monotonic() - started
        gevent.sleep(0.01)
    return None


class ParkedInRecv(WebSocketUser):
    """Kills a greenlet waiting in ``recv()`` without a time limit, then drops the connection."""

    wait_time = constant(1)

    @task
    def kill_a_receiver(self):
        if "recv" in checked:
            return
        checked.add("recv")
        before = target_stats(self.host)["websockets_open"]
        ws = self.connect("/ws/echo", name="echo")
        opened = wait_until(lambda: target_stats(self.host)["websockets_open"] == before + 1)
        print(f"CHECK ws opened={opened is not None}", flush=True)
        receiver = gevent.spawn(ws.recv)
        gevent.sleep(0.2)
        receiver.kill()
        del receiver, ws
        self.ws = None
        closed = wait_until(lambda: target_stats(self.host)["websockets_open"] == before)
        print(f"CHECK ws closed_after={closed}", flush=True)


class TimedOutRequest(HttpUser):
    """Gives up on a slow request with ``gevent.Timeout``; its connection must close, and the
    next request go out on a fresh one."""

    wait_time = constant(1)

    @task
    def give_up_on_a_slow_request(self):
        if "timeout" in checked:
            return
        checked.add("timeout")
        sockets = open_sockets()
        started = time.monotonic()
        try:
            with gevent.Timeout(0.2):
                self.client.get("/_test/delay?ms=3000", name="slow")
            print("CHECK timeout did-not-fire", flush=True)
        except gevent.Timeout:
            print(f"CHECK timeout fired_after={time.monotonic() - started:.2f}", flush=True)
        freed = wait_until(lambda: open_sockets() <= sockets, limit=2.0)
        print(f"CHECK socket freed_after={freed}", flush=True)
        accepted = target_stats(self.host)["connections_accepted"]
        resp = self.client.get("/_test/delay?ms=10", name="next")
        # less the connection of this stats request itself
        fresh = target_stats(self.host)["connections_accepted"] - accepted - 1
        print(f"CHECK next status={resp.status_code} new_connections={fresh}", flush=True)
