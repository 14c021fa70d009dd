"""Locust's examples/socketio/socketio_ex.py pattern (SocketIOUser: connect, call, on, emit,
wait for the broadcast, leave) against socketio_server.py; runs unchanged under Locust 2.47 and
locusta. SIO_URL is the server's URL."""

import os
from threading import Event

from locust import constant, task
from locust.contrib.socketio import SocketIOUser


class ChatUser(SocketIOUser):
    wait_time = constant(0.1)

    def on_start(self):
        self.sio.connect(os.environ["SIO_URL"], wait_timeout=10)

    @task
    def chat(self):
        self.event = Event()
        reply = self.sio.call("join_room", {"room": "room1"})
        print(f"EXAMPLE join reply: {reply}", flush=True)
        self.sio.on("chat_message", self.on_chat_message)
        self.sio.emit("send_message", {"room": "room1", "message": "bar"})
        print(f"EXAMPLE broadcast seen: {self.event.wait(2)}", flush=True)
        self.sio.call("leave_room", {"room": "room1"})

    # python-socketio calls the handler of one event with the data only (Locust's example
    # declares (event, data), which raises TypeError in its read loop, in Locust as here)
    def on_chat_message(self, data):
        if data.startswith("bar"):
            self.event.set()
        self.sio.on_message("chat_message", data)

    def on_stop(self):
        self.sio.disconnect()
