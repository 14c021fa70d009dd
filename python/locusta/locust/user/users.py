"""User classes (``locust.user.users``): ``User`` and ``HttpUser``."""

import logging
import re
import time
import traceback
import warnings
from contextlib import contextmanager
from json.decoder import JSONDecodeError

from gevent import GreenletExit, getcurrent

from ... import _runtime
from ..clients import HttpSession, RestResponseContextManager  # noqa: F401
from ..exception import StopTest, StopUser
from . import resting
from .task import (
    LOCUST_STATE_RUNNING,
    LOCUST_STATE_STOPPING,
    LOCUST_STATE_WAITING,
    DefaultTaskSet,
    TaskSet,
    get_tasks_from_base_classes,
)
from .wait_time import constant

logger = logging.getLogger(__name__)


def _check_task_set_attribute(class_dict):
    if "task_set" in class_dict:
        task_set = class_dict["task_set"]
        if isinstance(task_set, type) and issubclass(task_set, TaskSet) and not hasattr(task_set, "locust_task_weight"):
            warnings.warn(
                "Usage of User.task_set is deprecated since version 1.0. Set the tasks attribute instead "
                f"(tasks = [{task_set.__name__}])",
                DeprecationWarning,
            )


class UserMeta(type):
    """Builds ``tasks`` from the declarations and marks subclasses non-abstract by default."""

    def __new__(mcs, classname, bases, class_dict):
        class_dict["tasks"] = get_tasks_from_base_classes(bases, class_dict)
        if not class_dict.get("abstract"):
            class_dict["abstract"] = False
        _check_task_set_attribute(class_dict)
        return type.__new__(mcs, classname, bases, class_dict)


class User(metaclass=UserMeta):
    """A simulated user: runs its tasks, waiting ``wait_time()`` seconds after each."""

    host = None
    min_wait = None
    max_wait = None
    wait_time = constant(0)
    wait_function = None
    tasks = []
    weight = 1
    fixed_count = 0
    abstract = True
    #: Set by the HTTP clients when the user parked on a request since its last wait.
    _yielded = False

    def __init__(self, environment):
        super().__init__()
        self.environment = environment
        self._state = None
        self._greenlet = None
        self._group = None
        # Resting between tasks without a greenlet (resting.py): allowed for this user, pinned
        # to one greenlet (its greenlet was asked for), and the rest in progress.
        self._rests = False
        self._pinned = False
        self._rest_timer = None
        self._rest_until = 0.0
        self._rest_context = None
        self._taskset_instance = None
        self._cp_last_run = time.perf_counter()
        self._cp_last_wait_time = 0

    def on_start(self):
        """Called when the user starts running."""

    def on_stop(self):
        """Called when the user stops running."""

    def run(self):
        self._state = LOCUST_STATE_RUNNING
        self._taskset_instance = DefaultTaskSet(self)
        rest = None
        try:
            try:
                self.on_start()
            except Exception as e:
                tb = traceback.format_exc()
                logger.error("%s\n%s", e, tb)
                if not isinstance(e, (StopUser, StopTest)):
                    self.environment.events.user_error.fire(user_instance=self, exception=e, tb=e.__traceback__)
                    self.environment._log_exception(e, tb)
                raise
            if _runtime.open_model is not None:
                # Open model: the first iteration waits for its slot too.
                self._taskset_instance._wait_for_slot(_runtime.open_model)
            rest = self._taskset_instance.run()
            return rest
        except (GreenletExit, StopUser, StopTest):
            self.on_stop()
        finally:
            if rest is None:
                self._ended()

    def _resume(self, how):
        """Carries on after a rest (resting.py) where ``run()`` left off: its root TaskSet's loop,
        then ``on_stop`` as ``run()`` would. Returns the seconds of the next rest, if any."""
        rest = None
        try:
            rest = self._taskset_instance._loop(how)
            return rest
        except (GreenletExit, StopUser, StopTest):
            self.on_stop()
        finally:
            if rest is None:
                self._ended()

    def _ended(self):
        """Called once the user's run is over for good (after ``on_stop``, if it ran), however
        it ended; not when it only rests. For the users that hold resources to release then."""

    def _may_rest_now(self):
        """Whether the user may end its greenlet for the wait now: it runs in its own greenlet
        (not a caller's), nobody holds that greenlet, and no greenlet-local values would be lost."""
        greenlet = self._greenlet
        return not self._pinned and getcurrent() is greenlet and not resting.holds_greenlet_locals(greenlet)

    def _alive(self):
        """Started and not ended: running, waiting or resting (reads no ``greenlet``, which would
        pin the user)."""
        if self._rest_timer is not None:
            return True
        return self._greenlet is not None and not self._greenlet.dead

    def wait(self):
        """Sleeps for the wait time (a stopping user ends here)."""
        self._taskset_instance.wait()

    def start(self, group):
        """Starts the user's greenlet in ``group``."""

        def run_user(user):
            user.run()

        self._rests = resting.ENABLED and isinstance(group, resting.UserGroup) and type(self).run is User.run
        if self._rests:
            self._greenlet = group.spawn(resting.run_started_user, group, self)
        else:
            self._greenlet = group.spawn(run_user, self)
        self._group = group
        return self._greenlet

    def stop(self, force=False):
        """Kills a waiting user at once; lets a running one finish its task (unless ``force``)."""
        if force or self._state in (None, LOCUST_STATE_WAITING):
            if self._rest_timer is not None:
                self._group.stop_resting(self).join()
            else:
                self._group.killone(self._greenlet)
            return True
        if self._state == LOCUST_STATE_RUNNING:
            self._state = LOCUST_STATE_STOPPING
            return False
        if self._state == LOCUST_STATE_STOPPING:
            return False
        raise Exception(f"Tried to stop User in an unexpected state: {self._state}. This should never happen.")

    @property
    def group(self):
        return self._group

    @property
    def greenlet(self):
        # Whoever asks for the greenlet may keep it (join, link, kill it): from now on the user
        # keeps one greenlet for its life, as in Locust, and a resting one wakes into it.
        if not self._pinned:
            self._pinned = True
            if self._rest_timer is not None:
                self._group.pin(self)
        return self._greenlet

    def context(self):
        """Extra ``context`` for this user's request events."""
        return {}

    @classmethod
    def json(cls):
        return {
            "host": cls.host,
            "weight": cls.weight,
            "fixed_count": cls.fixed_count,
            "tasks": [t.__name__ for t in cls.tasks],
        }

    @classmethod
    def fullname(cls):
        return ".".join(x for x in (cls.__module__ + "." + cls.__qualname__).split(".") if x != "<locals>")


