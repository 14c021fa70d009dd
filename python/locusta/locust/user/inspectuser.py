"""``locust.user.inspectuser``: how users and tasks split, as ``--show-task-ratio`` shows it.

The command line's ``--show-task-ratio`` / ``--show-task-ratio-json`` are answered by the engine;
these are the Python functions Locust exposes for the same numbers (scripts and web extensions
import them). Ratios are fractions (0.25, not 25 %), nested under ``"tasks"`` for task sets.
"""

import inspect
import json

from .task import TaskSet


def _user_counts(user_classes, num_users):
    """How many users of each class a run of ``num_users`` would start: fixed counts first,
    the rest split by weight (rounded per class). Without a count: one round of weights."""
    fixed = sum(u.fixed_count for u in user_classes if u.fixed_count)
    weights = sum(u.weight for u in user_classes if not u.fixed_count)
    if not num_users:
        num_users = 1 if fixed else weights
    weighted = max(0, num_users - fixed)
    return {
        u.__name__: round(u.fixed_count or (u.weight / weights) * weighted) for u in user_classes
    }


def _get_task_ratio(tasks, total, parent_ratio):
    """{name: {"ratio": r[, "tasks": {...}]}} for a (weight-expanded) task list. With
    ``total``, ratios are shares of the whole run (scaled by ``parent_ratio``); without, shares
    within their own list."""
    scale = parent_ratio if total else 1.0
    counts = {}
    for t in tasks:
        counts[t] = counts.get(t, 0) + 1
    result = {}
    for t, n in counts.items():
        share = n * scale / len(tasks)
        entry = {"ratio": share}
        if inspect.isclass(t) and issubclass(t, TaskSet):
            entry["tasks"] = _get_task_ratio(t.tasks, total, share)
        result[t.__name__] = entry
    return result


def get_ratio(user_classes, user_spawned, total):
    """{class name: {"ratio": share of users, "tasks": ...}} given how many users of each class
    run (``user_spawned``: {class name: count})."""
    everyone = sum(user_spawned.values()) or 1
    result = {}
    for u in user_classes:
        share = user_spawned.get(u.__name__, 0) / everyone
        result[u.__name__] = {"ratio": share, "tasks": _get_task_ratio(u.tasks, total, share)}
    return result


def _print_tree(tree, level=0):
    indent = "  " * level
    for name, entry in tree.items():
        percent = "%-6.1f" % (entry.get("ratio", 1) * 100)
        print(" %-10s %-50s" % (indent + percent, indent + name))
        if "tasks" in entry:
            _print_tree(entry["tasks"], level + 1)


def print_task_ratio(user_classes, num_users, total):
    """The ``--show-task-ratio`` table (per class, or of the whole run with ``total``)."""
    _print_tree(get_ratio(user_classes, _user_counts(user_classes, num_users), total))


def print_task_ratio_json(user_classes, num_users):
    """The ``--show-task-ratio-json`` document: ``per_class`` and ``total`` trees."""
    counts = _user_counts(user_classes, num_users)
    doc = {
        "per_class": get_ratio(user_classes, counts, False),
        "total": get_ratio(user_classes, counts, True),
    }
    print(json.dumps(doc, indent=4))
