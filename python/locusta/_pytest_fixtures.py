"""The ``session`` and ``fastsession`` fixtures of pytest-style locustfiles and the ``--host``/
``-H`` option that points them at a server: given to pytest by ``locusta -f`` when it collects
such a file (``locust.user.pytest_user``), and by the ``locusta`` pytest plugin
(``locusta.pytest_plugin``) to plain ``pytest`` runs.

Imports stay lazy: loading this module in any pytest session costs nothing and patches nothing."""

import pytest

_config = None


def pytest_configure(config):
    global _config
    _config = config


def pytest_addoption(parser):
    try:
        parser.addoption("--host", "-H", action="store", default=None,
                         help="base URL for the session and fastsession fixtures (locusta)")
    except ValueError as e:  # another plugin (Locust's) added it already
        if "already added" not in str(e):
            raise


def _base_url(user):
    if user is not None:
        return user.host
    host = _config.getoption("--host") if _config is not None else None
    if not host:
        raise pytest.UsageError("the session and fastsession fixtures need a base URL: pass --host http://...")
    return host


def _event(user):
    """The user's request event; none outside a load test (nothing is recorded)."""
    return user.environment.events.request if user is not None else None


@pytest.fixture
def session(user=None):
    """An ``HttpSession`` for the test (its user's, under locusta)."""
    from .locust.clients import HttpSession

    s = HttpSession(base_url=_base_url(user), request_event=_event(user), user=user)
    yield s
    s.close()


@pytest.fixture
def fastsession(user=None):
    """A ``FastHttpSession`` for the test (its user's, under locusta)."""
    from .locust.contrib.fasthttp import FastHttpSession

    yield FastHttpSession(base_url=_base_url(user), request_event=_event(user), user=user)
