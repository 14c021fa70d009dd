# Realistic benchmark 2 (issue 18): the seed shop where every request is checked:
# catch_response=True and .json() validation of the body on each call. Twin: shop_validated_fast.py.
import random

from locust import HttpUser, constant, task


class ValidatingUser(HttpUser):
    wait_time = constant(0)

    def on_start(self):
        with self.client.post("/api/auth/login", json={
            "email": "loadtest@example.com",
            "password": "test-password-123",
        }, catch_response=True) as response:
            token = response.json().get("token")
            if not token:
                response.failure("no token in login response")
                return
            response.success()
        self.client.headers.update({"Authorization": f"Bearer {token}"})

    @task(5)
    def browse_products(self):
        page = random.randint(1, 5)
        with self.client.get(f"/api/products?page={page}&limit=20", name="/api/products?page=[n]",
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            products = response.json()
            if len(products) != 20 or any("id" not in p or p["price"] <= 0 for p in products):
                response.failure("bad product list")
            else:
                response.success()

    @task(3)
    def view_product_detail(self):
        product_id = random.randint(1, 1000)
        with self.client.get(f"/api/products/{product_id}", name="/api/products/[id]",
                             catch_response=True) as response:
            try:
                product = response.json()
            except ValueError:
                response.failure("not JSON")
                return
            if product.get("in_stock") is None or not product.get("name"):
                response.failure("incomplete product")
            else:
                response.success()

    @task(1)
    def add_to_cart(self):
        with self.client.post("/api/cart/items", json={
            "product_id": random.randint(1, 1000),
            "quantity": random.randint(1, 3),
        }, catch_response=True) as response:
            if response.status_code == 201 and response.json().get("cart_id"):
                response.success()
            else:
                response.failure(f"add to cart: {response.status_code}")

    @task(1)
    def checkout(self):
        with self.client.post("/api/orders", json={"payment_method": "test"},
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"Unexpected: {response.status_code}")
                return
            order = response.json()
            if order.get("status") != "created":
                response.failure(f"order status {order.get('status')}")
            else:
                response.success()
