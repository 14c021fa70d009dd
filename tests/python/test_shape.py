"""Load shapes from Python locustfiles, compared with the real Locust."""

from conftest import lf


def _names(run):
    return sorted(n for (_m, n) in run.counts())


def test_shape_class_list_restricts_new_users_like_locust(run_locustfile, target, real_locust):
    mine = run_locustfile(lf("shape_classes.py"), target, time_s="30s")
    assert mine.code == 0, mine.stderr[-2000:]
    theirs = run_locustfile(lf("shape_classes.py"), target, time_s="30s", cmd=real_locust)
    assert theirs.code == 0, theirs.stderr[-2000:]
    assert _names(mine) == _names(theirs) == ["/products/"]
