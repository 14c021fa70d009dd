from locust import HttpUser, MarkovTaskSet, constant, transition, transitions


class Chain(MarkovTaskSet):
    @transition("b")
    def a(self):
        self.client.get("/", name="a")

    @transitions({"c": 1})
    def b(self):
        self.client.get("/", name="b")

    @transitions(["a"])
    def c(self):
        self.client.get("/", name="c")


class Weighted(MarkovTaskSet):
    @transition("hub")
    def start(self):
        self.client.get("/", name="start")

    @transitions([("left", 3), "right"])
    def hub(self):
        self.client.get("/", name="hub")

    @transition("hub")
    def left(self):
        self.client.get("/", name="left")

    @transition("hub")
    def right(self):
        self.client.get("/", name="right")


class ChainUser(HttpUser):
    wait_time = constant(0)
    tasks = [Chain]


class WeightedUser(HttpUser):
    wait_time = constant(0)
    tasks = [Weighted]
