"""Loopback mocks of two providers, fast enough not to be what is measured.

- ``infobip``: ``POST /sms/2/text/advanced`` with ``Authorization: App <key>``,
  ``messages[]`` with ``destinations[]`` (seed 003); every destination is
  answered PENDING_ACCEPTED (group 1, id 26) with the ``messageId`` it was
  given, or one made up; errors use the ``requestError.serviceException``
  envelope.
- ``sendsms``: one JSON ``sendsms`` action per request to the endpoint URL,
  ``x-api-key`` header (seed 002); ``Success`` with a ``tracking-id`` or
  ``Failure`` with the documented error code.

Both count at the receiving end: every accepted request is logged with its
arrival time (the moment its body was complete) and how many messages it
carried. ``GET /_bench/stats`` reports the counts, the busiest 1-second
window by arrival time, and the mock's own peak RSS; ``POST /_bench/reset``
starts a new count. The HTTP/1.1 server is a plain asyncio protocol with
keep-alive, so one process serves far more than the product sends.

Run: ``python -m bench.mocks infobip --port 8001 --api-key KEY``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from typing import Any

PENDING_ACCEPTED = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 26,
    "name": "PENDING_ACCEPTED",
    "description": "Message sent to next instance",
}

_ids = itertools.count(1)


class Counter:
    """Arrivals at the mock: (wall-clock time, messages in the request)."""

    def __init__(self):
        self.arrivals: list[tuple[float, int]] = []
        self.refused = 0

    def add(self, n: int) -> None:
        self.arrivals.append((time.time(), n))

    def stats(self) -> dict[str, Any]:
        arrivals = self.arrivals
        messages = sum(n for _, n in arrivals)
        out: dict[str, Any] = {
            "requests": len(arrivals),
            "messages": messages,
            "refused": self.refused,
            "first": arrivals[0][0] if arrivals else None,
            "last": arrivals[-1][0] if arrivals else None,
            "max_in_1s": busiest_second(arrivals),
            "peak_rss_mb": _own_peak_rss(),
        }
        if len(arrivals) > 1 and arrivals[-1][0] > arrivals[0][0]:
            # The first request opens the interval, so its messages are not
            # part of the rate measured over it.
            out["rate"] = (messages - arrivals[0][1]) / (arrivals[-1][0] - arrivals[0][0])
        return out


def busiest_second(arrivals: list[tuple[float, int]]) -> int:
    """The most messages that arrived in any window [t, t + 1 s)."""
    best = inside = 0
    start = 0
    for t, n in arrivals:
        inside += n
        while arrivals[start][0] <= t - 1.0:
            inside -= arrivals[start][1]
            start += 1
        best = max(best, inside)
    return best


def _own_peak_rss() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# -- the providers ---------------------------------------------------------------


def infobip(api_key: str, counter: Counter):
    def error(status: int, message_id: str, text: str) -> tuple[int, Any]:
        counter.refused += 1
        return status, {
            "requestError": {"serviceException": {"messageId": message_id, "text": text}}
        }

    def handle(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if (method, path.split("?")[0].rstrip("/")) != ("POST", "/sms/2/text/advanced"):
            return error(404, "NOT_FOUND", "Not found")
        if headers.get("authorization") != f"App {api_key}":
            return error(401, "UNAUTHORIZED", "Invalid login details")
        try:
            payload = json.loads(body)
            messages = payload["messages"]
        except (ValueError, KeyError, TypeError):
            return error(400, "BAD_REQUEST", "Invalid request")
        answer = []
        for message in messages:
            destinations = message.get("destinations") if isinstance(message, dict) else None
            if not destinations or "text" not in message:
                return error(400, "BAD_REQUEST", "messages[].destinations must not be empty")
            for destination in destinations:
                to = str(destination.get("to", ""))
                if not to.isdigit() or len(to) > 64:
                    return error(400, "BAD_REQUEST", f"Invalid destination address {to!r}")
                answer.append(
                    {
                        "to": to,
                        "status": PENDING_ACCEPTED,
                        "messageId": destination.get("messageId") or str(next(_ids)),
                    }
                )
        counter.add(len(answer))
        return 200, {"bulkId": payload.get("bulkId") or f"bulk-{next(_ids)}", "messages": answer}

    return handle


def sendsms(api_key: str, counter: Counter):
    def failure(code: str, info: str, to: str = "") -> tuple[int, Any]:
        counter.refused += 1
        return 200, {"status": "Failure", "error-code": code, "error-info": info, "to": to}

    def handle(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if method != "POST":
            return 405, {"status": "Failure", "error-code": "E100", "error-info": "POST only"}
        if headers.get("x-api-key") != api_key:
            return failure("E104", "Invalid API Key.")
        try:
            payload = json.loads(body)
        except ValueError:
            return failure("E108", "Invalid JSON.")
        if str(payload.get("action", "")).lower() != "sendsms":
            return failure("E107", "Invalid action.")
        to = str(payload.get("to", ""))
        if not payload.get("message-text") or not payload.get("from"):
            return failure("E100", "Invalid request.", to)
        if not to.isdigit():
            return failure("E110", "Invalid To number.", to)
        counter.add(1)
        return 200, {
            "status": "Success",
            "tracking-id": f"{next(_ids):012x}",
            "to": to,
            "from": payload["from"],
            "status-details": "SMS request accepted and queued for delivery",
        }

    return handle


# -- HTTP/1.1 -------------------------------------------------------------------------


class Http(asyncio.Protocol):
    def __init__(self, handle, counter: Counter):
        self.handle = handle
        self.counter = counter
        self.buffer = bytearray()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            try:
                method, target, _ = lines[0].split(" ", 2)
            except ValueError:
                self.transport.close()
                return
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self.respond(411, {"error": "Content-Length required"}, close=True)
                return
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            status, payload = self.route(method, target, headers, body)
            self.respond(status, payload, close=headers.get("connection", "").lower() == "close")

    def route(self, method, target, headers, body):
        if target == "/_bench/stats":
            return 200, self.counter.stats()
        if target == "/_bench/reset" and method == "POST":
            self.counter.__init__()
            return 200, {"reset": True}
        return self.handle(method, target, headers, body)

    def respond(self, status: int, payload: Any, *, close: bool = False) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            f"{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n"
        )
        self.transport.write(head.encode() + data)
        if close:
            self.transport.close()


async def serve(kind: str, port: int, api_key: str) -> None:
    counter = Counter()
    handle = {"infobip": infobip, "sendsms": sendsms}[kind](api_key, counter)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Http(handle, counter), "127.0.0.1", port, backlog=1024, reuse_address=True
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=["infobip", "sendsms"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.kind, args.port, args.api_key))


if __name__ == "__main__":
    main()
