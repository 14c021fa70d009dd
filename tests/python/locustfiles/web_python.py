# Used by test_web_ui_python.py: a Python locustfile driven from the web UI. Its listeners write
# the lifecycle events to stderr so the test can see that they fire as in Locust's web mode.
import sys

from locust import HttpUser, constant, events, task


def _say(what):
    sys.stderr.write(f"EVENT {what}\n")
    sys.stderr.flush()


@events.test_start.add_listener
def _test_start(environment, **kw):
    _say("test_start")


@events.test_stop.add_listener
def _test_stop(environment, **kw):
    _say("test_stop")


@events.reset_stats.add_listener
def _reset_stats(**kw):
    _say("reset_stats")


@events.quitting.add_listener
def _quitting(environment, **kw):
    _say("quitting")


class WebUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/", name="/web-index")
