"""Many requests at once (providers.parallel), over real loopback HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

from providers import parallel

from .fakes import refused_url, serve


class Echo(BaseHTTPRequestHandler):
    """Answers each request with what it received. A body naming "status",
    "delay" or "headers" gets that answer; "close" hangs up without one."""

    protocol_version = "HTTP/1.1"  # keep-alive, as providers answer
    seen: list[dict] = []
    peers: set[int] = set()
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        asked = json.loads(body or b"{}")
        with self.lock:
            self.seen.append({"path": self.path, "body": asked, "headers": dict(self.headers)})
            self.peers.add(self.client_address[1])
        if asked.get("close"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        time.sleep(asked.get("delay", 0))
        answer = json.dumps({"echo": asked, "key": self.headers.get("x-api-key")}).encode()
        self.send_response(asked.get("status", 200))
        self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in asked.get("headers", {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def calls(url, bodies, key="k"):
    return [
        parallel.Call("POST", url, (("x-api-key", key),), json.dumps(body).encode())
        for body in bodies
    ]


def test_answers_come_back_in_the_order_of_the_calls_over_few_connections():
    Echo.seen, Echo.peers = [], set()
    # Early calls answer last: the order of the answers is not the order
    # in which they came.
    bodies = [{"n": n, "delay": 0.02 if n % 5 == 0 else 0} for n in range(60)]
    with serve(Echo) as url:
        answers = parallel.perform(calls(url + "/send", bodies), timeout=(2, 5), connections=4)
    assert [a.json()["echo"]["n"] for a in answers] == list(range(60))
    assert {a.status_code for a in answers} == {200}
    assert all(a.json()["key"] == "k" for a in answers)
    assert answers[0].headers["content-type"] == "application/json; charset=utf-8"
    assert {seen["path"] for seen in Echo.seen} == {"/send"}
    # Every call reached the server once, over no more than four connections.
    assert sorted(seen["body"]["n"] for seen in Echo.seen) == list(range(60))
    assert len(Echo.peers) <= 4


def test_status_headers_and_text_of_an_error_answer_are_kept():
    body = {"status": 429, "headers": {"Retry-After": "30"}}
    with serve(Echo) as url:
        [answer] = parallel.perform(calls(url, [body]), timeout=(2, 5), connections=2)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "30"
    assert json.loads(answer.text)["echo"] == body


def test_a_refused_connection_is_a_failure_before_anything_was_sent():
    [failure] = parallel.perform(calls(refused_url(), [{}]), timeout=(2, 5), connections=1)
    assert isinstance(failure, parallel.TransportError)
    assert not failure.connected and not failure.timed_out


def test_no_answer_in_time_may_have_reached_the_provider():
    with serve(Echo) as url:
        [failure] = parallel.perform(calls(url, [{"delay": 1.5}]), timeout=(1, 0.2), connections=1)
    assert isinstance(failure, parallel.TransportError)
    assert failure.connected and failure.timed_out


def test_a_connection_closed_without_an_answer_may_have_reached_the_provider():
    Echo.seen = []
    with serve(Echo) as url:
        answers = parallel.perform(
            calls(url, [{"n": 1}, {"close": True}, {"n": 3}]), timeout=(2, 5), connections=1
        )
    assert answers[0].json()["echo"]["n"] == 1
    assert isinstance(answers[1], parallel.TransportError)
    assert answers[1].connected and not answers[1].timed_out
    # The next call goes out on a fresh connection.
    assert answers[2].json()["echo"]["n"] == 3
    # What libcurl does on its own: a request whose reused connection died
    # before any answer is made once more on a fresh connection (it has no
    # option to stop that). Only when that one fails too does the failure
    # come back, as "may have been sent".
    assert [seen["body"] for seen in Echo.seen].count({"close": True}) == 2


class Redirect(BaseHTTPRequestHandler):
    target = ""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(302)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_a_redirect_is_answered_not_followed():
    Echo.seen = []
    with serve(Echo) as elsewhere, serve(Redirect) as url:
        Redirect.target = elsewhere + "/stolen"
        [answer] = parallel.perform(calls(url, [{"n": 1}]), timeout=(2, 5), connections=1)
    assert answer.status_code == 302
    assert Echo.seen == []  # the key never went to the other host


def test_connections_are_kept_from_one_wave_to_the_next():
    Echo.seen, Echo.peers = [], set()
    with serve(Echo) as url:
        for wave in range(3):
            answers = parallel.perform(
                calls(url, [{"n": n} for n in range(10)]), timeout=(2, 5), connections=2
            )
            assert [a.json()["echo"]["n"] for a in answers] == list(range(10)), wave
    assert len(Echo.seen) == 30
    assert len(Echo.peers) <= 2


def test_nothing_to_do_makes_no_call():
    assert parallel.perform([], timeout=(1, 1), connections=4) == []


def test_https_answers_are_checked_against_the_certificates_requests_uses(monkeypatch):
    import certifi

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert parallel.ca_bundle() == certifi.where()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/private-ca.pem")
    assert parallel.ca_bundle() == "/etc/ssl/private-ca.pem"
