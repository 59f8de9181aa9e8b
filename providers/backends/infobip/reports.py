"""Infobip delivery reports and inbound messages: pushed to the account's
hooks as JSON or XML, pulled from ``/sms/3/reports`` and ``/sms/1/inbox/reports``,
or looked up in the message logs (``/sms/3/logs``); each read into a plain
``StatusReport`` or ``InboundSms`` with our status and the price."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.base import (
    CLICKS_EVENT,
    InboundSms,
    StatusReport,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from providers.status import Status

from .clicks import click_reports, is_click_report
from .wire import _chunks, _int, _results, parse_datetime

REPORTS_PATH = "/sms/3/reports"
LOGS_PATH = "/sms/3/logs"
# Where an account's v3 answers 404: the older reports, and the logs the
# spec marks deprecated (both read by ``_report_of`` alike).
OLDER = {REPORTS_PATH: "/sms/1/reports", LOGS_PATH: "/sms/1/logs"}
INBOX_PATH = "/sms/1/inbox/reports"

# Reports, logs and the inbox each hand out at most this many per call.
PAGE_LIMIT = 1000
# ``messageId`` and ``bulkId`` filters: at most 2048 characters per call.
MAX_FILTER_LENGTH = 2048

# Status groups (infobip-error-codes.yml). DELIVERED is split below: only
# DELIVERED_TO_HANDSET is final, DELIVERED_TO_OPERATOR may still fail.
GROUP_STATUS = {
    0: Status.ACCEPTED,  # "OK"/"ACCEPTED": taken, nothing known yet
    1: Status.ACCEPTED,  # PENDING
    2: Status.UNDELIVERED,  # UNDELIVERABLE
    3: Status.DELIVERED,
    4: Status.EXPIRED,
    5: Status.REJECTED,
}
GROUP_NAMES = {
    "OK": 0,
    "ACCEPTED": 0,
    "PENDING": 1,
    "UNDELIVERABLE": 2,
    "DELIVERED": 3,
    "EXPIRED": 4,
    "REJECTED": 5,
}
DELIVERED_TO_HANDSET = 5


# (base URL, v3 path) pairs that answered 404 in this process: their v1 is
# asked straight away from then on.
_older_only: set[tuple[str, str]] = set()
_older_lock = threading.Lock()


class InfobipReports:
    """Reports and inbound messages, for ``InfobipBackend`` (which brings
    ``get_json``, ``raw_call``, ``error_from`` and ``json_of``)."""

    def get_current(self, path: str, params: dict[str, Any]) -> Any:
        """GET a v3 reading endpoint (reports, logs), or its v1 only where
        the account's v3 answers 404."""
        key = (self.base_url, path)
        if key not in _older_only:
            response = self.raw_call("GET", path, params=params)
            if response.status_code != 404:
                if response.status_code >= 400:
                    raise self.error_from(response)
                return self.json_dict(response)
            with _older_lock:
                _older_only.add(key)
        return self.get_json(OLDER[path], params)

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        payload = _payload_of(request)
        if request.event == CLICKS_EVENT or is_click_report(payload):
            # Posted to the click-report URL (urlOptions.trackingUrl).
            return WebhookResult(clicks=click_reports(payload))
        results = payload.get("results")
        if not isinstance(results, list):
            raise WebhookRejected("No results list in the Infobip callback.")
        out = WebhookResult()
        for item in results:
            if not isinstance(item, dict):
                raise WebhookRejected("An Infobip callback result is not an object.")
            if request.event == "inbound" or _is_inbound(item):
                out.inbound.append(_inbound_of(item))
            else:
                out.reports.append(_report_of(item))
        return out

    def pull_reports(self) -> list[StatusReport]:
        data = self.get_current(REPORTS_PATH, {"limit": PAGE_LIMIT})
        return [_report_of(item) for item in _results(data)]

    def pull_inbound(self) -> list[InboundSms]:
        data = self.get_json(INBOX_PATH, {"limit": PAGE_LIMIT})
        return [_inbound_of(item) for item in _results(data)]

    def poll_statuses(self, provider_message_ids: Sequence[str]) -> list[StatusReport]:
        return self._logs("messageId", provider_message_ids)

    def find_by_ref(self, refs: Sequence[str]) -> list[StatusReport]:
        # Our reference is the messageId, so the log lookup is the same one.
        return self._logs("messageId", refs)

    def _logs(self, field: str, values: Sequence[str]) -> list[StatusReport]:
        """Message logs (last 48 hours) filtered by comma-separated IDs.

        ``/sms/3/logs`` names some fields differently from the deprecated
        ``/sms/1/logs`` it falls back to (``destination``, ``messageCount``);
        ``_report_of`` reads both."""
        reports = []
        for chunk in _chunks(values, MAX_FILTER_LENGTH):
            data = self.get_current(LOGS_PATH, {field: ",".join(chunk), "limit": PAGE_LIMIT})
            reports.extend(_report_of(item) for item in _results(data))
        return reports


