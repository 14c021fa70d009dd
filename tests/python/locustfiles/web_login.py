"""--web-login as in Locust's examples/web_ui_auth: the locustfile sets up Flask-Login, a
username/password login route and the login page's arguments."""

from flask import Blueprint, redirect, request, session, url_for
from flask_login import UserMixin, login_user
from locust import HttpUser, constant, events, task


class Visitor(HttpUser):
    wait_time = constant(1)

    @task
    def home(self):
        self.client.get("/")


class Account(UserMixin):
    def __init__(self, name):
        self.name = name

    def get_id(self):
        return self.name


@events.init.add_listener
def setup_login(environment, **_kwargs):
    if not environment.web_ui:
        return
    base = environment.parsed_options.web_base_path
    auth = Blueprint("auth", "web_login", url_prefix=base)
    environment.web_ui.login_manager.user_loader(Account)
    environment.web_ui.app.config["SECRET_KEY"] = "not-a-secret-in-tests"
    environment.web_ui.auth_args = {"username_password_callback": f"{base}/login_submit"}

    @auth.route("/login_submit", methods=["POST"])
    def login_submit():
        if request.form.get("password") == "sesame":
            login_user(Account(request.form.get("username")))
            return redirect(url_for("locust.index"))
        session["auth_error"] = "Invalid username or password"
        return redirect(url_for("locust.login"))

    @auth.route("/whoami")
    @environment.web_ui.auth_required_if_enabled
    def whoami():
        return {"ok": True}

    environment.web_ui.app.register_blueprint(auth)
