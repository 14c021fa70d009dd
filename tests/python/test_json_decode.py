"""``response.json()`` decoded in Rust (crates/locusta-py/src/json_decode.rs) gives what
``json.loads(response.text)`` gives: the same objects (types, values, key order, duplicate keys,
non-ASCII, surrogate pairs, big ints, float rounding, -0.0, inf) and, for everything the Rust
decoder leaves to Python, the same exceptions.

Three levels: the decoder itself against ``json.loads`` on a hand-picked corpus and on random
documents; responses from a real server with many bodies and Content-Types, read by locusta's
HttpSession and FastHttpSession; and the same responses read by the real Locust, whose printed
results must be identical."""

import json
import math
import os
import random
import subprocess
import sys
import textwrap

import pytest

from locusta import _core

from test_library_parity import _real_locust_python, _run

UNDECODED = object()

# Texts whose json.loads result (or exception) the Rust decoder must reproduce.
CORPUS = [
    "{}", "[]", '""', "0", "-0", "1", "-1", "0.0", "-0.0", "1.5", "-2.25e-3", "1E5", "1e+5", "1e400",
    "-1e400", "5e-324", "2.2250738585072014e-308", "0.1", "0.30000000000000004", "1.7976931348623157e308",
    "123456789012345678", "-123456789012345678", "1234567890123456789", "12345678901234567890123",
    "true", "false", "null", " \t\r\n[1, 2 ,3 ] \n",
    '{"a": 1, "b": [true, false, null], "c": {"d": "e"}}',
    '{"a": 1, "a": 2, "b": 3}',  # the last duplicate wins, at the first one's place
    '["caf\\u00e9", "\\ud83d\\ude00", "\\n\\t\\r\\b\\f\\/\\\\\\"", "tab\\u0009"]',
    '"é ü 中文 😀"', '"\\ud800"', '"\\udc00"', '"\\ud800x"', '"\\ud800\\u0041"',
    "NaN", "Infinity", "-Infinity", "[NaN]", '{"x": -Infinity}',
    "", " ", "{", "[1,]", '{"a":1,}', "[1 2]", "{} x", "01", "1.", "-", ".5", "1e", "+1", "tru", "nul",
    '"a\nb"', '"a\x01"', '"\\x"', '"\\u12"', "'a'", '{a: 1}', '{"a" 1}', '\ufeff{}',
    "[" * 150 + "]" * 150, "[" * 300 + "]" * 300, "[" * 2000 + "]" * 2000,
    '{"products": [' + ",".join(f'{{"id": {i}, "price": {i * 1.25}, "name": "P{i}"}}' for i in range(50)) + "]}",
]


def loads_or_error(text):
    try:
        return ("ok", json.loads(text))
    except (ValueError, RecursionError) as e:
        return ("error", type(e).__name__, str(e))


def rust_or_error(text):
    try:
        out = _core.json_loads_or(text, UNDECODED)
    except (ValueError, RecursionError) as e:  # the decoder itself never raises these
        return ("rust raised", type(e).__name__, str(e))
    if out is UNDECODED:
        return loads_or_error(text)
    return ("ok", out)


