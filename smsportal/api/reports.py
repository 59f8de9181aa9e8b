"""Cost and delivery roll-ups, read from the campaign counter deltas.

Counter rows are keyed by campaign, provider account, destination country,
status and the (UTC) day of the change, and are squashed periodically, so a
report sums a few rows per key instead of scanning messages. What a day
means follows from that: a message counts on the day it reached a status,
its estimated cost and segments on the day it was created, its actual cost
on the day the cost was known.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone
from rest_framework import serializers

from campaigns.models import CampaignCounter
from providers.status import Status

from .csv_export import serializer_columns
from .filters import MAX_ID, CountryFilter
from .serializers import StatusCountsSerializer

DIMENSIONS = {
    "day": ["day"],
    "account": ["account_id", "account__name"],
    "campaign": ["campaign_id", "campaign__name"],
    "country": ["country"],
}
# The longest period one report covers; longer ones are asked for in parts.
MAX_DAYS = 366
DEFAULT_DAYS = 30
# Final outcomes at the provider, for the delivery rate.
OUTCOMES = (Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED, Status.REJECTED)
SUBMITTED = (Status.ACCEPTED, Status.NO_REPORT, *OUTCOMES)


class ReportParams(CountryFilter, serializers.Serializer):
    date_from = serializers.DateField(
        required=False, help_text=f"First day (UTC), inclusive; default {DEFAULT_DAYS} days ago."
    )
    date_to = serializers.DateField(required=False, help_text="Last day (UTC), inclusive; today.")
    group_by = serializers.MultipleChoiceField(
        choices=list(DIMENSIONS),
        required=False,
        help_text="What rows are per: any of day, account, campaign, country; repeat the "
        "parameter for several (default: day). Rows are always per currency too.",
    )
    campaign = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Campaign id."
    )
    account = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Provider account id."
    )

    def validate(self, attrs):
        today = timezone.now().astimezone(dt.UTC).date()
        date_to = attrs.get("date_to") or today
        date_from = attrs.get("date_from") or date_to - dt.timedelta(days=DEFAULT_DAYS - 1)
        if date_from > date_to:
            raise serializers.ValidationError({"date_to": ["Must not be before date_from."]})
        if (date_to - date_from).days >= MAX_DAYS:
            raise serializers.ValidationError(
                {"date_to": [f"A report covers at most {MAX_DAYS} days; ask for it in parts."]}
            )
        attrs["date_from"], attrs["date_to"] = date_from, date_to
        attrs["group_by"] = [d for d in DIMENSIONS if d in (attrs.get("group_by") or {"day"})]
        return attrs


def _counters(params: dict):
    rows = CampaignCounter.objects.filter(day__gte=params["date_from"], day__lte=params["date_to"])
    if params.get("campaign"):
        rows = rows.filter(campaign_id=params["campaign"])
    if params.get("account"):
        rows = rows.filter(account_id=params["account"])
    if params.get("country"):
        rows = rows.filter(country=params["country"].upper())
    return rows


def _keys(group_by: list[str]) -> list[str]:
    return [key for d in group_by for key in DIMENSIONS[d]] + ["account__currency"]


def _row(values: dict) -> dict:
    """The grouping columns of one report row; those not grouped by are null,
    so every row has the same keys."""
    return {
        "day": values.get("day"),
        "account": values.get("account_id"),
        "account_name": values.get("account__name"),
        "campaign": values.get("campaign_id"),
        "campaign_name": values.get("campaign__name"),
        "country": values.get("country"),
        "currency": values["account__currency"],
    }


def cost_report(params: dict) -> list[dict]:
    keys = _keys(params["group_by"])
    totals = (
        _counters(params)
        .values(*keys)
        .annotate(
            n=Sum("count"), seg=Sum("segments"), est=Sum("estimated_cost"), act=Sum("actual_cost")
        )
        .order_by(*keys)
    )
    return [
        {
            **_row(t),
            "messages": t["n"] or 0,
            "segments": t["seg"] or 0,
            "estimated_cost": t["est"] or Decimal(0),
            "actual_cost": t["act"] or Decimal(0),
        }
        for t in totals
        if t["n"] or t["seg"] or t["est"] or t["act"]
    ]


def delivery_report(params: dict) -> list[dict]:
    keys = _keys(params["group_by"])
    totals = _counters(params).values(*keys, "status").annotate(n=Sum("count")).order_by(*keys)
    grouped: dict[tuple, dict] = {}
    by_status: dict[tuple, dict] = defaultdict(dict)
    for t in totals:
        key = tuple(t[k] for k in keys)
        grouped.setdefault(key, t)
        by_status[key][t["status"]] = by_status[key].get(t["status"], 0) + (t["n"] or 0)
    report = []
    for key, first in grouped.items():
        counts = {s.value: by_status[key].get(s.value, 0) for s in Status}
        if not any(counts.values()):
            continue
        outcomes = sum(counts[s] for s in OUTCOMES)
        report.append(
            {
                **_row(first),
                "counts": counts,
                "submitted": sum(counts[s] for s in SUBMITTED),
                "delivered": counts[Status.DELIVERED],
                "delivery_rate": round(counts[Status.DELIVERED] / outcomes, 4)
                if outcomes
                else None,
            }
        )
    return report


class _ReportRow(serializers.Serializer):
    day = serializers.DateField(allow_null=True, help_text="When grouped by day (UTC).")
    account = serializers.IntegerField(allow_null=True, help_text="When grouped by account.")
    account_name = serializers.CharField(allow_null=True)
    campaign = serializers.IntegerField(allow_null=True, help_text="When grouped by campaign.")
    campaign_name = serializers.CharField(allow_null=True)
    country = serializers.CharField(
        allow_null=True, help_text="When grouped by country; empty for unknown destinations."
    )
    currency = serializers.CharField(help_text="ISO 4217; every cost in the row is in it.")


class CostRowSerializer(_ReportRow):
    messages = serializers.IntegerField(help_text="Messages created (recipients).")
    segments = serializers.IntegerField(help_text="SMS parts of those messages.")
    estimated_cost = serializers.DecimalField(
        max_digits=16, decimal_places=5, help_text="From the rate card, when created."
    )
    actual_cost = serializers.DecimalField(
        max_digits=16, decimal_places=5, help_text="As reported or priced, when known."
    )


class DeliveryRowSerializer(_ReportRow):
    counts = StatusCountsSerializer(
        help_text="Messages that reached each status in the period (for pending, "
        "sending, unknown and accepted: the net change)."
    )
    submitted = serializers.IntegerField(help_text="Messages that reached the provider.")
    delivered = serializers.IntegerField()
    delivery_rate = serializers.FloatField(
        allow_null=True, help_text="Delivered ÷ (delivered, undelivered, expired, rejected)."
    )


class _Report(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    group_by = serializers.ListField(child=serializers.ChoiceField(choices=list(DIMENSIONS)))


class CostReportSerializer(_Report):
    results = CostRowSerializer(many=True)


class DeliveryReportSerializer(_Report):
    results = DeliveryRowSerializer(many=True)


# A report's rows as CSV: the fields of a row, ``counts`` one column per status.
COST_COLUMNS = serializer_columns(CostRowSerializer())
DELIVERY_COLUMNS = serializer_columns(DeliveryRowSerializer())
