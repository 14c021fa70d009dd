"""Records the distributed details as JSON lines in $DETAILS_OUT: each import, the worker
index seen by test_start and on_start, heartbeat_sent / heartbeat_received / usage_monitor
(with their arguments), and which worker_report had the key a report_to_master listener
added. With DETAILS_INIT_RAISE=1 every second user's constructor raises. Runs unchanged on
the real Locust."""

import json
import os
import time

from locust import HttpUser, constant, events, runners, task

OUT = os.environ["DETAILS_OUT"]
runners.CPU_MONITOR_INTERVAL = 1.0


def record(kind, **data):
    line = json.dumps({"kind": kind, "pid": os.getpid(), **data}) + "\n"
    with open(OUT, "a") as f:
        f.write(line)


record("import")


def runner_kind(environment):
    return type(environment.runner).__name__


@events.test_start.add_listener
def on_test_start(environment, **_kw):
    record("test_start", runner=runner_kind(environment), index=getattr(environment.runner, "worker_index", None))


@events.heartbeat_sent.add_listener
def on_heartbeat_sent(client_id, timestamp, **_kw):
    record("heartbeat_sent", client_id=client_id, timestamp=timestamp, now=time.time())


@events.heartbeat_received.add_listener
def on_heartbeat_received(client_id, timestamp, **_kw):
    record("heartbeat_received", client_id=client_id, timestamp=timestamp, now=time.time())


@events.usage_monitor.add_listener
def on_usage_monitor(environment, cpu_usage, memory_usage, **_kw):
    record("usage_monitor", runner=runner_kind(environment), cpu=cpu_usage, memory=memory_usage)


@events.report_to_master.add_listener
def on_report_to_master(client_id, data, **_kw):
    data["details_sent_at"] = time.time()


@events.worker_report.add_listener
def on_worker_report(client_id, data, **_kw):
    record("worker_report", client_id=client_id, has_key="details_sent_at" in data)


_made = [0]


class DetailsUser(HttpUser):
    wait_time = constant(0.2)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _made[0] += 1
        if os.environ.get("DETAILS_INIT_RAISE") == "1" and _made[0] % 2 == 0:
            raise ValueError(f"constructor of user {_made[0]} refuses")

    def on_start(self):
        record("on_start", index=self.environment.runner.worker_index)

    @task
    def products(self):
        self.client.get("/api/products")
