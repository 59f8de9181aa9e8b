"""A fake of the x-api-key "sendsms" provider: one endpoint URL taking JSON
actions, answering Success/Failure as its documents describe."""

from __future__ import annotations

import json
import uuid
from http.server import BaseHTTPRequestHandler


def handler(api_key: str) -> type[BaseHTTPRequestHandler]:
    """A handler class accepting ``api_key``; each request it gets is kept in
    its ``received`` list as ``(path, headers, body)``."""

    class Sendsms(BaseHTTPRequestHandler):
        received: list[tuple[str, dict[str, str], bytes]] = []

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.received.append((self.path, dict(self.headers), body))
            if self.headers.get("x-api-key") != api_key:
                return self.answer(failure("E104", "Invalid API Key."))
            try:
                payload = json.loads(body)
            except ValueError:
                return self.answer(failure("E108", "Invalid JSON."))
            if str(payload.get("action", "")).lower() != "sendsms":
                return self.answer(failure("E107", "Invalid action."))
            to = str(payload.get("to", ""))
            if not payload.get("message-text") or not payload.get("from"):
                return self.answer(failure("E100", "Invalid request.", to))
            if not to.isdigit():
                return self.answer(failure("E110", "Invalid To number.", to))
            self.answer(
                {
                    "status": "Success",
                    "tracking-id": uuid.uuid4().hex[:12],
                    "to": to,
                    "from": payload["from"],
                    "status-details": "SMS request accepted and queued for delivery",
                }
            )

        def answer(self, data: dict) -> None:
            out = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    return Sendsms


def failure(code: str, info: str, to: str = "") -> dict:
    return {"status": "Failure", "error-code": code, "error-info": info, "to": to}
