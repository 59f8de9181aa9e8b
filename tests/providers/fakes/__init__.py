"""Small stand-ins for provider APIs, served on the loopback interface.

Each fake is a ``BaseHTTPRequestHandler`` subclass that behaves as its
provider's documents say; ``serve`` runs one for the length of a test so a
backend can be exercised over real HTTP without reaching the internet.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
