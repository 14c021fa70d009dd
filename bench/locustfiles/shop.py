# Realistic benchmark 1 (issue 18): the seed shop (examples/seed_shop.py) without waits.
# on_start login with json= and .json(), client.headers.update, json= POSTs, a catch_response
# block with success()/failure(), random.randint per task. Twin: shop_fast.py (FastHttpUser).
import random

from locust import HttpUser, constant, tag, task


class WebsiteUser(HttpUser):
    """Simulates a typical e-commerce browsing session, as fast as it goes."""
    wait_time = constant(0)

    def on_start(self):
        response = self.client.post("/api/auth/login", json={
            "email": "loadtest@example.com",
            "password": "test-password-123",
        })
        self.token = response.json().get("token", "")
        self.client.headers.update({"Authorization": f"Bearer {self.token}"})

    @tag("browse")
    @task(5)
    def browse_products(self):
        self.client.get("/api/products?page=1&limit=20")

    @tag("browse")
    @task(3)
    def view_product_detail(self):
        product_id = random.randint(1, 1000)
        self.client.get(f"/api/products/{product_id}", name="/api/products/[id]")

    @tag("purchase")
    @task(1)
    def add_to_cart(self):
        product_id = random.randint(1, 1000)
        self.client.post("/api/cart/items", json={
            "product_id": product_id,
            "quantity": 1,
        })

    @tag("purchase")
    @task(1)
    def checkout(self):
        with self.client.post(
            "/api/orders",
            json={"payment_method": "test"},
            catch_response=True
        ) as response:
            if response.status_code == 201:
                response.success()
            elif response.status_code == 409:
                response.failure("Cart was empty")
            else:
                response.failure(f"Unexpected: {response.status_code}")
