"""examples/response_validations.py: catch_response with JSON and status checks."""
from locust import HttpUser, constant, task


class ValidatingUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def json_field(self):
        with self.client.get("/api/products/1", catch_response=True, name="product ok") as r:
            if r.json().get("id") != 1:
                r.failure("wrong id")

    @task
    def json_wrong(self):
        with self.client.get("/api/products/2", catch_response=True, name="product wrong") as r:
            if r.json().get("id") != 1:
                r.failure("wrong id")

    @task
    def accept_404(self):
        with self.client.get("/_test/status/404", catch_response=True, name="404 accepted") as r:
            if r.status_code == 404:
                r.success()
