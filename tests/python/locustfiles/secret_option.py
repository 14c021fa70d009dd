"""A locustfile with an ``is_secret`` option that it logs by mistake, in a message and in an
exception (tests/python/test_secret_options.py checks the value appears nowhere)."""

import logging

from locust import HttpUser, constant, events, task

log = logging.getLogger("secretfile")


@events.init_command_line_parser.add_listener
def add_options(parser):
    parser.add_argument("--api-token", is_secret=True, default="", help="token for the target")
    parser.add_argument("--plain-opt", default="visible-default", help="not a secret")


@events.test_start.add_listener
def on_start(environment, **kw):
    token = environment.parsed_options.api_token
    log.info("token in use: %s (from the form: %s)", token, token.endswith("-form"))
    try:
        raise ValueError(f"refused token {token}")
    except ValueError:
        log.exception("logging an exception that quotes the token")


class SecretUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def call(self):
        token = self.environment.parsed_options.api_token
        self.client.get("/hello", name="/hello", headers={"Authorization": f"Bearer {token}"})
