"""Locust's exception classes (``locust.exception``), with the same names and meanings."""


class LocustError(Exception):
    """Misuse of the locust API (for example ``success()`` outside a ``with`` block)."""


class ResponseError(Exception):
    """A response was judged a failure; raise it inside a ``catch_response`` block."""


class CatchResponseError(Exception):
    """The failure given to ``response.failure("text")`` when it is not an exception."""


class MissingWaitTimeError(LocustError):
    """Neither the user nor the TaskSet defines a wait time."""


class InterruptTaskSet(Exception):
    """Leave the current TaskSet and return to its parent.

    With ``reschedule=True`` the parent picks its next task at once, otherwise it waits first.
    """

    def __init__(self, reschedule=True):
        super().__init__(reschedule)
        self.reschedule = reschedule


class StopTest(Exception):
    """Stop the user (inside a task) or the whole test (when raised by the runner)."""


class StopUser(Exception):
    """Stop this user: its ``on_stop`` runs and it is not restarted."""


class RescheduleTask(Exception):
    """End the current task now; the user waits, then picks its next task."""


class RescheduleTaskImmediately(Exception):
    """End the current task now; the user picks its next task without waiting."""


class RPCError(Exception):
    """Master/worker communication failed (not used by locusta's single process)."""


class RPCSendError(RPCError):
    """Sending to the master or a worker failed."""


class RPCReceiveError(RPCError):
    """Receiving from the master or a worker failed."""

    def __init__(self, *args, addr=None):
        super().__init__(*args)
        self.addr = addr


class RunnerAlreadyExistsError(Exception):
    """An Environment already has a runner."""
