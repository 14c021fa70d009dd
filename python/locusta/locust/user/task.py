"""Tasks and TaskSets (``locust.user.task``): ``@task``, ``@tag``, ``TaskSet`` and the loop that
picks a task, runs it and waits, with Locust's handling of the control-flow exceptions."""

import logging
import random
import traceback
from time import perf_counter, time
from types import FunctionType

import gevent
from gevent import GreenletExit

from ... import _runtime
from . import resting
from ..exception import (
    InterruptTaskSet,
    LocustError,
    MissingWaitTimeError,
    RescheduleTask,
    RescheduleTaskImmediately,
    StopTest,
    StopUser,
)

logger = logging.getLogger(__name__)

LOCUST_STATE_RUNNING, LOCUST_STATE_WAITING, LOCUST_STATE_STOPPING = ["running", "waiting", "stopping"]


def task(weight=1):
    """Marks a method (or an inline TaskSet class) as a task, ``@task`` or ``@task(weight)``."""

    def decorator_func(func):
        if func.__name__ in ("on_stop", "on_start"):
            logging.warning(
                "You have tagged your on_stop/start function with @task. This will make the method "
                "get called both as a task AND on stop/start."
            )
        if func.__name__ == "run":
            raise Exception(
                "User.run() is a method used internally by Locust, and you must not override it or "
                "register it as a task"
            )
        func.locust_task_weight = weight
        return func

    if callable(weight):
        func, weight = weight, 1
        return decorator_func(func)
    return decorator_func


def tag(*tags):
    """Tags a task or TaskSet, for ``--tags`` / ``--exclude-tags``."""

    def decorator_func(decorated):
        if hasattr(decorated, "tasks"):
            decorated.tasks = list(map(tag(*tags), decorated.tasks))
        else:
            if "locust_tag_set" not in decorated.__dict__:
                decorated.locust_tag_set = set()
            decorated.locust_tag_set |= set(tags)
        return decorated

    if len(tags) == 0 or callable(tags[0]):
        raise ValueError("No tag name was supplied")
    return decorator_func


def get_tasks_from_base_classes(bases, class_dict):
    """The flat task list of a class: base classes' tasks, then ``tasks`` (list, dict or
    (task, weight) tuples), then ``@task`` methods, each repeated by its weight."""
    new_tasks = []
    for base in bases:
        if getattr(base, "tasks", None):
            new_tasks += base.tasks
    if class_dict.get("tasks") is not None:
        tasks = class_dict["tasks"]
        if isinstance(tasks, dict):
            tasks = tasks.items()
        for t in tasks:
            if isinstance(t, tuple):
                t, count = t
                new_tasks.extend([t] * count)
            else:
                new_tasks.append(t)
    for item in class_dict.values():
        if "locust_task_weight" in dir(item):
            new_tasks.extend([item] * item.locust_task_weight)
    return new_tasks


def filter_tasks_by_tags(task_holder, tags=None, exclude_tags=None, checked=None):
    """Removes tasks not selected by the tags, recursively (Locust's rule)."""
    new_tasks = []
    if checked is None:
        checked = {}
    for t in task_holder.tasks:
        if t in checked:
            if checked[t]:
                new_tasks.append(t)
            continue
        passing = True
        if hasattr(t, "tasks"):
            filter_tasks_by_tags(t, tags, exclude_tags, checked)
            passing = len(t.tasks) > 0
        else:
            if tags is not None:
                passing &= "locust_tag_set" in dir(t) and len(t.locust_tag_set & tags) > 0
            if exclude_tags is not None:
                passing &= "locust_tag_set" not in dir(t) or len(t.locust_tag_set & exclude_tags) == 0
        if passing:
            new_tasks.append(t)
        checked[t] = passing
    task_holder.tasks = new_tasks
    if not new_tasks:
        logging.warning(f"{task_holder.__name__} had no tasks left after filtering, instantiating it will fail!")


class _TaskQueue(list):
    """A TaskSet's queue of scheduled tasks with the part of ``deque``'s interface TaskSets use:
    a list is 64 bytes where an empty deque is 770 (one per user), and the queue holds at most a
    task or two."""

    __slots__ = ()

    def appendleft(self, task):
        self.insert(0, task)

    def popleft(self):
        return self.pop(0)


