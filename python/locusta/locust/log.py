"""``locust.log``: logging set up as Locust sets it up, for scripts that use Locust as a library
(``setup_logging("INFO")`` in Locust's examples/use_as_lib.py). A locusta run sets up its own
logging from the command line; this module is for runs a script builds itself."""

import logging
import os
import socket
from collections import deque

HOSTNAME = socket.gethostname().split(".", 1)[0]

#: Set when a greenlet ended with an unhandled exception (Locust's flag of the same name).
unhandled_greenlet_exception = False

_FORMAT = f"[%(asctime)s] {HOSTNAME}/%(levelname)s/%(name)s: %(message)s"


class LogReader(logging.Handler):
    """Keeps the last 500 formatted lines (what the web UI's log tab shows)."""

    def __init__(self):
        super().__init__()
        self.logs = deque(maxlen=500)

    def emit(self, record):
        self.logs.append(self.format(record))


def setup_logging(loglevel, logfile=None):
    """Log to stderr (or to ``logfile``, whose directory is created) at ``loglevel``, with
    Locust's line format; statistics tables (``locust.stats_logger``) go out plain."""
    level = loglevel.upper()
    default = logging.Formatter(_FORMAT)
    if logfile:
        directory = os.path.dirname(logfile)
        if directory:
            os.makedirs(directory, exist_ok=True)
        out = logging.FileHandler(logfile)
    else:
        out = logging.StreamHandler()
    out.setFormatter(default)
    reader = LogReader()
    reader.name = "log_reader"
    reader.setFormatter(default)
    plain = logging.StreamHandler()
    plain.setFormatter(logging.Formatter("%(message)s"))

    root = logging.getLogger()
    root.handlers[:] = [out, reader]
    root.setLevel(level)
    locust_logger = logging.getLogger("locust")
    locust_logger.handlers[:] = [out, reader]
    locust_logger.setLevel(level)
    locust_logger.propagate = False
    stats_logger = logging.getLogger("locust.stats_logger")
    stats_logger.handlers[:] = [plain, reader]
    stats_logger.setLevel(logging.INFO)
    stats_logger.propagate = False


def get_logs():
    """The lines the log reader kept, oldest first."""
    for handler in logging.getLogger().handlers:
        if handler.name == "log_reader":
            return list(handler.logs)
    return []


def greenlet_exception_logger(logger, level=logging.CRITICAL):
    """A ``Greenlet.link_exception`` callback that logs the greenlet's exception to ``logger``
    and sets ``unhandled_greenlet_exception``; ``sys.exit`` is logged at INFO at most."""

    def exception_handler(greenlet):
        global unhandled_greenlet_exception
        exc_type, exc, _ = greenlet.exc_info
        if exc_type is SystemExit:
            logger.log(min(logging.INFO, level), f"sys.exit({exc}) called (use log level DEBUG for callstack)")
            logger.debug("Unhandled exception in greenlet: %s", greenlet, exc_info=greenlet.exc_info)
        else:
            logger.log(level, "Unhandled exception in greenlet: %s", greenlet, exc_info=greenlet.exc_info)
        unhandled_greenlet_exception = True

    return exception_handler
