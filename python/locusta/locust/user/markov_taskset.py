"""Markov-chain TaskSets (``locust.user.markov_taskset``): ``MarkovTaskSet`` with the
``@transition`` / ``@transitions`` decorators.

A MarkovTaskSet starts at its first decorated method; after each task the next one is drawn
from the current task's transitions (weights are repeats). The chain is checked when the class
is defined, with Locust's exception classes and messages.
"""

import logging
import random

from ..exception import LocustError
from .task import TaskSet, TaskSetMeta


class NoMarkovTasksError(LocustError):
    """The MarkovTaskSet has no method decorated with ``@transition(s)``."""


class InvalidTransitionError(LocustError):
    """A transition names something the class does not have."""


class NonMarkovTaskTransitionError(LocustError):
    """A transition names a method that has no transitions of its own."""


class MarkovTaskTagError(LocustError):
    """A Markov task carries ``@tag`` (tags could break the chain)."""


def is_markov_task(func):
    """Whether ``func`` was decorated with ``@transition`` / ``@transitions``."""
    return "transitions" in dir(func)


def _transitions_of(func):
    table = getattr(func, "transitions", None)
    if not isinstance(table, dict):
        table = {}
        func.transitions = table
    return table


def transition(func_name, weight=1):
    """Adds one transition (to the method named ``func_name``, with ``weight``)."""

    def decorate(func):
        _transitions_of(func)[func_name] = weight
        return func

    return decorate


def transitions(weights):
    """Adds several transitions: a ``{name: weight}`` dict, or a list of names and
    ``(name, weight)`` tuples (a bare name has weight 1)."""

    def decorate(func):
        table = _transitions_of(func)
        if isinstance(weights, dict):
            table.update(weights)
        else:
            for item in weights:
                name, weight = item if isinstance(item, tuple) else (item, 1)
                table[name] = weight
        return func

    return decorate


def get_markov_tasks(class_dict):
    """The decorated methods of a class body, in definition order."""
    return [value for value in class_dict.values() if is_markov_task(value)]


def to_weighted_list(table):
    """``{"a": 2, "b": 1}`` -> ``["a", "a", "b"]``."""
    out = []
    for name, weight in table.items():
        out.extend([name] * weight)
    return out


def _validate(tasks, class_dict, classname):
    if not tasks:
        raise NoMarkovTasksError(
            f"No Markov tasks defined in class {classname}. Use the @transition(s) decorators to define some."
        )
    for func in tasks:
        for dest in func.transitions:
            target = class_dict.get(dest)
            if not target:
                raise InvalidTransitionError(
                    f"Transition to {dest} from {func.__name__} is invalid since no such element exists on class "
                    f"{classname}"
                )
            if not is_markov_task(target):
                raise NonMarkovTaskTransitionError(
                    f"{classname}.{dest} cannot be used as a target for a transition since it does not define any "
                    f"transitions of its own.Used as a transition from {func.__name__}."
                )
    # Reachability from the first task (a warning, as in Locust).
    seen = set()
    stack = [tasks[0].__name__]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(set(to_weighted_list(class_dict[name].transitions)) - seen)
    unreachable = {f.__name__ for f in tasks} - seen
    if unreachable:
        logging.warning(f"The following markov tasks are unreachable in class {classname}: {unreachable}")
    for func in tasks:
        if func.__name__ in ("on_start", "on_stop"):
            logging.warning(
                "You have tagged your on_stop/start function with @transition. This will make the method get "
                "called both as a step AND on stop/start."
            )
        if func.__name__ == "run":
            raise Exception(
                "TaskSet.run() is a method used internally by Locust, and you must not override it or annotate it "
                "with transitions"
            )
        if "locust_tag_set" in dir(func):
            raise MarkovTaskTagError(
                "Tags are unsupported for MarkovTaskSet since they can make the markov chain invalid. "
                f"Tags detected on {classname}.{func.__name__}: {func.locust_tag_set}"
            )


class MarkovTaskSetMeta(TaskSetMeta):
    """Validates the chain of a concrete MarkovTaskSet class and sets its start state."""

    def __new__(mcs, classname, bases, class_dict):
        if not class_dict.get("abstract"):
            class_dict["abstract"] = False
            tasks = get_markov_tasks(class_dict)
            _validate(tasks, class_dict, classname)
            class_dict["current"] = tasks[0]
            for func in tasks:
                func.transitions = to_weighted_list(func.transitions)
        # Like Locust, the class gets no `tasks` list of its own (so --tags filters it out).
        return type.__new__(mcs, classname, bases, class_dict)


class MarkovTaskSet(TaskSet, metaclass=MarkovTaskSetMeta):
    """A TaskSet whose next task follows the current task's weighted transitions."""

    abstract = True

    def get_next_task(self):
        current = self.current
        self.current = getattr(self, random.choice(current.transitions))
        return current