# -- status and report mapping -------------------------------------------------------


def map_status(status: Any, error: Any) -> tuple[str, str, str]:
    """(our status, error code, description) from Infobip's status and error."""
    status = status if isinstance(status, dict) else {}
    group_id = _int(status.get("groupId"))
    if group_id is None:
        group_id = GROUP_NAMES.get(str(status.get("groupName") or "").upper())
    ours = GROUP_STATUS.get(group_id, Status.ACCEPTED) if group_id is not None else Status.ACCEPTED
    if group_id == 3 and _int(status.get("id")) != DELIVERED_TO_HANDSET:
        ours = Status.ACCEPTED
    error_code, description = "", ""
    error = error if isinstance(error, dict) else {}
    if error and _int(error.get("id")) not in (None, 0):
        error_code = str(error.get("name") or error.get("id"))
        description = str(error.get("description") or "")
    elif ours in (Status.UNDELIVERED, Status.EXPIRED, Status.REJECTED):
        error_code = str(status.get("name") or "")
        description = str(status.get("description") or "")
    return ours, error_code, description


def _report_of(item: Any) -> StatusReport:
    if not isinstance(item, dict):
        raise WebhookRejected("An Infobip report is not an object.")
    message_id = str(item.get("messageId") or "")
    if not message_id:
        raise WebhookRejected("An Infobip report has no messageId.")
    status, error_code, description = map_status(item.get("status"), item.get("error"))
    parts = _int(item.get("smsCount", item.get("messageCount")))
    cost, currency = _price(item.get("price"), parts)
    return StatusReport(
        provider_message_id=message_id,
        status=status,
        ref=message_id,
        error_code=error_code,
        error_description=description,
        cost=cost,
        currency=currency,
        segments=parts,
        sent_at=parse_datetime(item.get("sentAt")),
        done_at=parse_datetime(item.get("doneAt")),
        raw=item,
    )


def _inbound_of(item: Any) -> InboundSms:
    if not isinstance(item, dict) or not item.get("from"):
        raise WebhookRejected("An Infobip inbound message has no sender.")
    sender = str(item["from"])
    if sender.isdigit():
        sender = "+" + sender
    return InboundSms(
        provider_message_id=str(item.get("messageId") or ""),
        sender=sender,
        recipient=str(item.get("to") or ""),
        text=str(item.get("text") or ""),
        keyword=str(item.get("keyword") or ""),
        received_at=parse_datetime(item.get("receivedAt")),
        raw=item,
    )


def _is_inbound(item: dict[str, Any]) -> bool:
    # Reports always carry a status; inbound messages never do.
    return "status" not in item and ("receivedAt" in item or "text" in item)


def _price(price: Any, parts: int | None) -> tuple[Decimal | None, str]:
    """What the message cost: ``pricePerMessage`` is the "Price per one
    SMS" (the spec's words), so a message of ``smsCount`` parts costs that
    many times it. Without the part count the report does not say what was
    charged: no cost (the rate card stands in), the price stays in the
    history."""
    if not isinstance(price, dict) or price.get("pricePerMessage") in (None, ""):
        return None, ""
    try:
        per_part = Decimal(str(price["pricePerMessage"]))
    except InvalidOperation:
        return None, ""
    if parts is None or parts < 0 or not per_part.is_finite():
        return None, ""
    return per_part * parts, str(price.get("currency") or "")


# -- callback bodies ---------------------------------------------------------------


def _payload_of(request: WebhookRequest) -> dict[str, Any]:
    body = request.body.strip()
    if not body:
        raise WebhookRejected("Empty Infobip callback.")
    if "xml" in request.content_type.lower() or body.startswith(b"<"):
        payload = _xml_payload(body)
    else:
        payload = request.json()
    if not isinstance(payload, dict):
        raise WebhookRejected("An Infobip callback is a JSON object.")
    return payload


# Elements that hold a list of like children in Infobip's XML.
_XML_LISTS = {"results", "messages", "destinations"}


def _xml_payload(body: bytes) -> dict[str, Any]:
    # Infobip's XML has no document type; refusing one shuts out entity
    # expansion tricks, and ElementTree never fetches external entities.
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise WebhookRejected("XML with a document type is not accepted.")
    try:
        root = ET.fromstring(body)  # noqa: S314 - DTDs refused above
    except ET.ParseError as exc:
        raise WebhookRejected(f"Body is not XML: {exc}") from exc
    payload = _xml_value(root)
    if not isinstance(payload, dict):
        raise WebhookRejected("An Infobip XML callback has no elements.")
    return payload


def _xml_value(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if element.tag in _XML_LISTS:
        return [_xml_value(child) for child in children]
    out: dict[str, Any] = {}
    for child in children:
        value = _xml_value(child)
        if child.tag in out:
            # Repeated elements (deliveryTimeWindow days) form a list.
            if not isinstance(out[child.tag], list):
                out[child.tag] = [out[child.tag]]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    return out
