"""``--class-picker``: the web UI's form chooses which user classes a test runs (``/swarm``
with ``user_classes``) and ``POST /user`` changes a class's settings (here its tasks), as in
Locust 2.47 run side by side; no choice runs every class; without
the flag a subset is refused with a message. Python locustfile and Rust user classes."""

import os
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import LOCUSTFILES, REAL_LOCUST, free_port, locusta_cmd

LOCUSTFILE = os.path.join(LOCUSTFILES, "class_picker.py")



class Ui:
    def __init__(self, args):
        self.port = free_port()
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            args + ["--web-host", "127.0.0.1", "--web-port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, text=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while True:
            assert self.proc.poll() is None, self.output()
            try:
                requests.get(self.base + "/worker-count", timeout=5)
                return
            except requests.ConnectionError:
                assert time.time() < deadline, self.output()
                time.sleep(0.2)

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def swarm(self, classes, users=4):
        form = [("user_count", str(users)), ("spawn_rate", "100")] + [("user_classes", c) for c in classes]
        return requests.post(self.base + "/swarm", data=form, timeout=10)

    def names_after(self, seconds=2.0):
        time.sleep(seconds)
        rows = requests.get(self.base + "/stats/requests", timeout=10).json()["stats"]
        return {r["name"] for r in rows if r["name"] != "Aggregated" and r["num_requests"] > 0}

    def stop_and_reset(self):
        requests.post(self.base + "/stop", timeout=10)
        time.sleep(1)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def picks(ui):
    """Request names seen with Beta chosen, then with no choice (every class)."""
    r = ui.swarm(["Beta"])
    assert r.status_code == 200 and r.json()["success"], r.text
    only_beta = ui.names_after()
    ui.stop_and_reset()
    r = ui.swarm([])
    assert r.json()["success"], r.text
    every = ui.names_after()
    ui.stop_and_reset()
    # the class picker's settings dialog: Alpha keeps only its task "hit"
    r = requests.post(ui.base + "/user", json={"user_class_name": "Alpha", "tasks": ["hit"]}, timeout=10)
    assert r.status_code == 201, r.text
    assert ui.swarm(["Alpha"]).json()["success"]
    alpha_one_task = ui.names_after()
    ui.stop_and_reset()
    return only_beta, every, alpha_one_task


@pytest.mark.skipif(not os.path.exists(REAL_LOCUST), reason="real Locust is not installed")
def test_python_classes_are_picked_as_in_locust(target):
    ours = Ui(locusta_cmd() + ["-f", LOCUSTFILE, "-H", target, "--class-picker"])
    theirs = Ui([REAL_LOCUST, "-f", LOCUSTFILE, "-H", target, "--class-picker"])
    try:
        got, want = picks(ours), picks(theirs)
        assert got == want == ({"from Beta"}, {"from Alpha", "from Alpha other", "from Beta"}, {"from Alpha"})
        info = requests.get(ours.base + "/ui/info", timeout=10).json()
        assert info["class_picker"] is True and info["user_classes"] == ["Alpha", "Beta"]
    finally:
        ours.close()
        theirs.close()


def test_without_the_flag_a_subset_is_refused(target):
    ui = Ui(locusta_cmd() + ["-f", LOCUSTFILE, "-H", target])
    try:
        r = ui.swarm(["Beta"])
        assert r.status_code == 400 and "--class-picker" in r.json()["message"], r.text
    finally:
        ui.close()


def test_rust_classes_are_picked(target):
    ui = Ui(locusta_cmd() + ["demo", "--headful", "--class-picker", "-H", target])
    try:
        r = ui.swarm(["WebsiteUser"])
        assert r.json()["success"], r.text
        website = ui.names_after(3)
        ui.stop_and_reset()
        r = ui.swarm(["ShopUser"])
        shop = ui.names_after(3)
        assert website and shop and not (website & shop), (website, shop)
    finally:
        ui.close()
