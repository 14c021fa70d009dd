# Twin of shop_endpoints.py for FastHttpUser: a shop API with many endpoints (34 tasks, 32 names): GET with
# params= and name= for templated URLs, json= POST/PUT, DELETE, a few HTML pages.
import random

from locust import FastHttpUser, constant, task

SORTS = ["price", "-price", "name", "rating"]
WORDS = ["shoe", "lamp", "desk", "chair", "mug", "sock", "bag"]


def pid():
    return random.randint(1, 1000)


class ShopApiUser(FastHttpUser):
    wait_time = constant(0)

    # HTML pages
    @task(3)
    def home(self):
        self.client.get("/home")

    @task(1)
    def about(self):
        self.client.get("/about")

    @task(1)
    def help(self):
        self.client.get("/help")

    @task(1)
    def contact(self):
        self.client.get("/contact")

    # catalogue
    @task(8)
    def products(self):
        self.client.get("/api/products", params={"page": random.randint(1, 10), "limit": 20,
                                                 "sort": random.choice(SORTS)})

    @task(6)
    def product(self):
        self.client.get(f"/api/products/{pid()}", name="/api/products/[id]")

    @task(2)
    def reviews(self):
        self.client.get(f"/api/products/{pid()}/reviews", params={"page": 1},
                        name="/api/products/[id]/reviews")

    @task(2)
    def related(self):
        self.client.get(f"/api/products/{pid()}/related", name="/api/products/[id]/related")

    @task(1)
    def inventory(self):
        self.client.get(f"/api/products/{pid()}/inventory", name="/api/products/[id]/inventory")

    @task(2)
    def categories(self):
        self.client.get("/api/categories")

    @task(2)
    def category(self):
        self.client.get(f"/api/categories/{random.randint(1, 40)}", name="/api/categories/[id]")

    @task(3)
    def category_products(self):
        self.client.get(f"/api/categories/{random.randint(1, 40)}/products",
                        params={"page": random.randint(1, 5), "limit": 20},
                        name="/api/categories/[id]/products")

    @task(4)
    def search(self):
        self.client.get("/api/search", params={"q": random.choice(WORDS), "page": 1})

    @task(3)
    def suggest(self):
        self.client.get("/api/search/suggest", params={"q": random.choice(WORDS)[:2]})

    @task(2)
    def recommendations(self):
        self.client.get("/api/recommendations", params={"limit": 8})

    @task(1)
    def promotions(self):
        self.client.get("/api/promotions")

    @task(1)
    def stores(self):
        self.client.get("/api/stores", params={"lat": 52.37, "lon": 4.89, "radius": 25})

    @task(1)
    def shipping_options(self):
        self.client.get("/api/shipping/options", params={"country": "NL"})

    # account
    @task(2)
    def me(self):
        self.client.get("/api/users/me")

    @task(1)
    def my_orders(self):
        self.client.get("/api/users/me/orders", params={"page": 1})

    @task(1)
    def order(self):
        self.client.get(f"/api/orders/{random.randint(1, 100000)}", name="/api/orders/[id]")

    @task(1)
    def addresses(self):
        self.client.get("/api/users/me/addresses")

    @task(1)
    def payment_methods(self):
        self.client.get("/api/users/me/payment-methods")

    # cart and wishlist
    @task(2)
    def cart(self):
        self.client.get("/api/cart")

    @task(2)
    def add_to_cart(self):
        self.client.post("/api/cart/items", json={"product_id": pid(), "quantity": 1})

    @task(1)
    def update_cart_item(self):
        self.client.put(f"/api/cart/items/{pid()}", json={"quantity": random.randint(1, 5)},
                        name="/api/cart/items/[id]")

    @task(1)
    def remove_cart_item(self):
        self.client.delete(f"/api/cart/items/{pid()}", name="/api/cart/items/[id]")

    @task(1)
    def wishlist(self):
        self.client.get("/api/wishlist")

    @task(1)
    def add_to_wishlist(self):
        self.client.post("/api/wishlist", json={"product_id": pid()})

    @task(1)
    def remove_from_wishlist(self):
        self.client.delete(f"/api/wishlist/{pid()}", name="/api/wishlist/[id]")

    # checkout helpers and analytics
    @task(1)
    def shipping_quote(self):
        self.client.post("/api/shipping/quote", json={"country": "NL", "items": [{"product_id": pid(), "quantity": 2}]})

    @task(1)
    def validate_coupon(self):
        self.client.post("/api/coupons/validate", json={"code": "WELCOME10"})

    @task(3)
    def track(self):
        self.client.post("/api/events", json={"type": "view", "product_id": pid(), "ts": 1700000000})

    @task(1)
    def checkout(self):
        self.client.post("/api/orders", json={"payment_method": "test"})
