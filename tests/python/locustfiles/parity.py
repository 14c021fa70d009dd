"""The lifecycle parity scenario in Python (its Rust twin is examples/parity.rs): one user
class, a three-stage load shape, and test_start/test_stop listeners that say where they ran."""

import sys

from locust import HttpUser, LoadTestShape, constant, events, task
from locust.runners import MasterRunner, WorkerRunner


def _node(runner):
    if isinstance(runner, MasterRunner):
        return "Master"
    if isinstance(runner, WorkerRunner):
        return "Worker"
    return "Local"


@events.test_start.add_listener
def _started(environment, **_kw):
    sys.stderr.write(f"PARITY test_start on {_node(environment.runner)}\n")


@events.test_stop.add_listener
def _stopped(environment, **_kw):
    sys.stderr.write(f"PARITY test_stop on {_node(environment.runner)}\n")


class ParityUser(HttpUser):
    wait_time = constant(0.2)

    @task
    def index(self):
        self.client.get("/")


class Stages(LoadTestShape):
    stages = [(2, 1, 10), (4, 3, 10), (6, 2, 10)]

    def tick(self):
        run_time = self.get_run_time()
        for until, users, rate in self.stages:
            if run_time < until:
                return users, rate
        return None
