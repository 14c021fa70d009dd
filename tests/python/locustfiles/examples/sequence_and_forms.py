"""examples/browse_docs_sequence_test.py and csrf_form_authentication.py: a SequentialTaskSet
that reads links from a page and posts a form it fetched first (without pyquery)."""
import re

from locust import HttpUser, SequentialTaskSet, constant, task


class Browse(SequentialTaskSet):
    @task
    def home(self):
        r = self.client.get("/")
        self.links = re.findall(r'href="(/[^"]*)"', r.text)

    @task
    def follow(self):
        for link in self.links[:2]:
            self.client.get(link)

    @task
    def login_form(self):
        page = self.client.get("/login", name="login form")
        if 'action="/login"' in page.text:
            self.client.post("/login", {"username": "ann", "password": "x"}, name="login submit")


class Browser(HttpUser):
    wait_time = constant(0.05)
    tasks = [Browse]
