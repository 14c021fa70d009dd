"""examples/multiple_hosts.py: a second HttpSession to another base URL."""
from locust import HttpUser, constant, task
from locust.clients import HttpSession


class MultipleHostsUser(HttpUser):
    wait_time = constant(0.05)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.api_client = HttpSession(base_url=self.host, request_event=self.client.request_event, user=self)

    @task
    def index(self):
        self.client.get("/")

    @task
    def index_other_host(self):
        self.api_client.get("/api/products/1", name="other-host")
