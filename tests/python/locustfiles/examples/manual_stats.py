"""examples/manual_stats_reporting.py: results reported with events.request.fire."""
import time

from locust import User, constant, events, task


class ManualUser(User):
    wait_time = constant(0.05)

    @task
    def work(self):
        start = time.perf_counter()
        time.sleep(0.001)
        events.request.fire(request_type="CUSTOM", name="manual ok", response_time=(time.perf_counter() - start) * 1000,
                            response_length=10, exception=None, context={})

    @task
    def fail(self):
        self.environment.events.request.fire(request_type="CUSTOM", name="manual fail", response_time=1.0,
                                             response_length=0, exception=RuntimeError("boom"), context={})
