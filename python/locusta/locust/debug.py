"""``run_single_user``: run one user in-process (for debugging a locustfile in an IDE), printing
one tab-separated line per request in the layout of Locust's debug printer."""

import argparse
import datetime
import inspect
import logging
import os
import sys

from .env import Environment
from .exception import CatchResponseError

_env = None


class PrintListener:
    """Prints every request (type, name, response time, error and the optional columns)."""

    def __init__(self, env, include_length=False, include_time=False, include_context=False, include_payload=False):
        env.events.request.add_listener(self.on_request)
        self.include_length = include_length
        self.include_time = include_time
        self.include_context = include_context
        self.include_payload = include_payload
        head = []
        if include_time:
            head.append("time                    ")
        head += ["type", "name".ljust(50), "resp_ms"]
        if include_length:
            head.append("length")
        head.append("exception")
        head.append("context" if include_context else "")
        head.append("payload" if include_payload else "")
        print("\n" + "\t".join(head))

    def on_request(self, request_type, name, response_time, response_length, exception, context, start_time=None,
                   response=None, **_kw):
        if exception is None:
            error = ""
        elif isinstance(exception, CatchResponseError):
            error = str(exception)
        else:
            error = repr(exception)
        error = error[:500].replace("\n", " ")
        cols = []
        if self.include_time:
            when = (
                datetime.datetime.fromtimestamp(start_time, tz=datetime.timezone.utc)
                if start_time
                else datetime.datetime.now()
            )
            cols.append(str(when))
        cols += [request_type, (name.ljust(30) if name else "").ljust(50), str(round(response_time or -1)).ljust(7)]
        if self.include_length:
            cols.append(str(response_length))
        cols.append(error.ljust(9))
        if self.include_context:
            cols.append(str(context or ""))
        if self.include_payload:
            cols.append(str(getattr(getattr(response, "request", None), "body", "")))
        print("\t".join(cols) + "\t")


def _options_from_argv():
    from .. import _core

    try:
        parsed = _core.parse_options(["locusta"] + sys.argv[1:])
    except _core.UsageError:
        parsed = _core.parse_options(["locusta"])
    return argparse.Namespace(**parsed.options())


def run_single_user(user_class, include_length=False, include_time=False, include_context=False,
                    include_payload=False, loglevel="WARNING"):
    """Runs one ``user_class`` in this greenlet until it stops. Fires ``init`` (once) and
    ``test_start``, never ``test_stop`` / ``quit``; ``--host`` etc. come from ``sys.argv``."""
    global _env
    from . import events

    if loglevel:
        logging.basicConfig(level=loglevel.upper())
    if _env is None:
        options = _options_from_argv()
        frame = inspect.stack()[1]
        options.locustfile = os.path.basename(frame[0].f_code.co_filename)
        _env = Environment(events=events, locustfile=options.locustfile, host=options.host, parsed_options=options)
        PrintListener(_env, include_length, include_time, include_context, include_payload)
        events.init.fire(environment=_env, runner=None, web_ui=None)
    _env.user_classes = [user_class]
    _env._filter_tasks_by_tags()
    events.test_start.fire(environment=_env)
    if _env.host:
        user_class.host = _env.host
    user = user_class(_env)
    _env.single_user_instance = user
    user.run()
