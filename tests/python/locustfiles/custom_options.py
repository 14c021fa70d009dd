import json

from locust import User, constant, events, task


@events.init_command_line_parser.add_listener
def add_options(parser):
    parser.add_argument("--my-arg", type=str, env_var="LOCUST_MY_ARG", default="dflt", help="a text")
    parser.add_argument("--my-int", type=int, default=3, help="an int", include_in_web_ui=False)
    parser.add_argument("--my-flag", action="store_true", help="a flag")
    group = parser.add_argument_group("Mine")
    group.add_argument("--my-choice", choices=["a", "b"], default="a")


@events.init.add_listener
def on_init(environment, **kw):
    o = environment.parsed_options
    print("OPTIONS " + json.dumps([o.my_arg, o.my_int, o.my_flag, o.my_choice, o.num_users]))


class Idle(User):
    wait_time = constant(0.1)

    @task
    def nothing(self):
        pass
