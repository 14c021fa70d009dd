"""Two weighted user classes for the master/worker tests (runs on Locust and locusta alike)."""

from locust import HttpUser, between, task


class ShopUser(HttpUser):
    weight = 3
    wait_time = between(0.05, 0.1)

    @task
    def products(self):
        self.client.get("/api/products?page=1&limit=5", name="/api/products")


class WebsiteUser(HttpUser):
    wait_time = between(0.05, 0.1)

    @task
    def about(self):
        self.client.get("/about/")
