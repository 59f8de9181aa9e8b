"""A fake Infopromo portal: both APIs (v3 with a Bearer token, HTTP with
``api_token``), as the provider's document and its known behaviour describe.

- Sends assign a 13-hex uid per number and answer "Delivered", which at that
  point only means the gateway took the message.
- One number gets ``data`` as an object; several get an array whose rows carry
  ``customer_status``; a scheduled send to several numbers gets no ``data``.
- ``GET sms/{uid}`` gives the delivery outcome: numbers ending in 9 are
  Undelivered, the rest Delivered; a scheduled message is "Scheduled" until
  ``send_scheduled()`` sends what the portal holds.
- Errors are ``{"status": "error", "message": ...}`` with HTTP 200, except a
  missing Bearer token on v3 (401, as Laravel answers).
- Each request is kept in ``calls`` (method, path, query, body, headers);
  while ``outage`` is set every request gets that answer instead.
"""

from __future__ import annotations

import json
import math
import secrets
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import Outage

PER_PAGE = 25


def make_handler(
    token: str = "test-token", lists: dict[str, list[str]] | None = None
) -> type[BaseHTTPRequestHandler]:
    """A handler class with its own store, so tests never share messages."""

    class Handler(InfopromoHandler):
        pass

    Handler.token = token
    Handler.messages = {}
    Handler.campaigns = {}
    Handler.lists = lists or {}
    Handler.requests_seen = []
    Handler.calls = []
    Handler.outage = None
    return Handler


