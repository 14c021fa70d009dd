"""Locust's update_user_class message: when the worker's "ready" message reaches the master,
the master's listener calls environment.update_user_class, which sets the attribute on the
master's class and sends the settings to every worker; the worker's user then sees the new
value and logs it once. Runs on Locust and locusta masters and workers alike."""

import logging

from locust import HttpUser, between, events, task
from locust.runners import MasterRunner, WorkerRunner

log = logging.getLogger("custom")


def on_ready(environment, msg, **kwargs):
    log.info("master got ready from the worker")
    environment.update_user_class({"user_class_name": "MarkedUser", "marker": "updated"})


@events.init.add_listener
def on_init(environment, **kwargs):
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message("ready", on_ready)


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.send_message("ready")


class MarkedUser(HttpUser):
    wait_time = between(0.1, 0.2)
    marker = "initial"
    logged = None

    @task
    def about(self):
        if MarkedUser.logged != self.marker:
            MarkedUser.logged = self.marker
            log.info("worker user sees marker %s", self.marker)
        self.client.get("/about/")
