"""examples/dynamic_user_credentials.py: each user takes its own credentials from a list."""
from locust import HttpUser, constant, task

CREDENTIALS = [("user%d" % i, "pw%d" % i) for i in range(50)]


class LoginWithUniqueUsers(HttpUser):
    wait_time = constant(0.05)

    def on_start(self):
        if CREDENTIALS:
            name, password = CREDENTIALS.pop()
            self.client.post("/login", {"username": name, "password": password}, name="login")

    @task
    def home(self):
        self.client.get("/")
