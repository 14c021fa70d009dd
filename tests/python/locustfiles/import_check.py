import locust
import locust.clients
from locust.env import Environment  # noqa: F401
from locust import HttpUser, task

print("LOCUST_MODULE", locust.__file__, locust.clients.HttpSession.__module__)


class U(HttpUser):
    @task
    def t(self):
        self.client.get("/")
