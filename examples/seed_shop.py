# Seed example (docs seed 002, "Building a realistic load test"), verbatim.
# locustfile.py
from locust import HttpUser, task, between, tag

class WebsiteUser(HttpUser):
    """Simulates a typical e-commerce browsing session."""
    wait_time = between(1, 5)  # 1-5 seconds between actions
    
    def on_start(self):
        """Login when the user starts."""
        response = self.client.post("/api/auth/login", json={
            "email": "loadtest@example.com",
            "password": "test-password-123",
        })
        self.token = response.json().get("token", "")
        self.client.headers.update({"Authorization": f"Bearer {self.token}"})
    
    @tag("browse")
    @task(5)  # 5x more likely than other tasks
    def browse_products(self):
        self.client.get("/api/products?page=1&limit=20")
    
    @tag("browse")
    @task(3)
    def view_product_detail(self):
        product_id = self._random_product_id()
        self.client.get(f"/api/products/{product_id}")
    
    @tag("purchase")
    @task(1)
    def add_to_cart(self):
        product_id = self._random_product_id()
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
    
    def _random_product_id(self) -> int:
        import random
        return random.randint(1, 1000)
