"""CSV downloads from the pages: the message log as filtered, and one
campaign's report. Written by the REST export's CSV code
(``smsportal.api.csv_export``): streamed a chunk at a time from a
server-side cursor, and a cell a spreadsheet would run as a formula gets a
leading ``'``."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from providers.status import Status
from smsportal.api import csv_export
from smsportal.api.csv_export import Column
from smsportal.api.serializers import MESSAGE_COLUMNS

from . import engagement
from .models import Campaign, CampaignCounter, Message
from .selectors import OUTCOMES

# A byte-order mark: spreadsheet programs then read the file as UTF-8.
BOM = "\ufeff"


def _with_names(columns: list[Column]) -> list[Column]:
    """The REST export's message columns, with the campaign's and the
    account's names beside their ids (people read the names)."""
    named = []
    for column in columns:
        named.append(column)
        if column.header == "campaign":
            named.append(Column("campaign_name", "campaign__name", "campaign name"))
        elif column.header == "account":
            named.append(Column("account_name", "account__name", "provider account name"))
    return named


MESSAGE_LOG_COLUMNS = _with_names(MESSAGE_COLUMNS)


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)[:60].strip("-")


def message_log_response(messages, *, name: str = "messages"):
    """The messages (a filtered queryset), newest first, as a streamed CSV."""
    rows = csv_export.rows(engagement.with_clicks(messages).order_by("-id"), MESSAGE_LOG_COLUMNS)
    return csv_export.response(_bom(rows), f"{_safe(name) or 'messages'}-{_stamp()}.csv")


def _bom(chunks):
    yield BOM
    yield from chunks


REPORT_COLUMNS = [
    Column("country", "country", "destination country (ISO 3166); “all” sums the rows above"),
    Column("recipients", "recipients", "messages of the audience (test sends left out)"),
    *(Column(status.value, status.value, status.label) for status in Status),
    Column("submitted", "submitted", "reached the provider"),
    Column("delivery_rate", "delivery_rate", "delivered ÷ final outcomes, 0–1"),
    Column("segments", "segments", "SMS parts"),
    Column("estimated_cost", "estimated_cost", "from the rate card"),
    Column("actual_cost", "actual_cost", "as the provider charged, where known"),
    Column("currency", "currency", "ISO 4217"),
]
SUBMITTED = (Status.ACCEPTED, Status.NO_REPORT, *OUTCOMES)


def campaign_report(campaign: Campaign) -> list[dict]:
    """One row per destination country and currency, then a total per
    currency: messages per status, parts and both costs, from the campaign's
    counters (never a count over its messages), test sends left out."""
    grouped: dict[tuple, dict] = defaultdict(_empty_row)
    counters = (
        CampaignCounter.objects.filter(campaign=campaign)
        .values("country", "account__currency", "status")
        .annotate(
            n=Sum("count"), seg=Sum("segments"), est=Sum("estimated_cost"), act=Sum("actual_cost")
        )
    )
    for c in counters:
        _add(grouped[(c["country"], c["account__currency"])], c, +1)
    tests = (
        Message.objects.filter(campaign=campaign, is_test=True)
        .values("country", "account__currency", "status")
        .annotate(
            n=Count("id"), seg=Sum("segments"), est=Sum("estimated_cost"), act=Sum("actual_cost")
        )
    )
    for t in tests:
        _add(grouped[(t["country"], t["account__currency"])], t, -1)
    rows, totals = [], defaultdict(_empty_row)
    for (country, currency), row in sorted(grouped.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if not any(row["counts"].values()) and not row["actual_cost"]:
            continue
        rows.append(_finish(row, country or "", currency))
        total = totals[currency]
        for status, n in row["counts"].items():
            total["counts"][status] += n
        for key in ("segments", "estimated_cost", "actual_cost"):
            total[key] += row[key]
    rows += [_finish(total, "all", currency) for currency, total in sorted(totals.items())]
    return rows


def _empty_row() -> dict:
    return {
        "counts": defaultdict(int),
        "segments": 0,
        "estimated_cost": Decimal(0),
        "actual_cost": Decimal(0),
    }


def _add(row: dict, values: dict, sign: int) -> None:
    row["counts"][values["status"]] += sign * (values["n"] or 0)
    row["segments"] += sign * (values["seg"] or 0)
    row["estimated_cost"] += sign * Decimal(values["est"] or 0)
    row["actual_cost"] += sign * Decimal(values["act"] or 0)


def _finish(row: dict, country: str, currency: str) -> dict:
    counts = {status.value: max(row["counts"].get(status.value, 0), 0) for status in Status}
    outcomes = sum(counts[s] for s in OUTCOMES)
    return {
        "country": country,
        "recipients": sum(counts.values()),
        **counts,
        "submitted": sum(counts[s] for s in SUBMITTED),
        "delivery_rate": round(counts[Status.DELIVERED] / outcomes, 4) if outcomes else None,
        "segments": row["segments"],
        "estimated_cost": row["estimated_cost"].quantize(Decimal("0.00001")),
        "actual_cost": row["actual_cost"].quantize(Decimal("0.00001")),
        "currency": currency,
    }


def campaign_report_response(campaign: Campaign):
    """``campaign_report`` as a CSV download."""
    rows = csv_export.records(campaign_report(campaign), REPORT_COLUMNS)
    chunks = csv_export.write(REPORT_COLUMNS, rows)
    name = _safe(campaign.name) or "campaign"
    return csv_export.response(_bom(chunks), f"campaign-{campaign.pk}-{name}-report-{_stamp()}.csv")
