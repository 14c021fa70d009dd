# Seed example (docs seed 002, "Custom event hooks for advanced monitoring"), verbatim, plus the
# browse user of seed 001 so that the file runs on its own.
from locust import events
import time

@events.request.add_listener
def on_request(request_type, name, response_time, response_length, 
               response, exception, context, **kwargs):
    """Send metrics to external monitoring."""
    if response_time > 5000:
        print(f"SLOW REQUEST: {name} took {response_time}ms")
    
    if exception:
        print(f"FAILED: {name} - {exception}")

@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    print(f"Load test starting against {environment.host}")
    print(f"Target: {environment.runner.target_user_count} users")

@events.test_stop.add_listener  
def on_test_stop(environment, **kwargs):
    stats = environment.runner.stats
    total = stats.total
    print(f"Test complete: {total.num_requests} requests, "
          f"{total.num_failures} failures, "
          f"avg {total.avg_response_time:.0f}ms")

from locust import HttpUser, task, constant

class WebsiteUser(HttpUser):
    wait_time = constant(0.5)

    @task
    def index(self):
        self.client.get("/")

    @task
    def missing(self):
        self.client.get("/does-not-exist")
