"""A pytest-style locustfile (Locust 2.40+): no User classes; each test_* function runs as a
user class of its own name with the session or fastsession fixture. Named so that our own
test suite does not collect it; it is given to pytest and locusta explicitly."""

import pytest


@pytest.fixture
def api(user=None):
    """A fixture of the file's own: called with the user, as Locust calls fixtures (so only
    for load tests)."""
    from locust.clients import HttpSession

    yield HttpSession(base_url=user.host, request_event=user.environment.events.request, user=user)


def test_home(session):
    session.get("/")


def test_missing(fastsession):
    fastsession.get("/does-not-exist")


def test_checked(api):
    with api.get("/", name="checked", catch_response=True) as r:
        if r.status_code != 200:
            r.failure(f"status {r.status_code}")
