"""A fake of voip-communications.net api-v2: Basic auth, form-encoded
``sms/send`` answering a ``send_log`` per number, the SMS log
``sms/summary`` and ``sms/delete`` for scheduled messages.

With ``settle=True`` a message sent now has reached its handset by the time
the log is read: the log shows DELIVERED, or UNDELIVERED for numbers ending
in 9 (the provider's words for a message's life are not public; these are
the ones the backend reads). While ``outage`` is set every request gets that
answer instead. An action named in ``absent`` (an account without the
unpublished ``sms/summary`` or ``sms/delete``) answers HTTP 404 with the body
given there.
"""

from __future__ import annotations

import base64
import json
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

from . import Outage

PREFIX = "/api-v2/index.php/"


def handler(
    api_key: str, api_password: str, numbers: tuple[str, ...] = (), settle: bool = False
) -> type[BaseHTTPRequestHandler]:
    """A handler class for one account owning ``numbers``; it keeps each
    request as ``(path, headers, form)`` in ``received`` and the messages it
    holds in ``log`` (newest first)."""
    expected = "Basic " + base64.b64encode(f"{api_key}:{api_password}".encode()).decode()

    class VoipComms(BaseHTTPRequestHandler):
        received: list[tuple[str, dict[str, str], dict[str, str]]] = []
        log: list[dict] = []
        outage: Outage | None = None
        absent: dict[str, dict] = {}

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
            self.received.append((self.path, dict(self.headers), form))
            if self.outage is not None:
                return self.outage.answer(self)
            if self.headers.get("Authorization") != expected:
                return self.answer(401, {"error": True, "error_message": "Invalid credentials"})
            action = self.path.removeprefix(PREFIX)
            if action in self.absent:
                return self.answer(404, self.absent[action])
            if action == "sms/send":
                return self.send_sms(form)
            if action == "sms/summary":
                return self.summary(int(form.get("page") or 1))
            if action == "sms/delete":
                return self.delete(form.get("smsid", ""))
            self.answer(404, {"error": True, "error_message": "Unknown method"})

        def send_sms(self, form):
            sender = form.get("from", "")
            if sender and sender not in numbers:
                return self.error("The from number does not belong to you")
            if not form.get("to") or not form.get("msg"):
                return self.error("to and msg are required")
            entries = []
            for to in form["to"].split(","):
                scheduled = bool(form.get("delivery_date"))
                entry = {
                    "code": 200,
                    "code_desc": "",
                    "from": sender,
                    "to": to,
                    "country": "US",
                    "msg": form["msg"],
                    "delivery_date": form.get("delivery_date", "") + ":00" if scheduled else "",
                    "sale": 0.01,
                    "type": "SMS" if sender else "BULKSMS",
                    "status": "SCHEDULED" if scheduled else "SENT",
                    "smsid": uuid.uuid4().hex[:27],
                }
                entries.append(entry)
                self.log.insert(0, entry)
            self.answer(200, {"send_log": entries})

        def summary(self, page):
            if settle:
                for entry in self.log:
                    if entry["status"] == "SENT":
                        failed = entry["to"].endswith("9")
                        entry["status"] = "UNDELIVERED" if failed else "DELIVERED"
            rows = self.log[(page - 1) * 10 : page * 10]
            self.answer(
                200,
                {
                    "summary": [
                        {
                            "sms_id": e["smsid"],
                            "sms_country": e["country"],
                            "sms_status": e["status"],
                            "sms_external": e["to"],
                            "sms_sale": str(e["sale"]),
                            "sms_status_date": "2024-03-05 10:00:00",
                            "sms_msg": e["msg"],
                        }
                        for e in rows
                    ]
                },
            )

        def delete(self, smsid):
            for entry in self.log:
                if entry["smsid"] == smsid and entry["status"] == "SCHEDULED":
                    entry["status"] = "DELETED"
                    return self.answer(200, {"error": False, "smsid": smsid})
            self.error("The SMS is not scheduled")

        def error(self, message):
            self.answer(200, {"error": True, "error_message": message})

        def answer(self, code: int, data: dict) -> None:
            out = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    return VoipComms
