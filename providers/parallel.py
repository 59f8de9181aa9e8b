"""Many HTTP requests in flight at once, from one thread.

A provider that takes one recipient per request needs one request per
message. Made one after another through ``requests`` they cost about half a
millisecond of Python each, which caps a worker at a few thousand messages a
second whatever the provider could take. libcurl's multi interface (through
pycurl) keeps a handful of keep-alive connections busy and does the I/O in
C, so the Python cost per request is building its body and reading its
answer.

``perform`` takes prepared ``Call``s and returns, in the same order, an
``Answer`` (enough of ``requests.Response`` for the backends' readers) or a
``TransportError`` saying whether the request may have reached the
provider. Which HTTP statuses are errors is decided by the backend base
class, the same way for both transports.

One thing libcurl does on its own: when a kept-alive connection dies before
any byte of the answer, it makes the request once more on a fresh
connection (usually the server had closed an idle connection as the request
went out, so nothing was taken; there is no option to turn this off). A
provider that took the request and then dropped the connection without
answering would get it twice; the requests path treats that case as a
connection error, which is retried later, so neither path is worse.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import certifi
import pycurl
from requests.structures import CaseInsensitiveDict

USER_AGENT = "smsportal"


@dataclass(frozen=True)
class Call:
    """One HTTP request, ready to go."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""


class Answer:
    """An HTTP answer: status, headers (any case) and body."""

    def __init__(self, status_code: int, head: bytes, content: bytes):
        self.status_code = status_code
        self.content = content
        self._head = head

    @cached_property
    def headers(self) -> CaseInsensitiveDict:
        headers: CaseInsensitiveDict = CaseInsensitiveDict()
        for line in self._head.decode("latin-1").split("\r\n"):
            if line.startswith("HTTP/"):
                # A new status line (after "100 Continue"): its headers count.
                headers = CaseInsensitiveDict()
            elif ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip()] = value.strip()
        return headers

    @property
    def text(self) -> str:
        return self.content.decode(self._charset(), errors="replace")

    def json(self) -> Any:
        # A body that is not UTF-8 raises UnicodeDecodeError, a ValueError,
        # as an unreadable body does with requests.
        return json.loads(self.content)

    def _charset(self) -> str:
        for part in self.headers.get("Content-Type", "").split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                try:
                    "".encode(value.strip('"'))
                    return value.strip('"')
                except LookupError:
                    break
        return "utf-8"


@dataclass(frozen=True)
class TransportError:
    """No HTTP answer. ``connected`` tells whether the request may have
    reached the provider (it went out on an open connection); ``timed_out``
    whether the time ran out rather than the connection failing."""

    connected: bool
    timed_out: bool
    detail: str


# libcurl results that mean nothing was sent: no connection was made.
_NOT_CONNECTED = {
    pycurl.E_COULDNT_CONNECT,
    pycurl.E_COULDNT_RESOLVE_HOST,
    pycurl.E_COULDNT_RESOLVE_PROXY,
}


class _Transfer:
    """An easy handle kept for reuse, with the buffers of its current call."""

    def __init__(self):
        self.curl = pycurl.Curl()
        self.body = io.BytesIO()
        self.head = io.BytesIO()
        self.index = -1
        # Bound methods of BytesIO: libcurl's callbacks stay out of Python
        # code, and headers are parsed only when someone reads them.
        self.curl.setopt(pycurl.WRITEFUNCTION, self.body.write)
        self.curl.setopt(pycurl.HEADERFUNCTION, self.head.write)

    def start(self, index: int, call: Call, timeout: tuple[float, float]) -> None:
        curl = self.curl
        self.index = index
        for buffer in (self.body, self.head):
            buffer.seek(0)
            buffer.truncate()
        curl.setopt(pycurl.URL, call.url)
        connect, read = timeout
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, int(connect * 1000))
        curl.setopt(pycurl.TIMEOUT_MS, int((connect + read) * 1000))
        # "Expect:" turns off libcurl's "100-continue" round trip for bodies.
        curl.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in call.headers] + ["Expect:"])
        if call.method == "POST":
            curl.setopt(pycurl.POSTFIELDS, call.body)
        elif call.method == "GET":
            curl.setopt(pycurl.HTTPGET, 1)
        else:
            curl.setopt(pycurl.CUSTOMREQUEST, call.method)
            curl.setopt(pycurl.POSTFIELDS, call.body)

    def answer(self) -> Answer:
        return Answer(
            self.curl.getinfo(pycurl.RESPONSE_CODE), self.head.getvalue(), self.body.getvalue()
        )

    def failure(self, code: int, message: str) -> TransportError:
        connected = code not in _NOT_CONNECTED and bool(self.curl.getinfo(pycurl.CONNECT_TIME))
        return TransportError(
            connected=connected,
            timed_out=code == pycurl.E_OPERATION_TIMEDOUT,
            detail=message or f"libcurl error {code}",
        )

    def reset_method(self) -> None:
        # POSTFIELDS and CUSTOMREQUEST stay set on a reused handle.
        self.curl.unsetopt(pycurl.CUSTOMREQUEST)
        self.curl.setopt(pycurl.HTTPGET, 1)


