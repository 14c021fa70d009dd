"""Flags that shape the classes before a run, compared with the real Locust 2.47 on the same
locustfile: --show-task-ratio and --show-task-ratio-json (byte for byte), --config-users,
--equal-weights and --profile; and the same flags for Rust user classes."""

import json
import os
import subprocess

import pytest

from conftest import LOCUSTFILES, locusta_cmd

LOCUSTFILE = os.path.join(LOCUSTFILES, "task_ratio.py")


def both(real_locust, args, **kw):
    ours = subprocess.run(locusta_cmd() + ["-f", LOCUSTFILE] + args, capture_output=True, text=True, timeout=60, **kw)
    theirs = subprocess.run(real_locust + ["-f", LOCUSTFILE] + args, capture_output=True, text=True, timeout=60, **kw)
    return ours, theirs


@pytest.mark.parametrize("args", [["--show-task-ratio"], ["--show-task-ratio", "-u", "6"], ["--show-task-ratio-json"],
                                  ["--show-task-ratio-json", "-u", "9", "Shopper", "Reader"]])
def test_task_ratio_is_printed_as_by_locust(args, real_locust):
    ours, theirs = both(real_locust, args)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    if "Reader" in args:
        # Locust orders classes named on the command line as a set does (by hash seed);
        # locusta keeps the locustfile's order. The figures are the same.
        assert json.loads(ours.stdout) == json.loads(theirs.stdout)
    else:
        assert ours.stdout == theirs.stdout
    assert "Shopper" in ours.stdout


def test_task_ratio_of_rust_user_classes():
    proc = subprocess.run(locusta_cmd() + ["demo", "--show-task-ratio"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert " Task ratio per User class" in proc.stdout and " Total task ratio" in proc.stdout
    assert "WebsiteUser" in proc.stdout and "ShopUser" in proc.stdout


def names(run):
    return {k[1] for k, (n, _) in run.counts().items() if n}


def test_config_users_sets_class_attributes_as_locust(run_locustfile, target, real_locust):
    config = '[{"user_class_name": "Shopper", "tasks": ["about"], "weight": 1}, {"user_class_name": "Admin", "fixed_count": 0}]'
    # --config-users takes any number of values: class names go before it.
    ours = run_locustfile(LOCUSTFILE, target, "Shopper", "Admin", "--config-users", config, users=3, time_s="2s")
    theirs = run_locustfile(LOCUSTFILE, target, "Shopper", "Admin", "--config-users", config, users=3, time_s="2s",
                            cmd=real_locust)
    assert ours.code == theirs.code == 0, ours.stderr[-2000:]
    assert names(ours) == names(theirs) == {"/about/", "/admin/dashboard"}  # Shopper: only about


def test_config_users_for_an_unknown_class_fails_as_locust(real_locust, target):
    args = ["--headless", "-t", "1s", "-H", target, "--config-users", '{"user_class_name": "Nobody"}']
    ours, theirs = both(real_locust, args)
    assert ours.returncode == theirs.returncode == 255
    assert "specify config for a User not present in your locustfile: 'Nobody'" in ours.stderr


def test_equal_weights_levels_classes_and_tasks(run_locustfile, target, real_locust):
    def shares(run):
        counts = {k[1]: n for k, (n, _) in run.counts().items()}
        return counts["/"] / max(counts["/about/"], 1)

    plain = run_locustfile(LOCUSTFILE, target, "Shopper", users=2, time_s="3s")
    equal = run_locustfile(LOCUSTFILE, target, "--equal-weights", "Shopper", users=2, time_s="3s")
    theirs = run_locustfile(LOCUSTFILE, target, "--equal-weights", "Shopper", users=2, time_s="3s", cmd=real_locust)
    assert shares(plain) > 2.0  # @task(3) against @task(1)
    assert 0.7 < shares(equal) < 1.4 and 0.7 < shares(theirs) < 1.4, (shares(equal), shares(theirs))
    assert names(equal) == names(theirs)


def test_profile_reaches_the_environment(run_locustfile, target, real_locust):
    ours = run_locustfile(LOCUSTFILE, target, "--profile", "nightly", users=1, time_s="1s")
    theirs = run_locustfile(LOCUSTFILE, target, "--profile", "nightly", users=1, time_s="1s", cmd=real_locust)
    assert "PROFILE nightly" in ours.stdout and "PROFILE nightly" in theirs.stdout, ours.stdout


def test_rust_classes_take_config_users_and_equal_weights():
    bad = subprocess.run(locusta_cmd() + ["demo", "--headless", "-t", "1s", "--config-users",
                                          '{"user_class_name": "ShopUser", "wait_time": 1}'],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 255 and "wait_time cannot be set on the Rust user class ShopUser" in bad.stderr, bad.stderr
    ratio = subprocess.run(locusta_cmd() + ["demo", "--show-task-ratio-json", "--config-users",
                                            '{"user_class_name": "ShopUser", "fixed_count": 2}'],
                           capture_output=True, text=True, timeout=60)
    assert ratio.returncode == 0, ratio.stderr