class RestMixin:
    """``rest()`` and ``rest_()`` for users with an HTTP client."""

    _callstack_regex = re.compile(r'  File "(\/.[^"]*)", line (\d*),(.*)')

    @contextmanager
    def rest(self, method, url, headers=None, **kwargs):
        """A JSON request in a ``catch_response`` block: ``resp.js`` is the parsed body, a
        non-JSON body, an AssertionError or any exception in the block marks a failure."""
        headers = dict(headers) if headers else {}
        if not ("Content-Type" in headers or "content-type" in headers):
            headers["Content-Type"] = "application/json"
        if not ("Accept" in headers or "accept" in headers):
            headers["Accept"] = "application/json"
        with self.client.request(method, url, catch_response=True, headers=headers, **kwargs) as resp:
            resp.js = None
            if resp.content is None:
                resp.failure(str(resp.error))
            elif resp.text:
                try:
                    resp.js = resp.json()
                except JSONDecodeError as e:
                    resp.failure(
                        f"Could not parse response as JSON. {resp.text[:250]}, response code {resp.status_code}, error {e}"
                    )
            try:
                yield resp
            except AssertionError as e:
                if e.args:
                    if str(e.args[0]).endswith(","):
                        short = resp.text[:200] if resp.text else resp.text
                        resp.failure(f"{str(e.args[0])[:-1]}, response was {short}")
                    else:
                        resp.failure(e.args[0])
                else:
                    resp.failure("Assertion failed")
            except Exception as e:
                lines = []
                for line in traceback.format_exc().split("\n"):
                    m = self._callstack_regex.match(line)
                    if m:
                        filename = re.sub(r"/((home|Users)/\w*)/", "~/", m.group(1))
                        lines.append(filename + ":" + m.group(2) + m.group(3))
                short = resp.text[:200] if resp.text else resp.text
                resp.failure(f"{e.__class__.__name__}: {e} at {', '.join(lines)}. Response was {short}")

    @contextmanager
    def rest_(self, method, url, name=None, **kwargs):
        """``rest()`` with a cache-busting ``_=<ms timestamp>`` query parameter."""
        sep = "&" if "?" in url else "?"
        if name is None:
            name = url + sep + "_=..."
        with self.rest(method, f"{url}{sep}_={int(time.time() * 1000)}", name=name, **kwargs) as resp:
            yield resp


class HttpUser(User, RestMixin):
    """A user with ``self.client``, an HTTP session driven by the Rust engine."""

    abstract = True
    pool_manager = None
    #: HTTP/2 (a locusta addition): None follows ``--http2`` (off by default); True or
    #: "negotiate" offers h2 over TLS (ALPN); "prior-knowledge" also speaks h2c to http://.
    http2 = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.host is None:
            raise StopTest(
                "You must specify the base host. Either in the host attribute in the User class, "
                "or on the command line using the --host option."
            )
        self.client = HttpSession(
            base_url=self.host,
            request_event=self.environment.events.request,
            user=self,
            pool_manager=self.pool_manager,
            http2=self.http2,
        )
        self.client.trust_env = False


from .pytest_user import PytestUser  # noqa: E402,F401  (Locust's locust.user.users.PytestUser)
