"""Small stand-ins for provider APIs, served on the loopback interface.

Each fake is a ``BaseHTTPRequestHandler`` subclass that behaves as its
provider's documents say; ``serve`` runs one for the length of a test so a
backend can be exercised over real HTTP without reaching the internet.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serve(handler_class: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler_class`` on 127.0.0.1 at a free port; yields the base URL."""

    class Quiet(handler_class):
        # Request lines on stderr would only clutter the test output.
        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Outage:
    """What a provider answers while it is down or throttling us: set one as
    a fake's ``outage`` and every request gets it until it is cleared."""

    status: int = 503
    body: str = "<html><body>Service Unavailable</body></html>"
    content_type: str = "text/html"
    retry_after: str | None = None

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        payload = self.body.encode()
        handler.send_response(self.status)
        handler.send_header("Content-Type", self.content_type)
        handler.send_header("Content-Length", str(len(payload)))
        if self.retry_after is not None:
            handler.send_header("Retry-After", self.retry_after)
        handler.end_headers()
        handler.wfile.write(payload)


def refused_url() -> str:
    """A loopback URL where nothing listens, so a connection is refused.

    The port is taken from the system and released at once; nothing else in
    a test run binds loopback ports on purpose, so it stays free."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
