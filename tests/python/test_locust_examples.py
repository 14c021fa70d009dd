"""The patterns of Locust's own examples (examples/ in locustio/locust: basic, nested inline
TaskSets, custom wait functions, per-user credentials, event listeners, several hosts, response
validation, FastHttpUser and rest(), a semaphore released on spawning_complete, manual stats,
options declared by the locustfile, test data, sequences and forms), written as our own
locustfiles in locustfiles/examples/ and run side by side under locusta and the real Locust 2.47:
same request names, same failure classification, same exit code, same listener output.
Other examples have their own tests: shapes (test_shape.py), custom messages and
dispatch scripts (test_distributed.py, test_lifecycle_parity.py), stop_on_threshold
(test_api_lifecycle_and_hub_io.py), markov_taskset, web UI extensions and login
(test_web_extensions.py), pytest-style files (test_pytest_locustfile.py)."""

import os
import re

import pytest

from conftest import LOCUSTFILES

EXAMPLES = os.path.join(LOCUSTFILES, "examples")

CASES = {
    "basic_login.py": [],
    "nested_inline_tasksets.py": [],
    "custom_wait_function.py": [],
    "dynamic_user_credentials.py": [],
    "events_hooks.py": [],
    "multiple_hosts.py": [],
    "response_validations.py": [],
    "rest_fast.py": [],
    "semaphore_wait.py": [],
    "manual_stats.py": [],
    "command_line_argument.py": ["--product-id", "4"],
    "testdata_management.py": [],
    "sequence_and_forms.py": [],
}


def outcome(run):
    """What must be equal under both tools."""
    counts = run.counts()
    classes = {k: ("fail" if f == n else "ok" if f == 0 else "mixed") for k, (n, f) in counts.items() if n}
    markers = set(re.findall(r"^EXAMPLE .*$", run.stdout + run.stderr, re.M))
    return {"names": classes, "exit code": run.code, "markers": markers}


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_behaves_as_under_locust(name, run_locustfile, target, real_locust):
    path = os.path.join(EXAMPLES, name)
    ours = run_locustfile(path, target, *CASES[name], users=4, rate=20, time_s="3s")
    theirs = run_locustfile(path, target, *CASES[name], users=4, rate=20, time_s="3s", cmd=real_locust)
    assert "Traceback" not in ours.stderr, ours.stderr[-3000:]
    got, want = outcome(ours), outcome(theirs)
    assert got["names"], ours.stderr[-3000:]
    assert got == want, (ours.stderr[-2000:], theirs.stderr[-2000:])
