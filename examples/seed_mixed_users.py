# Seed example (docs seed 002, "Custom user types for mixed workloads"), verbatim.
from locust import HttpUser, task, between, constant

class APIConsumer(HttpUser):
    """Simulates backend-to-backend API calls."""
    wait_time = constant(0.1)  # API clients are fast
    weight = 3  # 3x more API consumers than admin users
    
    @task
    def fetch_data(self):
        self.client.get("/api/v1/data/export", 
                       headers={"X-API-Key": "test-key"})

class AdminUser(HttpUser):
    """Simulates admin dashboard usage."""
    wait_time = between(3, 10)  # Admins read dashboards slowly
    weight = 1
    
    @task(3)
    def view_dashboard(self):
        self.client.get("/admin/dashboard")
    
    @task(1)
    def generate_report(self):
        self.client.post("/admin/reports/generate", json={
            "type": "monthly",
            "format": "csv",
        })

class MobileUser(HttpUser):
    """Simulates mobile app API calls."""
    wait_time = between(2, 8)
    weight = 6  # Most traffic comes from mobile
    
    def on_start(self):
        self.client.headers.update({
            "User-Agent": "MyApp/2.1 (iOS 17.4)",
            "Accept": "application/json",
        })
    
    @task
    def sync_feed(self):
        self.client.get("/api/mobile/feed?since=2026-03-01")
