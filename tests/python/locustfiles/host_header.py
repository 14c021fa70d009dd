"""A Host header of the user's own (a virtual host on an address): the request's, then (HttpUser)
the session's. Each request fails unless the target saw exactly that one Host."""

from locust import FastHttpUser, HttpUser, constant, task
from locust.exception import StopUser


def check(user, session_headers):
    for name, headers in (("request host", {"Host": "shop.example"}), ("plain", None)):
        with user.client.get("/_test/echo", headers=headers, name=name, catch_response=True) as resp:
            want = "shop.example" if headers else user.host.split("//", 1)[1]
            seen = resp.json()["headers"].get("host")
            if seen != want:
                resp.failure(f"Host {seen!r}, wanted {want!r}")
    if not session_headers:  # FastHttpSession has no `headers` (default_headers instead)
        raise StopUser()
    user.client.headers["Host"] = "session.example"
    with user.client.get("/_test/echo", name="session host", catch_response=True) as resp:
        seen = resp.json()["headers"].get("host")
        if seen != "session.example":
            resp.failure(f"Host {seen!r}, wanted 'session.example'")
    raise StopUser()


class HostHttpUser(HttpUser):
    wait_time = constant(0)

    @task
    def hosts(self):
        check(self, session_headers=True)


class HostFastHttpUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def hosts(self):
        check(self, session_headers=False)
