import locust  # noqa: F401

VALUE = 1
