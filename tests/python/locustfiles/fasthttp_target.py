"""A loopback target for fasthttp_settings.py: echoes request header names, redirect chains,
a slow endpoint, connections closed without an answer (``/flaky``), a concurrency counter
(``/busy`` and ``/peak``), a chunked stream, and proxy behaviour for absolute-form requests.
Prints its base URL, then serves until killed. Usage: ``python fasthttp_target.py [PORT]``."""

import json
import socket
import sys
import threading
import time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

STATE = {"flaky": {}, "now": 0, "peak": 0}
LOCK = threading.Lock()

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout check): nothing to answer
    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0); self.rfile.read(n); self.do_GET()
    def do_GET(self):
        if self.path.startswith("http://"):
            return self.send(200, f"proxied {self.command} {self.path}".encode())
        u = urlparse(self.path); q = parse_qs(u.query); p = u.path
        if p == "/headers":
            return self.send(200, json.dumps([k for k, _ in self.headers.items()]).encode())
        if p.startswith("/redirect/"):
            n = int(p.rsplit("/", 1)[1])
            if n == 0: return self.send(200, b"landed")
            return self.send(302, b"", [("Location", f"/redirect/{n-1}")])
        if p == "/slow":
            time.sleep(float(q.get("s", ["1"])[0])); return self.send(200, b"late")
        if p == "/flaky":
            k = q.get("k", [""])[0]; fails = int(q.get("fails", ["2"])[0])
            with LOCK:
                c = STATE["flaky"].get(k, 0); STATE["flaky"][k] = c + 1
            if c < fails:
                self.close_connection = True; self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR); return
            return self.send(200, f"attempts={c+1}".encode())
        if p == "/busy":
            k = q.get("k", [""])[0]
            with LOCK:
                now = STATE.setdefault("now " + k, [0])
                peak = STATE.setdefault("peak " + k, [0])
                now[0] += 1; peak[0] = max(peak[0], now[0])
            time.sleep(0.2)
            with LOCK: now[0] -= 1
            return self.send(200, b"busy")
        if p == "/peak":
            k = q.get("k", [""])[0]
            with LOCK: peak = STATE.setdefault("peak " + k, [0]); value = peak[0]; peak[0] = 0
            return self.send(200, str(value).encode())
        if p == "/stream":
            self.send_response(200); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
            for i in range(5):
                line = f"line {i}\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line)); self.wfile.flush(); time.sleep(0.1)
            self.wfile.write(b"0\r\n\r\n"); return
        return self.send(404, b"nope")

s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), H)
print(f"http://127.0.0.1:{s.server_address[1]}", flush=True)
s.serve_forever()