def same(a, b):
    """Equal with the same types all the way down, NaN equal to NaN, -0.0 apart from 0.0, and
    dict keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("text", CORPUS)
def test_decoder_matches_json_loads(text):
    assert same(rust_or_error(text), loads_or_error(text))
    data = text.encode()
    assert same(rust_or_error(data), loads_or_error(data))


def test_decoder_leaves_what_only_python_decides():
    # Each of these must come back undecided (Python then raises or decodes it).
    for text in ["NaN", "[1,]", '"\\ud800"', "12345678901234567890", "[" * 300 + "]" * 300, '"a\x01"', "{} x"]:
        assert _core.json_loads_or(text, UNDECODED) is UNDECODED, text
    # ...and what it decodes, it decodes itself (so the fast path is really taken)
    assert _core.json_loads_or('{"a": [1, 2.5, "x"]}', UNDECODED) == {"a": [1, 2.5, "x"]}
    assert _core.json_loads_or(b'{"a": "\xc3\xa9"}', UNDECODED) == {"a": "é"}
    assert _core.json_loads_or(b'"\xff"', UNDECODED) is UNDECODED  # not UTF-8


def _random_value(rng, depth=0):
    kind = rng.randrange(9 if depth < 5 else 6)
    if kind == 0:
        return rng.randint(-(2 ** 70), 2 ** 70) if rng.random() < 0.2 else rng.randint(-10 ** 6, 10 ** 6)
    if kind == 1:
        return rng.choice([rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randint(-320, 308), -0.0, 0.1])
    if kind == 2:
        alphabet = "abcXYZ09 \"\\/\n\t\u00e9\u4e2d\U0001f600\x7f\u2028"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
    if kind == 3:
        return rng.choice([True, False, None])
    if kind in (4, 5):
        return rng.choice(["id", "name", "price", "é", ""])
    if kind in (6, 7):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(6))]
    return {rng.choice(["id", "name", "x", "é", "a\"b", str(rng.randrange(5))]): _random_value(rng, depth + 1)
            for _ in range(rng.randrange(6))}


def test_decoder_matches_json_loads_on_random_documents():
    rng = random.Random(20261205)
    for _ in range(3000):
        value = _random_value(rng)
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1]))
        expected = loads_or_error(text)
        assert same(rust_or_error(text), expected), text
        assert same(rust_or_error(text.encode()), expected), text


# --- responses from a server ---------------------------------------------------------------------

# (Content-Type or None, body): served at /doc/<index>
BODIES = [
    ("application/json", b'{"a": 1, "b": [1.5, "x", null, true]}'),
    ("application/json; charset=utf-8", '{"name": "café 😀", "n": -0.0}'.encode()),
    ("application/json; charset=UTF-8", b'["\\u00e9", 12345678901234567890123]'),
    ("application/json", b'{"bad": "\xff\xfe"}'),  # invalid UTF-8: .text replaces it
    ("application/json; charset=latin-1", '{"name": "café"}'.encode("latin-1")),
    ("application/json; charset=iso-8859-1", b'{"ascii": "only"}'),
    ("text/plain", b'{"plain": true}'),
    ("text/plain", '{"x": "é"}'.encode("latin-1")),
    ("application/json; charset=utf-16", '{"wide": 1}'.encode("utf-16")),
    (None, b'{"no": "type"}'),
    ("application/json", b"NaN"),
    ("application/json", b"[1, 2,]"),
    ("application/json", b""),
    ("application/json", b"\xef\xbb\xbf{}"),
    ("application/json", b"{} extra"),
    ("application/json", b'{"a": 1, "a": 2}'),
]

SERVER = """
import http.server, sys
BODIES = {bodies!r}

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        ctype, body = BODIES[int(self.path.rsplit("/", 1)[1])]
        self.send_response(200)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

CLIENT = """
from locust.clients import HttpSession
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment

env = Environment()
for session in (HttpSession({url!r}, request_event=env.events.request, user=None),
                FastHttpSession({url!r}, request_event=env.events.request, user=None)):
    for i in range({count}):
        response = session.get(f"/doc/{{i}}")
        try:
            value = response.json()
            print(i, "ok", type(value).__name__, repr(value))
        except Exception as e:
            print(i, "error", type(e).__name__, str(e))
"""


@pytest.fixture(scope="module")
def doc_server():
    proc = subprocess.Popen([sys.executable, "-c", SERVER.format(bodies=BODIES)], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    yield f"http://127.0.0.1:{port}"
    proc.kill()
    proc.wait(timeout=10)


def test_response_json_is_json_loads_of_text(doc_server):
    # Under locusta, the fast path and the text path agree for every body.
    out = _run(sys.executable, CLIENT.format(url=doc_server, count=len(BODIES)), hook=True)
    check = _run(sys.executable, CLIENT.format(url=doc_server, count=len(BODIES)).replace(
        "value = response.json()", "value = json.loads(response.text)").replace(
        "from locust.env", "import json\nfrom locust.env"), hook=True)
    assert out == check
    lines = out.splitlines()
    assert len(lines) == 2 * len(BODIES)
    assert lines[1] == "1 ok dict {'name': 'café 😀', 'n': -0.0}"
    assert lines[2] == "2 ok list ['é', 12345678901234567890123]"
    assert lines[3] == "3 ok dict {'bad': '\ufffd\ufffd'}"
    assert lines[4] == "4 ok dict {'name': 'café'}"
    assert lines[10] == "10 ok float nan"
    assert lines[11].startswith("11 error JSONDecodeError ")


def test_response_json_matches_real_locust(doc_server):
    real = _real_locust_python()
    if real is None:
        pytest.skip("real Locust not installed")
    code = CLIENT.format(url=doc_server, count=len(BODIES))
    assert _run(sys.executable, code, hook=True) == _run(real, code, hook=False)
