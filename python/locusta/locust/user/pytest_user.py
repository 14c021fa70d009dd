"""pytest-style locustfiles (Locust 2.40+): a file without User classes whose ``test_*``
functions take fixtures such as ``session`` or ``fastsession`` runs each test function as a user
class of its own name, calling the function over and over with its fixture's value.

Collection uses pytest itself (its fixtures come from ``locusta._pytest_fixtures``, from the
file and from its ``conftest.py``), so the same file also runs under plain ``pytest`` as a
functional test. As in Locust, each fixture function is called with the user as its argument
and its first yielded value is what the test function gets."""

import contextlib
import io
import logging
import traceback

import gevent

from ..clients import RequestException
from ..exception import CatchResponseError
from .users import LOCUST_STATE_RUNNING, User

logger = logging.getLogger(__name__)


class PytestUser(User):
    """A user that runs pytest test functions (``functions``) with their fixtures."""

    abstract = True
    functions = []

    def run(self):
        self._state = LOCUST_STATE_RUNNING
        self.fixtures = [_first_value(f.locusta_fixture(self)) for f in self.functions]
        while True:
            self._yielded = False
            for function, value in zip(self.functions, self.fixtures):
                try:
                    function.obj(value)
                except RequestException as e:
                    if isinstance(e, ValueError):  # MissingSchema and friends: a broken test
                        raise
                    logger.debug("%s\n%s", e, traceback.format_exc())
                except (CatchResponseError, ConnectionError) as e:
                    logger.debug("%s\n%s", e, traceback.format_exc())
            if not self._yielded:
                gevent.sleep(0)  # a test that made no request must not starve the other users


def _first_value(value):
    """A generator fixture's first yield; a plain fixture's return value."""
    if hasattr(value, "__next__"):
        return next(value)
    return value


class PytestLocustfileError(Exception):
    """A pytest-style locustfile that cannot run (the message says why)."""


def load(path):
    """The user classes of a pytest-style locustfile: one per test function name."""
    try:
        import pytest
    except ImportError:
        raise PytestLocustfileError(
            f"{path} has no User classes, and pytest (needed to run its test_* functions as users) "
            "is not installed: pip install pytest"
        ) from None

    from ... import _pytest_fixtures

    collector = _Collector()
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        # Our fixtures, given explicitly; the installed plugins that would define them again
        # (Locust's, and our entry point) stay out.
        code = pytest.main(
            ["--collect-only", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:locust", "-p", "no:locusta", path],
            plugins=[collector, _pytest_fixtures],
        )
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise PytestLocustfileError(f"pytest could not collect {path}:\n{quiet.getvalue().strip()}")
    classes = {}
    for item in collector.items:
        if not isinstance(item, pytest.Function):
            continue
        item.locusta_fixture = _fixture_of(item)
        cls = classes.get(item.name)
        if cls is None:
            cls = classes[item.name] = type(item.name, (PytestUser,), {"functions": [], "__module__": item.module.__name__})
        cls.functions.append(item)
    return classes


class _Collector:
    """A pytest plugin that keeps the collected items."""

    def __init__(self):
        self.items = []

    def pytest_collection_modifyitems(self, session, config, items):
        self.items = list(items)


def _fixture_of(item):
    """The fixture function that gives ``item``'s test function its argument."""
    import inspect

    params = list(inspect.signature(item.obj).parameters)
    if len(params) != 1:
        raise PytestLocustfileError(
            f"{item.nodeid}: a test function run as a user takes exactly one fixture (such as "
            f"session or fastsession), not {len(params)}"
        )
    definitions = item._fixtureinfo.name2fixturedefs.get(params[0])
    if not definitions:
        raise PytestLocustfileError(f"{item.nodeid}: no fixture named {params[0]!r}")
    return definitions[-1].func  # the closest definition wins, as in pytest