class TaskSetMeta(type):
    """Builds ``tasks`` of a TaskSet class from its declarations."""

    def __new__(mcs, classname, bases, class_dict):
        class_dict["tasks"] = get_tasks_from_base_classes(bases, class_dict)
        return type.__new__(mcs, classname, bases, class_dict)


class TaskSet(metaclass=TaskSetMeta):
    """A group of tasks a user runs until ``interrupt()``; may be nested."""

    tasks = []
    min_wait = None
    max_wait = None
    wait_function = None
    # resting (resting.py): started by a loop that can resume this one; the nested TaskSet this
    # one's loop is resting in
    _in_rest_chain = False
    _resting_child = None
    _rested_in_handler = False

    def __init__(self, parent):
        self._task_queue = _TaskQueue()
        self._time_start = time()
        self._user = parent.user if isinstance(parent, TaskSet) else parent
        self._parent = parent
        if not self.min_wait:
            self.min_wait = self.user.min_wait
        if not self.max_wait:
            self.max_wait = self.user.max_wait
        if not self.wait_function:
            self.wait_function = self.user.wait_function
        self._cp_last_run = perf_counter()
        self._cp_last_wait_time = 0

    @property
    def user(self):
        """The User instance running this TaskSet."""
        return self._user

    @property
    def parent(self):
        """The parent TaskSet, or the User for a top-level TaskSet."""
        return self._parent

    def on_start(self):
        """Called when the user starts running this TaskSet."""

    def on_stop(self):
        """Called when the user leaves this TaskSet (interrupt or stop)."""

    def run(self):
        try:
            self.on_start()
        except InterruptTaskSet as e:
            if e.reschedule:
                raise RescheduleTaskImmediately(e.reschedule).with_traceback(e.__traceback__)
            raise RescheduleTask(e.reschedule).with_traceback(e.__traceback__)
        return self._loop(None)

    def _loop(self, resumed):
        """Picks, runs and waits, until an exception ends it. Returns only for a user that rests
        through a wait (see resting.py): the seconds to rest; ``_loop(resting.WOKEN)`` then
        carries on after the wait, ``_loop(resting.KILLED)`` stops as a user killed in its wait.

        The wait may be this TaskSet's or a nested TaskSet's this loop started: the nested one
        is kept in ``_resting_child`` and resumed in its place, inside the same handlers as the
        task that started it, so its ``interrupt()`` and exceptions reach this loop as before."""
        # With Locust's own schedule_task / execute_next_task, a task picked for an empty queue
        # runs at once instead of through the queue: the same order, two calls fewer per run.
        cls = type(self)
        direct = cls.schedule_task is TaskSet.schedule_task and cls.execute_next_task is TaskSet.execute_next_task
        # A User's own tasks (the root TaskSet) that are plain functions are picked and called
        # here, as DefaultTaskSet.get_next_task and execute_task would, without the two calls.
        user_tasks = direct and cls is DefaultTaskSet
        user = self._user
        queue = self._task_queue
        # A wait can rest when every loop under it can be resumed: the root TaskSet, or a nested
        # one started by such a loop as Locust's execute_task would (a nested loop called from
        # a task's own code keeps its caller's frames, so it sleeps).
        may_rest = (
            user._rests
            and (self._in_rest_chain or self is user._taskset_instance)
            and cls.wait is TaskSet.wait
            and cls._sleep is TaskSet._sleep
        )
        # nested TaskSets are started here (to be resumable) only where execute_task is Locust's
        nests = may_rest and direct and cls.execute_task is (DefaultTaskSet.execute_task if user_tasks else TaskSet.execute_task)
        while True:
            if resumed is not None and self._rested_in_handler:
                # The wait was the one after a task's exception (in the handler below): what it
                # raises (a kill, StopUser) leaves this loop without on_stop, as in Locust.
                how, resumed = resumed, None
                self._rested_in_handler = False
                if how == resting.KILLED:
                    raise GreenletExit()
                self._after_wait()
            try:
                child = None
                if resumed is not None:
                    how, resumed = resumed, None
                    child, self._resting_child = self._resting_child, None
                    if child is None:
                        if how == resting.KILLED:
                            raise GreenletExit()
                        self._after_wait()
                        continue
                task = None
                if child is not None:
                    pass
                elif queue or not direct:
                    if not queue:
                        self.schedule_task(self.get_next_task())
                elif user_tasks:
                    tasks = user.tasks
                    task = tasks[0] if len(tasks) == 1 else self.get_next_task()
                else:
                    task = self.get_next_task()
                try:
                    if child is not None:
                        rest = child._loop(how)
                        if rest is not None:
                            self._resting_child = child
                            return rest
                    elif user._state == LOCUST_STATE_STOPPING:
                        raise StopUser()
                    elif task is None:
                        self.execute_next_task()
                    elif user_tasks and type(task) is FunctionType:
                        task(user)
                    elif nests and isinstance(task, type) and issubclass(task, TaskSet) and task.run is TaskSet.run:
                        child = task(user if user_tasks else self)
                        child._in_rest_chain = True
                        rest = child.run()
                        if rest is not None:
                            self._resting_child = child
                            return rest
                    else:
                        self.execute_task(task)
                except RescheduleTaskImmediately:
                    continue
                except RescheduleTask:
                    pass
                if may_rest:
                    rest = self._wait(True)
                    if rest is not None:
                        return rest
                else:
                    self.wait()
            except InterruptTaskSet as e:
                try:
                    self.on_stop()
                except (StopUser, StopTest, GreenletExit):
                    raise
                except Exception:
                    logging.error("Uncaught exception in on_stop: \n%s", traceback.format_exc())
                if e.reschedule:
                    raise RescheduleTaskImmediately(e.reschedule) from e
                raise RescheduleTask(e.reschedule) from e
            except (StopUser, StopTest, GreenletExit):
                try:
                    self.on_stop()
                except Exception:
                    logging.error("Uncaught exception in on_stop: \n%s", traceback.format_exc())
                raise
            except Exception as e:
                env = self.user.environment
                env.events.user_error.fire(user_instance=self, exception=e, tb=e.__traceback__)
                if env.catch_exceptions:
                    tb = traceback.format_exc()
                    logger.error("%s\n%s", e, tb)
                    env._log_exception(e, tb)
                    if may_rest:
                        rest = self._wait(True)
                        if rest is not None:
                            self._rested_in_handler = True
                            return rest
                    else:
                        self.wait()
                else:
                    raise

    def execute_next_task(self):
        self.execute_task(self._task_queue.popleft())

    def execute_task(self, task):
        if hasattr(task, "__self__") and task.__self__ == self:
            task()
        elif hasattr(task, "tasks") and issubclass(task, TaskSet):
            task(self).run()
        else:
            task(self)

    def schedule_task(self, task_callable, first=False):
        """Queues a task to run next (``first=True``) or after the queued ones."""
        if first:
            self._task_queue.appendleft(task_callable)
        else:
            self._task_queue.append(task_callable)

    def get_next_task(self):
        if not self.tasks:
            extra = (
                ", but you have set a 'task' attribute - maybe you meant to set 'tasks'?"
                if getattr(self, "task", None)
                else "."
            )
            raise Exception(
                f"No tasks defined on {self.__class__.__name__}{extra} use the @task decorator or set "
                "the 'tasks' attribute of the TaskSet"
            )
        return random.choice(self.tasks)

    def wait_time(self):
        """Seconds to wait after a task: the user's wait_time unless this TaskSet sets one."""
        user = self._user
        if user.wait_time:
            return user.wait_time()
        if self.min_wait is not None and self.max_wait is not None:
            return random.randint(self.min_wait, self.max_wait) / 1000.0
        raise MissingWaitTimeError(
            "You must define a wait_time method on either the "
            f"{type(self.user).__name__} or {type(self).__name__} class"
        )

    def wait(self):
        """Sleeps for ``wait_time()``; a stopping user ends here.

        A zero wait after a task that already yielded to the hub (it made a request) does not
        yield again: gevent.sleep(0) would only add a round trip through the hub."""
        self._wait(False)

    def _wait(self, may_rest):
        """``wait()``; for a user that ``may_rest`` (resting.py), a wait long enough to rest is
        returned instead of slept (the loop then ends and the user rests without its greenlet)."""
        user = self._user
        if user._state == LOCUST_STATE_STOPPING:
            raise StopUser()
        user._state = LOCUST_STATE_WAITING
        model = _runtime.open_model
        if model is not None:
            self._wait_for_slot(model)
        else:
            wait_time = user.wait_time
            if wait_time and type(self).wait_time is _TASKSET_WAIT_TIME:
                seconds = wait_time()  # TaskSet.wait_time's common case, one call less
            else:
                seconds = self.wait_time()
            if may_rest and type(seconds) in (float, int) and seconds >= resting.REST_AFTER and user._may_rest_now():
                return seconds
            if seconds or not user._yielded:
                self._sleep(seconds)
        self._after_wait()
        return None

    def _after_wait(self):
        user = self._user
        user._yielded = False
        if user._state == LOCUST_STATE_STOPPING:
            raise StopUser()
        user._state = LOCUST_STATE_RUNNING

    def _sleep(self, seconds):
        gevent.sleep(seconds)

    def _wait_for_slot(self, model):
        """Open model (``--arrival-rate``): sleeps until the next due slot instead of the wait
        time; the slot's start delay is added to the response times of the next iteration."""
        user = self._user
        while True:
            claimed = model.claim()
            if claimed is not None:
                break
            # The rate is zero, or the next slot is not claimable yet: the users that finish an
            # iteration claim the slots as they come, so a free greenlet need not poll often.
            gevent.sleep(0.1)
            if user._state == LOCUST_STATE_STOPPING:
                raise StopUser()
        slot, delay = claimed
        if delay > 0:
            gevent.sleep(delay)
        lag = model.started(slot)
        # read by clients that record in Python (WebSocketUser's connections)
        user._schedule_lag = lag
        core = getattr(getattr(user, "client", None), "_core", None)
        if core is not None:
            core.set_schedule_lag(lag)

    def interrupt(self, reschedule=True):
        """Returns control to the parent TaskSet (at once if ``reschedule``)."""
        raise InterruptTaskSet(reschedule)

    @property
    def client(self):
        """The user's client."""
        return self.user.client


