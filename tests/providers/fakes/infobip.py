"""A fake Infobip SMS API, as seeds 001 and 003 and the OpenAPI spec describe it.

- ``POST /sms/2/text/advanced`` takes ``messages[]`` with ``destinations[]``,
  keeps a given ``messageId``/``bulkId`` or makes one up, and answers every
  destination with PENDING_ACCEPTED (group 1, id 26).
- Each message then gets its final report: numbers ending in 9 are
  UNDELIVERABLE with EC_ABSENT_SUBSCRIBER, the rest DELIVERED_TO_HANDSET at
  0.01 EUR a part (``price.pricePerMessage`` is the price of one part). A
  message with a future ``sendAt`` waits (no report) until cancelled. A
  report goes one way only: to the message's ``notifyUrl`` (queued in
  ``pushes`` for the test to deliver, see ``report_body``) when it named one,
  else it is handed out once by ``GET /sms/3/reports`` (or the older
  ``/sms/1/reports``).
- ``on_send``, when set, is called with the reports of a send before the send
  is answered, as Infobip may push a report before our worker has read the
  answer.
- Inbound messages put in ``inbox`` are handed out once by
  ``GET /sms/1/inbox/reports``.
- ``GET /sms/3/logs`` (and the deprecated ``/sms/1/logs``) filters by
  comma-separated ``messageId``/``bulkId`` and is not consumed; each answers
  in its own field names. ``PUT /sms/1/bulks/status`` pauses or cancels a
  bulk.
- With ``older_only`` set, the v3 reading endpoints answer 404, as on an
  account that does not have them.
- ``POST /sms/1/preview`` answers the seed's preview shape, counting parts
  as it counts them for a send.
- Only ``Authorization: App <key>`` is accepted; errors use the documented
  ``requestError.serviceException`` envelope.
- Each request is kept in ``calls`` (method, path, query, body, headers);
  while ``outage`` is set every request gets that answer instead.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import Outage


def make_handler(api_key: str = "test-key") -> type[BaseHTTPRequestHandler]:
    """A handler class with its own store, so tests never share messages."""

    class Handler(InfobipHandler):
        pass

    Handler.api_key = api_key
    Handler.logs = {}
    Handler.reports = []
    Handler.bulks = {}
    Handler.requests_seen = []
    Handler.calls = []
    Handler.outage = None
    Handler.pushes = []
    Handler.on_send = None
    Handler.inbox = []
    Handler.older_only = False
    return Handler


class InfobipHandler(BaseHTTPRequestHandler):
    api_key: str
    logs: dict[str, dict[str, Any]]
    reports: list[dict[str, Any]]
    bulks: dict[str, dict[str, Any]]
    requests_seen: list[tuple[str, str, Any]]
    calls: list[dict[str, Any]]
    outage: Outage | None
    # (notifyUrl, notifyContentType, report) for each report to push.
    pushes: list[tuple[str, str, dict[str, Any]]]
    on_send: Callable[[list[tuple[str, str, dict[str, Any]]]], None] | None
    inbox: list[dict[str, Any]]
    older_only: bool

    @classmethod
    def take_pushes(cls) -> list[tuple[str, str, dict[str, Any]]]:
        """The reports waiting to be pushed; each is handed out once."""
        taken = list(cls.pushes)
        cls.pushes.clear()
        return taken

    def do_GET(self) -> None:
        self.handle_call("GET")

    def do_POST(self) -> None:
        self.handle_call("POST")

    def do_PUT(self) -> None:
        self.handle_call("PUT")

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_call(self, method: str) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        body: Any = None
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.calls.append(
            {
                "method": method,
                "path": url.path,
                "query": query,
                "body": raw,
                "headers": dict(self.headers),
            }
        )
        if self.outage is not None:
            return self.outage.answer(self)
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return self.error(400, "BAD_REQUEST", "Invalid JSON")
            self.calls[-1]["body"] = body
        self.requests_seen.append((method, url.path, body))
        if self.headers.get("Authorization") != f"App {self.api_key}":
            return self.error(401, "UNAUTHORIZED", "Invalid login details")
        route = (method, url.path.rstrip("/"))
        if route in (("GET", "/sms/3/reports"), ("GET", "/sms/3/logs")) and self.older_only:
            return self.error(404, "NOT_FOUND", "Not found")
        if route == ("POST", "/sms/2/text/advanced"):
            return self.send_messages(body)
        if route in (("GET", "/sms/1/reports"), ("GET", "/sms/3/reports")):
            return self.pull_reports(query, v3=route[1].startswith("/sms/3"))
        if route == ("GET", "/sms/1/inbox/reports"):
            return self.pull_inbound(query)
        if route in (("GET", "/sms/1/logs"), ("GET", "/sms/3/logs")):
            return self.read_logs(query, v3=route[1].startswith("/sms/3"))
        if route == ("PUT", "/sms/1/bulks/status"):
            return self.update_bulk(query, body)
        if route == ("POST", "/sms/1/preview"):
            return self.preview(body)
        return self.error(404, "NOT_FOUND", "Not found")

    # -- endpoints ------------------------------------------------------------

    def send_messages(self, body: Any) -> None:
        problems = validate(body)
        if problems:
            return self.error(400, "BAD_REQUEST", "Bad request", problems)
        bulk_id = body.get("bulkId") or new_id()
        scheduled = False
        answer = []
        pushes_before = len(self.pushes)
        for message in body["messages"]:
            send_at = message.get("sendAt")
            later = bool(send_at) and parse_time(send_at) > now()
            scheduled = scheduled or later
            for destination in message["destinations"]:
                message_id = destination.get("messageId") or new_id()
                parts = sms_count(message.get("text", ""))
                log = {
                    "bulkId": bulk_id,
                    "messageId": message_id,
                    "to": destination["to"],
                    "from": message.get("from", ""),
                    "text": message.get("text", ""),
                    "sentAt": send_at if later else stamp(now()),
                    "smsCount": parts,
                    "status": PENDING_ACCEPTED,
                }
                self.logs[message_id] = log
                if not later:
                    self.settle(log, message)
                answer.append(
                    {"to": destination["to"], "status": PENDING_ACCEPTED}
                    | {"messageId": message_id}
                )
        self.bulks[bulk_id] = {"status": "PENDING" if scheduled else "FINISHED"}
        # Read from the class: a function stored on it is not a method.
        on_send = type(self).on_send
        if on_send is not None:
            on_send(self.pushes[pushes_before:])
        self.answer({"bulkId": bulk_id, "messages": answer})

    # Not ``finish``: that name belongs to the request handler's own cleanup.
    def settle(self, log: dict[str, Any], message: dict[str, Any]) -> None:
        if log["to"].endswith("9"):
            status, error = UNDELIVERABLE, ABSENT_SUBSCRIBER
        else:
            status, error = DELIVERED_TO_HANDSET, NO_ERROR
        report = {
            "bulkId": log["bulkId"],
            "messageId": log["messageId"],
            "to": log["to"],
            "sentAt": log["sentAt"],
            "doneAt": stamp(now()),
            "smsCount": log["smsCount"],
            # The price of one SMS (part), as the spec says.
            "price": {"pricePerMessage": 0.01, "currency": "EUR"},
            "status": status,
            "error": error,
        }
        if message.get("callbackData"):
            report["callbackData"] = message["callbackData"]
        log.update({k: report[k] for k in ("doneAt", "price", "status", "error")})
        if message.get("notifyUrl"):
            content_type = message.get("notifyContentType") or "application/json"
            self.pushes.append((message["notifyUrl"], content_type, report))
        else:
            self.reports.append(report)

    def pull_reports(self, query: dict[str, str], v3: bool = False) -> None:
        limit = min(int(query.get("limit") or 50), 1000)
        handed, kept = [], []
        for report in self.reports:
            wanted = query.get("messageId") in (None, report["messageId"]) and query.get(
                "bulkId"
            ) in (None, report["bulkId"])
            (handed if wanted and len(handed) < limit else kept).append(report)
        self.reports[:] = kept
        if v3:
            # The v3 report calls the part count messageCount.
            handed = [
                {("messageCount" if k == "smsCount" else k): v for k, v in r.items()}
                for r in handed
            ]
        self.answer({"results": handed})

    def pull_inbound(self, query: dict[str, str]) -> None:
        limit = min(int(query.get("limit") or 50), 1000)
        handed = self.inbox[:limit]
        del self.inbox[:limit]
        self.answer(
            {
                "results": handed,
                "messageCount": len(handed),
                "pendingMessageCount": len(self.inbox),
            }
        )

    def read_logs(self, query: dict[str, str], v3: bool = False) -> None:
        message_ids = set(filter(None, query.get("messageId", "").split(",")))
        bulk_ids = set(filter(None, query.get("bulkId", "").split(",")))
        limit = min(int(query.get("limit") or 50), 1000)
        rows = [
            log
            for log in self.logs.values()
            if (not message_ids or log["messageId"] in message_ids)
            and (not bulk_ids or log["bulkId"] in bulk_ids)
        ][:limit]
        if v3:
            rows = [log_v3(log) for log in rows]
        self.answer({"results": rows})

    def update_bulk(self, query: dict[str, str], body: Any) -> None:
        bulk = self.bulks.get(query.get("bulkId", ""))
        if bulk is None:
            return self.error(404, "NOT_FOUND", "Bulk not found")
        status = (body or {}).get("status")
        if status not in ("PAUSED", "PROCESSING", "CANCELED"):
            return self.error(400, "BAD_REQUEST", "Bad request", {"status": ["invalid"]})
        if bulk["status"] == "FINISHED":
            return self.error(400, "BAD_REQUEST", "Bulk already sent")
        bulk["status"] = status
        self.answer({"bulkId": query["bulkId"], "status": status})

    def preview(self, body: Any) -> None:
        text = (body or {}).get("text")
        if not isinstance(text, str):
            return self.error(400, "BAD_REQUEST", "Bad request", {"text": ["must not be null"]})
        parts = sms_count(text)
        room = 160 if parts == 1 else 153 * parts
        self.answer(
            {
                "originalText": text,
                "previews": [
                    {
                        "textPreview": text,
                        "messageCount": parts,
                        "charactersRemaining": room - len(text),
                        "configuration": {},
                    }
                ],
            }
        )

    # -- helpers --------------------------------------------------------------

    def answer(self, payload: Any, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status: int, message_id: str, text: str, problems: dict | None = None) -> None:
        exception: dict[str, Any] = {"messageId": message_id, "text": text}
        if problems:
            exception["validationErrors"] = problems
        self.answer({"requestError": {"serviceException": exception}}, status)


PENDING_ACCEPTED = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 26,
    "name": "PENDING_ACCEPTED",
    "description": "Message sent to next instance",
}
DELIVERED_TO_HANDSET = {
    "groupId": 3,
    "groupName": "DELIVERED",
    "id": 5,
    "name": "DELIVERED_TO_HANDSET",
    "description": "Message delivered to handset",
}
UNDELIVERABLE = {
    "groupId": 2,
    "groupName": "UNDELIVERABLE",
    "id": 9,
    "name": "UNDELIVERABLE_NOT_DELIVERED",
    "description": "Message sent not delivered",
}
NO_ERROR = {
    "groupId": 0,
    "groupName": "OK",
    "id": 0,
    "name": "NO_ERROR",
    "description": "No Error",
    "permanent": False,
}
ABSENT_SUBSCRIBER = {
    "groupId": 1,
    "groupName": "HANDSET_ERRORS",
    "id": 27,
    "name": "EC_ABSENT_SUBSCRIBER",
    "description": "Absent Subscriber",
    "permanent": False,
}


def validate(body: Any) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return {"messages": ["must not be null"]}
    if not body["messages"]:
        return {"messages": ["must not be empty"]}
    for m, message in enumerate(body["messages"]):
        destinations = message.get("destinations") if isinstance(message, dict) else None
        if not isinstance(destinations, list) or not destinations:
            problems[f"messages[{m}].destinations"] = ["must not be empty"]
            continue
        for d, destination in enumerate(destinations):
            to = destination.get("to") if isinstance(destination, dict) else None
            if not isinstance(to, str) or not to.isdigit() or len(to) > 64:
                problems[f"messages[{m}].destinations[{d}].to"] = ["invalid destination address"]
            message_id = destination.get("messageId", "") if isinstance(destination, dict) else ""
            if len(str(message_id)) > 200:
                problems[f"messages[{m}].destinations[{d}].messageId"] = ["too long"]
    return problems


def log_v3(log: dict[str, Any]) -> dict[str, Any]:
    """A log entry as ``/sms/3/logs`` writes it (the spec's field names)."""
    renamed = {"to": "destination", "from": "sender", "smsCount": "messageCount"}
    entry = {renamed.get(k, k): v for k, v in log.items() if k != "text"}
    entry["content"] = {"text": log.get("text", "")}
    return entry


def sms_count(text: str) -> int:
    # Enough for a fake: the GSM-7 part sizes, by character.
    return 1 if len(text) <= 160 else -(-len(text) // 153)


def new_id() -> str:
    return str(int(secrets.token_hex(8), 16))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


# -- what Infobip pushes ----------------------------------------------------------


def inbound_message(sender: str, to: str, text: str) -> dict[str, Any]:
    """A received message, shaped like the documented inbound report."""
    words = text.split(maxsplit=1)
    return {
        "messageId": new_id(),
        "from": sender,
        "to": to,
        "text": text,
        "cleanText": words[1] if len(words) > 1 else "",
        "keyword": words[0].upper() if words else "",
        "receivedAt": stamp(now()),
        "smsCount": 1,
        "price": {"pricePerMessage": 0, "currency": "EUR"},
    }


def report_body(results: list[dict[str, Any]], content_type: str = "application/json") -> bytes:
    """A push to a notifyUrl or an inbound URL: ``{"results": [...]}`` in JSON,
    or the same as ``<reportResponse>`` XML (seed 003's XML shape)."""
    if "xml" not in content_type:
        return json.dumps({"results": results}).encode()
    root = ET.Element("reportResponse")
    listing = ET.SubElement(root, "results")
    for result in results:
        _xml_fill(ET.SubElement(listing, "result"), result)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode").encode()
    )


def _xml_fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _xml_fill(ET.SubElement(element, key), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)
