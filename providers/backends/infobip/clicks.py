"""Infobip's click reports: what it posts to ``urlOptions.trackingUrl``
(the account's click-report URL) when it shortens a campaign's links itself.

The spec's ``UrlTrackingWebhook`` (webhook ``receive-sms-tracking-notification``)
is one JSON object per click: ``notificationType`` (``CLICKED``),
``recipient``, ``url``, ``sendDateTime`` (epoch milliseconds, when Infobip
received the click), ``messageId``, ``bulkId``, ``callbackData`` and
``recipientInfo`` (``deviceType``, ``os``, ``deviceName``). A ``results[]``
list of such objects is read as well. Each becomes a plain ``ClickReport``
with the object kept as it came; nothing is taken as a click here: the
layer above records one only where the message it names is ours.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from providers.base import ClickReport, WebhookRejected

# The one event the spec names: anything else reported is not a click.
CLICKED = "CLICKED"
# Epoch milliseconds a click time may have: from 2000 to 2100.
_EARLIEST_MS = 946_684_800_000
_LATEST_MS = 4_102_444_800_000
_MOBILE = ("phone", "mobile", "tablet", "smartphone")
_DESKTOP = ("desktop", "computer", "pc", "laptop")


def is_click_report(payload: dict[str, Any]) -> bool:
    """Whether a body posted to the delivery-report URL is a click report
    (Infobip's subscriptions may send both there): reports always carry a
    status, click reports a ``notificationType``."""
    return "notificationType" in payload and "results" not in payload


def click_reports(payload: dict[str, Any]) -> list[ClickReport]:
    """The clicks of one callback body: a ``results[]`` list, or the body
    itself as one report."""
    items = payload.get("results", [payload])
    if not isinstance(items, list):
        raise WebhookRejected("The results of an Infobip click report are not a list.")
    reports = []
    for item in items:
        if not isinstance(item, dict):
            raise WebhookRejected("An Infobip click report is not an object.")
        reports.append(click_of(item))
    return reports


def click_of(item: dict[str, Any]) -> ClickReport:
    message_id = _text(item.get("messageId"))
    event = item.get("notificationType")
    problem = ""
    if not message_id.strip():
        problem = "it names no message (no messageId)"
    elif event not in (None, "", CLICKED):
        problem = f"it reports {_shown(event)}, not a click"
    return ClickReport(
        provider_message_id=message_id,
        ref=message_id,
        recipient=_text(item.get("recipient")),
        url=_text(item.get("url")),
        at=_epoch_ms(item.get("sendDateTime")),
        agent=_agent(item.get("recipientInfo")),
        problem=problem,
        raw=item,
    )


def _text(value: Any) -> str:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""


def _epoch_ms(value: Any) -> dt.datetime | None:
    """``sendDateTime``: an integer of epoch milliseconds (or its digits as
    text); anything else, or a time outside 2000–2100, is no time."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 15:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not _EARLIEST_MS <= value <= _LATEST_MS:
        return None
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)


def _agent(info: Any) -> str:
    """The class of device Infobip names in ``recipientInfo.deviceType``."""
    if not isinstance(info, dict):
        return ""
    device = info.get("deviceType")
    if not isinstance(device, str) or not device.strip():
        return ""
    device = device.strip().lower()
    if device in _MOBILE:
        return "mobile"
    if device in _DESKTOP:
        return "desktop"
    return "other"


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text[:40] + "…" if len(text) > 40 else text)
