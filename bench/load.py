"""A small closed-loop HTTP/1.1 load generator for loopback servers.

``concurrency`` keep-alive connections each send the next request as soon as
the previous answer is complete, so the rate measured is what the server
sustains. Every request is counted with its status and latency (from the
first byte written to the last byte of the answer read). Used for the
webhook ingest and for the no-op view it is compared with, so both are
measured by the same tool.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # What the request carries, e.g. the number of delivery reports.
    weight: int = 1


@dataclass
class Result:
    requests: int = 0
    weight: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def weight_rate(self) -> float:
        return self.weight / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Latency in milliseconds at percentile ``p`` (0–100)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one answer, and whether the server closes the
    connection after it (gunicorn's sync workers always do)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = None
    chunked = False
    close = lines[0].startswith("HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name == "connection":
            close = value.strip().lower() == "close"
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


async def _connection(host, port, requests: Iterator[Request], result: Result, stop_at: float):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for request in requests:
            if time.monotonic() >= stop_at:
                return
            headers = {"Host": f"{host}:{port}", "Content-Length": str(len(request.body))}
            headers.update(request.headers)
            data = (
                f"{request.method} {request.path} HTTP/1.1\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                + "\r\n"
            ).encode() + request.body
            started = time.perf_counter()
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(data)
            status, close = await _read_response(reader)
            if close:
                writer.close()
                writer = None
            result.latencies.append(time.perf_counter() - started)
            result.requests += 1
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                result.weight += request.weight
    finally:
        if writer is not None:
            writer.close()


def run(
    port: int,
    requests: Iterator[Request],
    *,
    concurrency: int,
    duration: float | None = None,
    host: str = "127.0.0.1",
) -> Result:
    """Send ``requests`` (shared by all connections, in order) until they run
    out or ``duration`` seconds pass."""
    result = Result()

    async def main():
        stop_at = time.monotonic() + duration if duration else float("inf")
        started = time.monotonic()
        await asyncio.gather(
            *(_connection(host, port, requests, result, stop_at) for _ in range(concurrency))
        )
        result.seconds = time.monotonic() - started

    asyncio.run(main())
    return result


def repeat(request: Request) -> Iterator[Request]:
    while True:
        yield request
