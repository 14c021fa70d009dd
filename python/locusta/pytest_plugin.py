"""pytest plugin (entry point ``pytest11: locusta``): the ``session`` / ``fastsession`` fixtures
and ``--host`` for plain ``pytest`` runs of pytest-style locustfiles, as Locust's own plugin
gives them.

Where Locust is installed too, its plugin already provides them (and Locust refuses a fixture
defined twice), so this one then adds nothing: pytest and ``locust -f`` use Locust's, and
``locusta -f`` hands pytest its own fixtures explicitly."""

import importlib.util

if importlib.util.find_spec("pytest_locust") is None:
    from ._pytest_fixtures import fastsession, pytest_addoption, pytest_configure, session  # noqa: F401
