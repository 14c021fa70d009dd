# Twin of shop_tasksets.py for FastHttpUser (the Authorization header obtained at login is kept
# on the user and passed with each request: FastHttpSession has no session-wide headers).
import random

from locust import FastHttpUser, TaskSet, constant, task


class Checkout(TaskSet):
    @task(2)
    def add_to_cart(self):
        self.client.post("/api/cart/items", json={"product_id": random.randint(1, 1000), "quantity": 1},
                         headers=self.user.auth)

    @task(1)
    def place_order(self):
        with self.client.post("/api/orders", json={"payment_method": "test"}, headers=self.user.auth,
                              catch_response=True) as response:
            if response.status_code == 201:
                response.success()
            else:
                response.failure(f"Unexpected: {response.status_code}")
        self.interrupt()


class Browse(TaskSet):
    tasks = {Checkout: 1}

    def on_start(self):
        response = self.client.post("/api/auth/login", json={
            "email": "loadtest@example.com",
            "password": "test-password-123",
        })
        self.user.auth = {"Authorization": f"Bearer {response.json()['token']}"}

    @task(5)
    def browse_products(self):
        self.client.get("/api/products", params={"page": random.randint(1, 5), "limit": 20},
                        name="/api/products?page=[n]", headers=self.user.auth)

    @task(3)
    def view_product_detail(self):
        self.client.get(f"/api/products/{random.randint(1, 1000)}", name="/api/products/[id]",
                        headers=self.user.auth)

    @task(1)
    def leave(self):
        self.interrupt()


class Account(TaskSet):
    @task(2)
    def profile(self):
        self.client.get("/api/users/me", headers=self.user.auth)

    @task(1)
    def orders(self):
        self.client.get("/api/users/me/orders", headers=self.user.auth)

    @task(1)
    def done(self):
        self.interrupt()


class ShopUser(FastHttpUser):
    wait_time = constant(0)
    tasks = {Browse: 4, Account: 1}
    auth = {}
