"""``locust.argument_parser``: the parser handed to ``init_command_line_parser`` listeners.

A locustfile declares options of its own with ``parser.add_argument("--my-arg", env_var=...,
default=..., type=..., choices=..., include_in_web_ui=...)``. The Rust option parser reads them
from the command line, config files and their environment variable (as text); this module
records the declarations and turns the text into values with argparse's rules (``type=``,
``choices=``, ``store_true`` / ``store_false``, defaults) and argparse's error messages.
"""

import argparse

SUPPRESS = argparse.SUPPRESS


class UsageError(Exception):
    """A declared option got a value it refuses; ``args[0]`` is the message (exit code 2)."""


class _Declared:
    """One ``add_argument`` call."""

    def __init__(self, names, kwargs):
        longs = [n for n in names if n.startswith("--")]
        shorts = [n for n in names if n.startswith("-") and not n.startswith("--") and len(n) == 2]
        if not longs:
            raise ValueError(
                f"locusta supports locustfile options with a long name (--name), got {names!r}; add a --long-name"
            )
        self.long = longs[0][2:]
        self.short = shorts[0][1] if shorts else None
        self.dest = kwargs.get("dest") or self.long.replace("-", "_")
        self.action = kwargs.get("action") or "store"
        if self.action not in ("store", "store_true", "store_false"):
            raise ValueError(
                f"locusta does not support action={self.action!r} for --{self.long} yet; "
                "use the default (a value), 'store_true' or 'store_false'"
            )
        self.takes_value = self.action == "store"
        if "default" in kwargs:
            self.default = kwargs["default"]
        else:
            self.default = {"store_true": False, "store_false": True}.get(self.action)
        self.type = kwargs.get("type")
        self.choices = kwargs.get("choices")
        self.help = kwargs.get("help") or ""
        self.metavar = kwargs.get("metavar")
        self.env_var = kwargs.get("env_var")
        self.include_in_web_ui = kwargs.get("include_in_web_ui", True)
        self.is_secret = kwargs.get("is_secret", False)
        self.is_required = kwargs.get("is_required", False)
        self.is_multiple = kwargs.get("is_multiple", False)

    def as_tuple(self):
        hidden = self.help == SUPPRESS
        return (
            self.dest,
            self.long,
            self.short,
            self.env_var,
            self.takes_value,
            "" if hidden else self.help,
            self.metavar,
            hidden,
        )

    def _convert(self, text):
        if self.type is None:
            return text
        try:
            return self.type(text)
        except (TypeError, ValueError, argparse.ArgumentTypeError) as e:
            # never echo the value of an is_secret option (argparse and Locust do)
            shown = "'********'" if self.is_secret else repr(text)
            if isinstance(e, argparse.ArgumentTypeError):
                detail = str(e).replace(str(text), "********") if self.is_secret and text else e
                raise UsageError(f"argument --{self.long}: {detail}")
            name = getattr(self.type, "__name__", repr(self.type))
            raise UsageError(f"argument --{self.long}: invalid {name} value: {shown}")

    def value(self, given):
        """The parsed value: ``given`` is the text / flag from Rust, or None when unset."""
        if given is None:
            value = self.default
            if isinstance(value, str) and self.takes_value:
                value = self._convert(value)
            return value
        if not self.takes_value:
            return bool(given) if self.action == "store_true" else not given
        value = self._convert(given)
        if self.choices is not None and value not in self.choices:
            options = ", ".join(repr(c) for c in self.choices)
            shown = "'********'" if self.is_secret else repr(value)
            raise UsageError(f"argument --{self.long}: invalid choice: {shown} (choose from {options})")
        return value


class LocustArgumentParser:
    """What ``init_command_line_parser`` listeners get: ``add_argument`` / ``add_argument_group``."""

    def __init__(self):
        self.declared = []

    def add_argument(self, *names, **kwargs):
        """Declares an option (argparse's arguments plus Locust's ``env_var``,
        ``include_in_web_ui``, ``is_secret``, ``is_required``, ``is_multiple``)."""
        d = _Declared(names, kwargs)
        self.declared.append(d)
        return d

    def add_argument_group(self, title=None, description=None, **kwargs):
        """Options in a group are declared on this parser (the group only affects help)."""
        return self

    @property
    def args_included_in_web_ui(self):
        return {d.dest: d for d in self.declared if d.include_in_web_ui}

    @property
    def secret_args_included_in_web_ui(self):
        return {d.dest: d for d in self.declared if d.include_in_web_ui and d.is_secret}

    def extras(self):
        """The declarations as the Rust parser takes them."""
        return [d.as_tuple() for d in self.declared]

    def values(self, given):
        """``{dest: value}`` for every declared option; ``given`` is Rust's ``{dest: (value,
        source)}``. Raises :class:`UsageError` for a refused value."""
        out = {}
        for d in self.declared:
            raw = given.get(d.dest)
            out[d.dest] = d.value(None if raw is None else raw[0])
        return out
