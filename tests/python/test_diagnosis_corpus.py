"""A short subset of the diagnosis corpus (bench/diagnosis.py) run end to end on every CI run:
the demo target's known degradation patterns under a Python locustfile and a Rust ``locusta
demo`` class must be named as the culprit with their pattern and knee, and the healthy endpoint
next to them must not be blamed. The whole corpus (``bench/diagnosis.py --repeat 3``) is too
long for CI; docs/insight.md keeps its figures. About 80 s."""

import dataclasses
import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "diagnosis_corpus", os.path.join(HERE, "..", "..", "bench", "diagnosis.py")
)
corpus = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = corpus
_spec.loader.exec_module(corpus)


def scenario(name, **changes):
    """A scenario of the corpus by name, with some fields changed."""
    found = [s for s in corpus.SCENARIOS if s.name == name]
    assert found, f"no scenario {name!r} in bench/diagnosis.py"
    return dataclasses.replace(found[0], **changes)


CASES = [
    # a pool cliff found by --find-capacity (Python locustfile): culprit, cliff, knee, capacity
    scenario("pool cliff, --find-capacity"),
    # the same with a Rust user class of `locusta demo` (no locustfile)
    scenario("rust PoolUser, --find-capacity"),
    # a leak at a constant load, held for the shortest time a drift is judged on and a little
    scenario("drift, ramp then hold", seconds=28),
]


@pytest.mark.parametrize("s", CASES, ids=lambda s: s.name)
def test_the_diagnosis_names_the_known_culprit(s):
    # The locusta under test is the one installed for this interpreter.
    (j,) = corpus.run_scenario(s, sys.executable, echo=lambda line: None)
    assert j["recall"], j
    assert j["false culprits"] == [], j
    for path, (want, got) in j["patterns"].items():
        assert got == want, (path, j)
    assert all(p in ("none", "undetermined") for p in j["healthy"].values()), j
    if s.knee:
        assert j["knee ok"], j
    if s.capacity is not None:
        assert j["capacity ok"], j
