"""A fake of the x-api-key "sendsms" provider: one endpoint URL taking JSON
actions, answering Success/Failure as its documents describe.

- Every request is kept in ``received`` as ``(path, headers, body)``; each
  message it took is kept in ``sent`` (its fields and ``tracking-id``).
- Numbers in ``blacklisted`` are refused with E114, as the provider refuses
  a recipient who opted out with it; numbers in ``refusing`` (number ->
  (code, info)) with that Failure, naming the recipient, as it would with a
  code the documents do not list.
- While ``outage`` is set every request gets that answer instead.
- ``postbacks`` builds the postbacks the provider would then send for a
  message: N201 (sent), then N202 (delivered), or E201 (failed) for numbers
  ending in 9.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from . import Outage


def handler(api_key: str, blacklisted: tuple[str, ...] = ()) -> type[BaseHTTPRequestHandler]:
    """A handler class accepting ``api_key``, with its own records."""

    class Sendsms(BaseHTTPRequestHandler):
        received: list[tuple[str, dict[str, str], bytes]] = []
        sent: list[dict[str, Any]] = []
        outage: Outage | None = None
        refusing: dict[str, tuple[str, str]] = {}

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.received.append((self.path, dict(self.headers), body))
            if self.outage is not None:
                return self.outage.answer(self)
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
            if to in blacklisted:
                return self.answer(failure("E114", "Number is blacklisted.", to))
            if to in self.refusing:
                return self.answer(failure(*self.refusing[to], to))
            tracking_id = uuid.uuid4().hex[:12]
            self.sent.append({**payload, "tracking-id": tracking_id})
            self.answer(
                {
                    "status": "Success",
                    "tracking-id": tracking_id,
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


def postback(sent: dict[str, Any], code: str) -> dict[str, Any]:
    """The postback for a message the fake took (``sent`` is one of its
    ``sent`` entries), in the documented shape."""
    words = {"N201": "Sent", "N202": "Delivered", "E201": "Failed", "E202": "Rejected"}
    body = {
        "origin": "SMS_MT",
        "code": code,
        "sent-as": "SMS",
        "status": words[code],
        "from": sent["from"],
        "to": sent["to"],
        "tracking-id": sent["tracking-id"],
        "operator-id": "0001470",
        "operator-name": "AT&T",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
    }
    for optional in ("from-mask", "campaign-ref"):
        if optional in sent:
            body[optional] = sent[optional]
    return body


def postbacks(sent: dict[str, Any]) -> list[dict[str, Any]]:
    """What the provider posts back for one message, in order."""
    final = "E201" if str(sent["to"]).endswith("9") else "N202"
    return [postback(sent, "N201"), postback(sent, final)]


def reply(sender: str, to: str, text: str) -> dict[str, Any]:
    """A subscriber's reply (SMS_MO postback)."""
    return {
        "origin": "SMS_MO",
        "code": "N211",
        "from": sender,
        "to": to,
        "message-text": text,
        "tracking-id": "smsmo" + secrets.token_hex(5),
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
