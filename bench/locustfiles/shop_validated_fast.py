# Twin of shop_validated.py for FastHttpUser (Authorization passed with each request).
import random

from locust import FastHttpUser, constant, task


class ValidatingUser(FastHttpUser):
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
        self.auth = {"Authorization": f"Bearer {token}"}

    @task(5)
    def browse_products(self):
        page = random.randint(1, 5)
        with self.client.get(f"/api/products?page={page}&limit=20", name="/api/products?page=[n]", headers=self.auth,
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
        with self.client.get(f"/api/products/{product_id}", name="/api/products/[id]", headers=self.auth,
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
        }, headers=self.auth, catch_response=True) as response:
            if response.status_code == 201 and response.json().get("cart_id"):
                response.success()
            else:
                response.failure(f"add to cart: {response.status_code}")

    @task(1)
    def checkout(self):
        with self.client.post("/api/orders", json={"payment_method": "test"}, headers=self.auth,
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"Unexpected: {response.status_code}")
                return
            order = response.json()
            if order.get("status") != "created":
                response.failure(f"order status {order.get('status')}")
            else:
                response.success()
