"""Locust's web UI extension points (as in its examples extend_web_ui.py and events.py): an
``init`` listener adds a route, a blueprint with a JSON POST and a route that raises."""

from flask import Blueprint, jsonify, request
from locust import HttpUser, events, task, constant


class Quiet(HttpUser):
    wait_time = constant(1)

    @task
    def index(self):
        self.client.get("/")


@events.init.add_listener
def add_pages(environment, web_ui, **kw):
    if web_ui is None:
        return

    @web_ui.app.route("/content-length")
    @web_ui.auth_required_if_enabled
    def total_content_length():
        return jsonify({"state": environment.runner.state, "users": environment.runner.user_count,
                        "requests": environment.stats.total.num_requests})

    # As Locust's examples do: under --web-base-path when there is one.
    bp = Blueprint("extra", __name__, url_prefix=environment.parsed_options.web_base_path + "/extra")

    @bp.route("/echo", methods=["POST"])
    def echo():
        return {"got": request.get_json(), "q": request.args.get("q"), "path": request.path}, 201

    @bp.route("/boom")
    def boom():
        raise RuntimeError("kaboom")

    web_ui.app.register_blueprint(bp)
