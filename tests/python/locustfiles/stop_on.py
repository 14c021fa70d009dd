"""StopTest from a task stops that user only; from test_start (STOP_AT=test_start) it ends the
test; the stop_on_threshold pattern (STOP_AT=threshold) quits from a greenlet."""
import json
import os

import gevent
from locust import HttpUser, constant, events, task
from locust.exception import StopTest

STOP_AT = os.environ.get("STOP_AT", "task")
seen = {"events": [], "on_stop": 0, "states": []}


@events.init.add_listener
def on_init(environment, **kw):
    if STOP_AT == "threshold":

        def checker():
            while True:
                gevent.sleep(0.2)
                seen["states"].append(environment.runner.state)
                if environment.runner.stats.total.fail_ratio > 0.2:
                    environment.runner.quit()
                    return

        gevent.spawn(checker)


@events.test_start.add_listener
def on_test_start(environment, **kw):
    seen["events"].append("test_start")
    if STOP_AT == "test_start":
        raise StopTest("stop from test_start")


@events.test_stop.add_listener
def on_test_stop(environment, **kw):
    seen["events"].append("test_stop")


@events.quitting.add_listener
def on_quitting(environment, **kw):
    seen["events"].append("quitting")
    r = environment.runner
    print("REPORT " + json.dumps({
        "events": seen["events"], "on_stop": seen["on_stop"], "state": r.state,
        "states": sorted(set(seen["states"])), "target": r.target_user_count,
        "requests": environment.stats.total.num_requests,
    }))


class U(HttpUser):
    wait_time = constant(0.05)
    done = 0

    @task
    def t(self):
        if STOP_AT == "threshold":
            self.client.get("/_test/status/500")
            return
        self.client.get("/")
        U.done += 1
        if STOP_AT == "task" and U.done == 3:
            raise StopTest("stop from task")

    def on_stop(self):
        seen["on_stop"] += 1