class InfopromoHandler(BaseHTTPRequestHandler):
    token: str
    messages: dict[str, dict[str, Any]]
    campaigns: dict[str, dict[str, Any]]
    lists: dict[str, list[str]]
    requests_seen: list[tuple[str, str, dict[str, Any]]]
    calls: list[dict[str, Any]]
    outage: Outage | None

    def do_GET(self) -> None:
        self.handle_call("GET")

    def do_POST(self) -> None:
        self.handle_call("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- dispatch -------------------------------------------------------------

    def handle_call(self, method: str) -> None:
        url = urlsplit(self.path)
        fields = dict(parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.calls.append(
            {
                "method": method,
                "path": url.path,
                "query": dict(parse_qsl(url.query)),
                "body": json_or_bytes(raw),
                "headers": dict(self.headers),
            }
        )
        if self.outage is not None:
            return self.outage.answer(self)
        if raw:
            try:
                fields.update(json.loads(raw))
            except ValueError:
                return self.answer({"status": "error", "message": "Invalid JSON."})
        self.requests_seen.append((method, url.path, dict(fields)))

        path = url.path
        if path.startswith("/api/v3/"):
            if self.headers.get("Authorization") != f"Bearer {self.token}":
                return self.answer({"message": "Unauthenticated."}, 401)
            route = path[len("/api/v3/") :]
        elif path.startswith("/api/http/"):
            if fields.pop("api_token", None) != self.token:
                return self.error("Invalid API token.")
            route = path[len("/api/http/") :]
        else:
            return self.answer({"message": "Not Found"}, 404)

        route = route.rstrip("/")
        parts = route.split("/")
        if route == "sms/send" and (method == "POST" or path.startswith("/api/http/")):
            return self.send_sms(fields)
        if route == "sms/campaign" and method == "POST" and path.startswith("/api/v3/"):
            return self.send_campaign(fields)
        if route == "sms" and method == "GET":
            return self.list_sms(fields)
        if len(parts) == 2 and parts[0] == "sms" and method == "GET":
            return self.view_sms(parts[1])
        if len(parts) == 3 and parts[0] == "campaign" and parts[2] == "view":
            return self.view_campaign(parts[1])
        return self.answer({"message": "Not Found"}, 404)

    # -- endpoints ------------------------------------------------------------

    def send_sms(self, fields: dict[str, Any]) -> None:
        numbers = split_numbers(fields.get("recipient", ""))
        if not numbers:
            return self.error("The recipient field is required.")
        if not fields.get("message"):
            return self.error("The message field is required.")
        rows = [self.store(number, fields) for number in numbers]
        if len(rows) == 1:
            hidden = ("sms_type", "direction", "held")
            row = {k: v for k, v in rows[0].items() if k not in hidden}
            return self.success("Your message was successfully delivered", row)
        if fields.get("schedule_time"):
            return self.success("Your message was successfully scheduled")
        data = [
            {
                "id": row["id"],
                "uid": row["uid"],
                "to": row["to"],
                "from": row["from"],
                "message": row["message"],
                "customer_status": row["status"],
                "cost": row["cost"],
                "sms_count": row["sms_count"],
            }
            for row in rows
        ]
        return self.success("Your message was successfully delivered", data)

    def send_campaign(self, fields: dict[str, Any]) -> None:
        list_ids = [i for i in str(fields.get("contact_list_id", "")).split(",") if i]
        if not list_ids:
            return self.error("The contact list id field is required.")
        unknown = [i for i in list_ids if i not in self.lists]
        if unknown:
            return self.error(f"Contact list {unknown[0]} not found.")
        uid = new_uid()
        sent = [self.store(n, fields) for i in list_ids for n in self.lists[i]]
        self.campaigns[uid] = {
            "id": len(self.campaigns) + 1,
            "uid": uid,
            "campaign_name": f"API {uid}",
            "status": "delivered",
            "message": fields.get("message", ""),
            "created_at": "2024-05-01T10:00:00.000000Z",
            "sms_type": fields.get("type", "plain"),
            "uids": [row["uid"] for row in sent],
        }
        campaign = {k: v for k, v in self.campaigns[uid].items() if k != "uids"}
        return self.success("Campaign successfully delivered", campaign)

    @classmethod
    def send_scheduled(cls) -> None:
        """The scheduled time came: the portal sends what it held."""
        for row in cls.messages.values():
            row.pop("held", None)

    def view_sms(self, uid: str) -> None:
        row = self.messages.get(uid)
        if row is None:
            return self.error("SMS Info not found.")
        return self.success("", shown(row))

    def list_sms(self, fields: dict[str, Any]) -> None:
        rows = [shown(row) for row in self.messages.values()]
        page = int(fields.get("page") or 1)
        last_page = max(1, math.ceil(len(rows) / PER_PAGE))
        chunk = rows[(page - 1) * PER_PAGE : page * PER_PAGE]
        return self.success(
            "",
            {
                "current_page": page,
                "data": chunk,
                "last_page": last_page,
                "per_page": PER_PAGE,
                "total": len(rows),
            },
        )

    def view_campaign(self, uid: str) -> None:
        campaign = self.campaigns.get(uid)
        if campaign is None:
            return self.error("Campaign not found.")
        words = [outcome(self.messages[u]["to"]) for u in campaign["uids"]]
        stats = {
            f"{word}_count": words.count(word.capitalize())
            for word in ("enroute", "delivered", "expired", "undelivered", "rejected")
        } | {"accepted_count": 0, "skipped_count": 0, "failed_count": 0}
        return self.success(
            "",
            {
                "uid": uid,
                "name": campaign["campaign_name"],
                "message": campaign["message"],
                "status": campaign["status"],
                "type": campaign["sms_type"],
                "created_at": campaign["created_at"],
                "stats": stats,
            },
        )

    # -- helpers --------------------------------------------------------------

    def store(self, number: str, fields: dict[str, Any]) -> dict[str, Any]:
        parts = sms_count(str(fields["message"]), fields.get("type") or "plain")
        row = {
            "id": len(self.messages) + 1,
            "uid": new_uid(),
            "to": number,
            "from": fields.get("sender_id", ""),
            "message": fields["message"],
            "sms_type": "plain",
            "direction": "outgoing",
            "status": "Scheduled" if fields.get("schedule_time") else "Delivered",
            # The portal gives cost as a string.
            "cost": str(parts),
            "sms_count": parts,
        }
        if fields.get("schedule_time"):
            row["held"] = True
        self.messages[row["uid"]] = row
        return row

    def success(self, message: str, data: Any = None) -> None:
        body: dict[str, Any] = {"status": "success", "message": message}
        if data is not None:
            body["data"] = data
        self.answer(body)

    def error(self, message: str) -> None:
        self.answer({"status": "error", "message": message})

    def answer(self, body: dict[str, Any], status: int = 200) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def json_or_bytes(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw


def new_uid() -> str:
    return secrets.token_hex(7)[:13]


def split_numbers(recipient: str) -> list[str]:
    numbers = []
    for raw in str(recipient).split(","):
        number = "".join(c for c in raw if c not in "+()- ")
        if number:
            numbers.append(number)
    return numbers


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """A stored message as the portal shows it now."""
    status = "Scheduled" if row.get("held") else outcome(row["to"])
    return {**{k: v for k, v in row.items() if k != "held"}, "status": status}


def outcome(number: str) -> str:
    return "Undelivered" if number.endswith("9") else "Delivered"


def sms_count(text: str, sms_type: str) -> int:
    single, multi = (70, 67) if sms_type == "unicode" else (160, 153)
    return 1 if len(text) <= single else math.ceil(len(text) / multi)
