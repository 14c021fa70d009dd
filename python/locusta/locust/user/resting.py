"""Resting users: a user waiting between two tasks holds no greenlet.

A parked greenlet costs about 8 KB (CPython gives every greenlet a data-stack chunk of its own,
and greenlet keeps the saved C stack), which is most of what 10,000 mostly-idle users cost. A
user whose next step is only "sleep, then carry on with its TaskSets' loops" keeps nothing in its
frames that its objects do not already hold (the loops' state is in the TaskSet objects, the
nested one being rested in kept by its parent), so its greenlet can leave it at the wait and a
pooled greenlet carry on when the wait is over. While it rests, the user is a timer in the
gevent loop and an entry in :class:`UserGroup`.

What Locust users can see is kept:

* ``runner.user_greenlets`` counts resting users (``len()``), ``join()`` waits for them and
  ``kill()`` stops them, running their ``on_stop`` as a killed greenlet would;
* the first read of ``user.greenlet`` pins the user: it keeps one greenlet for the rest of its
  life, as in Locust (a resting user wakes into that greenlet and sleeps what is left of its wait);
* the user's ``contextvars`` context goes with it from greenlet to greenlet; a user whose greenlet
  holds ``threading.local`` / ``gevent.local`` values (its tasks set some) never rests;
* only waits of at least :data:`REST_AFTER` seconds rest (shorter ones sleep as before, so fast
  users pay nothing). These sleep in their greenlet as before: users that override ``run``,
  TaskSets that override ``wait``, the TaskSets a TaskSet runs through its own
  ``execute_task``, ``schedule_task`` or ``execute_next_task`` or that a task runs itself
  (``MyTaskSet(self).run()``), the open model (``--arrival-rate``), users run outside a runner
  (``run_single_user``).

``LOCUSTA_USERS_REST=0`` turns resting off for the whole run.
"""

import os
import time

import gevent
from gevent import Greenlet, GreenletExit, getcurrent
from gevent.event import Event
from gevent.pool import Group

#: Waits shorter than this (seconds) are slept in the user's greenlet: a rest and a wake cost
#: ~4 µs more than a sleep (bench/resting_cost.py), nothing next to 0.1 s.
REST_AFTER = 0.1

#: ``LOCUSTA_USERS_REST=0`` keeps every user in its greenlet.
ENABLED = os.environ.get("LOCUSTA_USERS_REST", "1").strip().lower() not in ("0", "false", "no", "off")

# gevent.local (and threading.local once monkey-patched) keeps a greenlet's values under keys
# with this prefix in the greenlet's __dict__.
_LOCAL_KEY_PREFIX = "_gevent_local_localimpl_"

#: What a resumed user's loop does first: carry on after its wait, or stop as a killed user.
WOKEN, KILLED = "woken", "killed"


def holds_greenlet_locals(greenlet):
    """True when ``greenlet`` holds ``gevent.local`` / ``threading.local`` values, which would be
    lost if the user moved to another greenlet."""
    state = getattr(greenlet, "__dict__", None)
    if not state:
        return False
    return any(key.startswith(_LOCAL_KEY_PREFIX) for key in state)


