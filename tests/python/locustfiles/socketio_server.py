"""A Socket.IO server for test_websocket.py's SocketIOUser test, with the events of Locust's
examples/socketio/echo_server.py (join_room, leave_room, send_message broadcasting chat_message
to the room), on python-socketio's threading mode and werkzeug (long polling). Prints its URL, then serves."""

import sys

import socketio
from werkzeug.serving import make_server

# werkzeug's development server cannot hand a socket to a WebSocket: stay on long polling
sio = socketio.Server(async_mode="threading", allow_upgrades=False)
app = socketio.WSGIApp(sio)


@sio.event
def join_room(sid, data):
    sio.enter_room(sid, data["room"])
    return f"Joined room {data['room']}"


@sio.event
def leave_room(sid, data):
    sio.leave_room(sid, data["room"])


@sio.event
def send_message(sid, data):
    sio.emit("chat_message", data["message"], room=data["room"])


if __name__ == "__main__":
    server = make_server("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0, app, threaded=True)
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
