"""``locust.util.load_locustfile``: which classes of a module are runnable users and shapes, and
importing a locustfile by path (what ``-f`` does), for scripts that use Locust as a library."""

import importlib.util
import inspect
import os
import sys

from ..shape import LoadTestShape
from ..user import User


def is_user_class(item):
    """True for a User subclass that can run (not marked ``abstract``, so not ``User``,
    ``HttpUser`` or ``FastHttpUser`` themselves)."""
    return bool(inspect.isclass(item) and issubclass(item, User) and item.abstract is False)


def is_shape_class(item):
    """True for a LoadTestShape subclass that is not marked ``abstract``."""
    return bool(
        inspect.isclass(item) and issubclass(item, LoadTestShape) and not getattr(item, "abstract", True)
    )


def load_locustfile(path):
    """Imports the locustfile at ``path`` and returns ``(user classes by name, [shape
    instances])``. The file's directory (and the working directory) go on ``sys.path`` for its
    own imports; a file named ``locust.py`` is imported as ``locustfile``."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    directory = os.path.dirname(os.path.abspath(path))
    if directory in sys.path:
        sys.path.remove(directory)
    sys.path.insert(0, directory)
    name = os.path.splitext(os.path.basename(path))[0]
    if name == "locust":
        name = "locustfile"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise ImportError(f"cannot import {path} (not a Python file?)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    users = {n: v for n, v in vars(module).items() if is_user_class(v)}
    shapes = [v() for v in vars(module).values() if is_shape_class(v)]
    return users, shapes
