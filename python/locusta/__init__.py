"""locusta: Locust's load-testing model on a Rust engine.

``locusta -f locustfile.py --headless ...`` runs an unchanged Locust locustfile; inside the run
``import locust`` resolves to ``locusta.locust`` (see ``locusta._importhook``).
"""

__version__ = "0.1.0"
