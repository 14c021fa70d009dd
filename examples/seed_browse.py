# Seed example (docs seed 001): the classic three-page locustfile, verbatim.
from locust import HttpUser, task, between
class WebsiteUser(HttpUser):
    wait_time = between(1, 5)  # Users wait 1-5 seconds between tasks
    @task
    def index(self):
        self.client.get("/")
    @task(3)  # This task is 3 times more likely to be picked
    def about(self):
        self.client.get("/about/")
    @task(2)
    def products(self):
        self.client.get("/products/")
