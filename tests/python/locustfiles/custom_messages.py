"""Custom messages between a master and its workers (Locust's register_message and
send_message): each worker sends "ping" when its test starts, the master answers "pong" to that
worker, and each side logs what it got. Workers also add a key to their stats reports
(report_to_master) that the master's worker_report listener logs. Runs on Locust and on locusta
workers alike."""

import logging

from locust import HttpUser, between, events, task
from locust.runners import MasterRunner, WorkerRunner

log = logging.getLogger("custom")


def on_ping(environment, msg, **kwargs):
    log.info("master got ping %r", msg.data)
    data = dict(msg.data, n=msg.data["n"] + 1)
    environment.runner.send_message("pong", data, client_id=msg.node_id)


def on_pong(environment, msg, **kwargs):
    log.info("worker got pong %r", msg.data)


@events.init.add_listener
def on_init(environment, **kwargs):
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message("ping", on_ping)
    elif isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message("pong", on_pong)


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.send_message("ping", {"n": 1, "items": ["a", 2, None, True, 1.5], "raw": b"\x00\x01"})


@events.report_to_master.add_listener
def on_report_to_master(client_id, data, **kwargs):
    data["custom_key"] = {"from": client_id}


@events.worker_report.add_listener
def on_worker_report(client_id, data, **kwargs):
    if "custom_key" in data and not getattr(on_worker_report, "seen", False):
        on_worker_report.seen = True
        log.info("master got custom_key from %s: %r", client_id, data["custom_key"])


class PingUser(HttpUser):
    wait_time = between(0.1, 0.2)

    @task
    def about(self):
        self.client.get("/about/")