class UserGroup(Group):
    """``runner.user_greenlets``: the running users' greenlets plus the users resting between
    two tasks, which count, are joined and are killed as if they still had their greenlets.

    A user wakes in one of a few idle greenlets kept for the purpose (one that has run a user
    before keeps its data-stack chunk: no new greenlet, no ``mmap``, per task); the pool holds
    as many as were ever running at once, at most :data:`MAX_IDLE`."""

    def __init__(self, *args):
        super().__init__(*args)
        self._resting = set()
        self._idle = []
        # set when a resting user wakes or stops, while someone join()s
        self._woke = Event()
        self._joining = 0

    def __len__(self):
        return len(self.greenlets) + len(self._resting)

    def rest(self, user, seconds):
        """Called in the user's greenlet as its run ends for a wait of ``seconds``: takes the
        greenlet out of the group and wakes the user in a pooled one when the time is up."""
        current = getcurrent()
        user._rest_context = current.gr_context
        self.discard(current)
        self._resting.add(user)
        timer = gevent.get_hub().loop.timer(seconds)
        user._rest_timer = timer
        user._rest_until = time.monotonic() + seconds
        timer.start(self._wake, user)

    def _wake(self, user):
        """Timer callback (in the hub): the user's next task starts at once, as a sleeping
        greenlet would be switched to."""
        self._end_rest(user)
        self._run_in_pool(user, WOKEN)

    def _run_in_pool(self, user, how):
        """Switches (from the hub) to an idle pooled greenlet, or a new one, running ``user``."""
        if self._idle:
            worker = self._idle.pop()
            self.add(worker)
            user._greenlet = worker
            worker.switch((user, how))
        else:
            worker = Greenlet(_pooled_worker, self, user, how)
            self.add(worker)
            user._greenlet = worker
            worker.switch()

    def _end_rest(self, user):
        timer = user._rest_timer
        user._rest_timer = None
        if timer is not None:
            timer.stop()
            timer.close()
        self._resting.discard(user)
        if self._joining:
            self._woke.set()

    def stop_resting(self, user):
        """Stops a resting user as a kill would: its ``on_stop`` runs in a greenlet of its own,
        returned (started, not yet run)."""
        self._end_rest(user)
        greenlet = Greenlet(_pooled_worker, None, user, KILLED)
        self.add(greenlet)
        user._greenlet = greenlet
        greenlet.start()
        return greenlet

    def pin(self, user):
        """A resting user whose greenlet is asked for: it gets one for good, sleeping what is
        left of its wait there."""
        left = max(0.0, user._rest_until - time.monotonic())
        self._end_rest(user)
        greenlet = Greenlet(_pinned_wake, user, left)
        self.add(greenlet)
        user._greenlet = greenlet
        greenlet.start()

    def kill(self, exception=GreenletExit, block=True, timeout=None):
        stopping = {self.stop_resting(user) for user in list(self._resting)}
        others = [g for g in self.greenlets if g not in stopping]
        gevent.killall(others, exception, block=False)
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill(block=False)
        if block:
            self.join(timeout)

    def join(self, timeout=None, raise_error=False):
        deadline = None if timeout is None else time.monotonic() + timeout
        self._joining += 1
        try:
            while True:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                self._woke.clear()
                if not super().join(left, raise_error):
                    return False
                if not self._resting:
                    return True
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not self._woke.wait(left):
                    return False
        finally:
            self._joining -= 1


#: Idle greenlets a :class:`UserGroup` keeps for waking users; more end when their user rests.
MAX_IDLE = 256


def run_started_user(group, user):
    """A started user's first greenlet (``User.start``): runs it, and when it rests, serves the
    pool as any woken user's greenlet would."""
    seconds = user.run()
    if seconds is None:
        return
    group.rest(user, seconds)
    job = _wait_idle(group)
    if job is not None:
        _pooled_worker(group, *job)


def _pooled_worker(group, user, how):
    """A pooled greenlet: runs a woken user until it rests again, then waits in the pool for the
    next one. It ends with a user that ends (stopped, killed, finished), so a kill of a running
    user ends its greenlet as in Locust; ``group`` None: run this one user only."""
    me = getcurrent()
    while True:
        # the user's context variables, not the previous user's
        me.gr_context = user._rest_context
        user._rest_context = None
        seconds = user._resume(how)
        if seconds is None or group is None:
            return
        group.rest(user, seconds)
        job = _wait_idle(group)
        if job is None:
            return
        user, how = job


def _wait_idle(group):
    """Parks the current greenlet in ``group``'s pool until a user wakes in it: returns that
    ``(user, how)``, or None when the greenlet should end instead (a full pool, or the group
    killed). It holds no greenlet-local values: its user checked before resting
    (``User._may_rest_now``)."""
    me = getcurrent()
    if len(group._idle) >= MAX_IDLE:
        return None
    group._idle.append(me)
    try:
        return gevent.get_hub().switch()
    except GreenletExit:
        return None


def _pinned_wake(user, left):
    """A pinned user's own greenlet: sleeps what is left of the wait, then runs the user for
    the rest of its life (a pinned user does not rest again)."""
    getcurrent().gr_context = user._rest_context
    user._rest_context = None
    try:
        gevent.sleep(left)
        how = WOKEN
    except GreenletExit:
        how = KILLED
    user._resume(how)
