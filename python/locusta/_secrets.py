"""Masks the values of locustfile options declared with ``is_secret=True`` in everything the
process logs.

Locust 2.47 only turns a secret option into a password field of the start form (and still puts
its value into the page). locusta never sends the value to the page (see ``/ui/info``) and, from
the moment the options are parsed, replaces every occurrence of a secret's value in log records
(message, arguments and traceback) with ``********``: a locustfile that logs a token by mistake,
or an error message that quotes it, does not write it to the console, ``--logfile`` or the web
UI's Logs tab. Values shorter than :data:`MIN_LENGTH` characters are not masked (masking ``"1"``
would garble every number in the log).
"""

import logging
import threading

MASK = "********"
MIN_LENGTH = 4

_lock = threading.Lock()
_values = ()
_installed = False


def mask(text):
    """``text`` with every registered secret value replaced by :data:`MASK`."""
    for value in _values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def add(value):
    """Registers a secret value (any object: its ``str()`` is masked) and starts masking logs."""
    global _values
    if value is None or isinstance(value, bool):
        return
    text = str(value)
    if len(text) < MIN_LENGTH:
        return
    with _lock:
        if text not in _values:
            # longest first, so a secret containing another is masked whole
            _values = tuple(sorted({*_values, text}, key=len, reverse=True))
        _install()


def register(parser, values):
    """Registers the parsed values of every ``is_secret`` option of ``parser``."""
    for d in parser.declared:
        if d.is_secret:
            add(values.get(d.dest))


def _install():
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        if not _values:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler's error path
            return record
        masked = mask(message)
        if masked != message:
            record.msg = masked
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