class _Client:
    """One multi handle and its easy handles: connections stay open from
    one call of ``perform`` to the next in the same thread."""

    def __init__(self):
        self.multi = pycurl.CurlMulti()
        self.idle: list[_Transfer] = []
        self.width = 0

    def transfers(self, width: int) -> list[_Transfer]:
        if width != self.width:
            self.multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, width)
            self.multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, width)
            self.width = width
        while len(self.idle) < width:
            transfer = _Transfer()
            curl = transfer.curl
            curl.setopt(pycurl.NOSIGNAL, 1)
            # Never follow a redirect: credentials stay with the account's host.
            curl.setopt(pycurl.FOLLOWLOCATION, 0)
            curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
            curl.setopt(pycurl.CAINFO, ca_bundle())
            curl.setopt(pycurl.USERAGENT, USER_AGENT)
            self.idle.append(transfer)
        return self.idle[:width]

    def perform(
        self, calls: Sequence[Call], timeout: tuple[float, float], connections: int
    ) -> list[Answer | TransportError]:
        results: list[Answer | TransportError | None] = [None] * len(calls)
        free = list(self.transfers(max(1, min(connections, len(calls)))))
        by_handle = {id(t.curl): t for t in free}
        multi = self.multi
        next_call = 0
        running = 0
        try:
            while next_call < len(calls) or running:
                while free and next_call < len(calls):
                    transfer = free.pop()
                    transfer.reset_method()
                    transfer.start(next_call, calls[next_call], timeout)
                    multi.add_handle(transfer.curl)
                    next_call += 1
                    running += 1
                while True:
                    status, _ = multi.perform()
                    if status != pycurl.E_CALL_MULTI_PERFORM:
                        break
                while True:
                    queued, done, failed = multi.info_read()
                    for curl in done:
                        transfer = by_handle[id(curl)]
                        results[transfer.index] = transfer.answer()
                        multi.remove_handle(curl)
                        free.append(transfer)
                        running -= 1
                    for curl, code, message in failed:
                        transfer = by_handle[id(curl)]
                        results[transfer.index] = transfer.failure(code, message)
                        multi.remove_handle(curl)
                        free.append(transfer)
                        running -= 1
                    if not queued:
                        break
                if running and not (free and next_call < len(calls)):
                    multi.select(0.05)
        except BaseException:
            # An interrupted wave: the handles in it are taken out, and the
            # client starts again clean next time.
            for transfer in by_handle.values():
                with contextlib.suppress(pycurl.error):
                    multi.remove_handle(transfer.curl)
            _local.__dict__.pop("client", None)
            raise
        return results  # type: ignore[return-value]


def ca_bundle() -> str:
    """The certificates HTTPS answers are checked against: the ones requests
    uses, so both transports trust the same (a private CA included)."""
    return (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    )


_local = threading.local()


def perform(
    calls: Sequence[Call], *, timeout: tuple[float, float], connections: int
) -> list[Answer | TransportError]:
    """Make ``calls`` with up to ``connections`` of them in flight at once;
    one ``Answer`` or ``TransportError`` per call, in order."""
    if not calls:
        return []
    client = getattr(_local, "client", None)
    # A forked worker process must not share its parent's connections.
    if client is None or getattr(_local, "pid", None) != os.getpid():
        client = _Client()
        _local.client = client
        _local.pid = os.getpid()
    return client.perform(calls, timeout, connections)