_TASKSET_WAIT_TIME = TaskSet.wait_time


class DefaultTaskSet(TaskSet):
    """The root TaskSet that runs the User's own ``tasks`` with the user as argument."""

    def get_next_task(self):
        tasks = self._user.tasks
        if not tasks:
            extra = (
                ", but you have set a 'task' attribute on your class - maybe you meant to set 'tasks'?"
                if getattr(self.user, "task", None)
                else "."
            )
            raise Exception(
                f"No tasks defined on {self.user.__class__.__name__}{extra} Use the @task decorator or set "
                "the 'tasks' attribute of the User (or mark it as abstract = True if you only intend to "
                "subclass it)"
            )
        return tasks[0] if len(tasks) == 1 else random.choice(tasks)

    def execute_task(self, task):
        # the same test as Locust's hasattr(task, "tasks") and issubclass(...), cheaper for
        # the common case (a function)
        if isinstance(task, type) and issubclass(task, TaskSet):
            task(self._user).run()
        else:
            task(self._user)


class SequentialTaskSetMeta(TaskSetMeta):
    """Keeps declaration order (``tasks`` list and ``@task`` methods, weight = repeats)."""

    def __new__(mcs, classname, bases, class_dict):
        new_tasks = []
        for base in bases:
            if getattr(base, "tasks", None):
                new_tasks += base.tasks
        for key, value in class_dict.items():
            if key == "tasks":
                if isinstance(value, tuple):
                    value = list(value)
                if isinstance(value, list):
                    for t in value:
                        if isinstance(t, tuple):
                            t, count = t
                            new_tasks.extend([t] * count)
                        else:
                            new_tasks.append(t)
                elif isinstance(value, dict):
                    for t, weight in value.items():
                        new_tasks.extend([t] * weight)
                else:
                    raise ValueError("The 'tasks' attribute can only be set to list or dict")
            if "locust_task_weight" in dir(value):
                new_tasks.extend([value] * value.locust_task_weight)
        class_dict["tasks"] = new_tasks
        return type.__new__(mcs, classname, bases, class_dict)


class SequentialTaskSet(TaskSet, metaclass=SequentialTaskSetMeta):
    """Runs its tasks in declaration order, cycling."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._task_index = 0

    def get_next_task(self):
        if not self.tasks:
            raise LocustError(
                "No tasks defined. Use the @task decorator or set the 'tasks' attribute of the SequentialTaskSet"
            )
        t = self.tasks[self._task_index % len(self.tasks)]
        self._task_index += 1
        return t
