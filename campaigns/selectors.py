"""Reads for pages: counters and roll-ups, never COUNT(*) over messages."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Sum

from providers.status import Status

from .models import CampaignCounter, Message

SENT = (Status.ACCEPTED, Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED, Status.REJECTED)


@dataclass
class Counts:
    by_status: dict[str, int] = field(default_factory=dict)
    estimated_cost: Decimal = Decimal(0)
    actual_cost: Decimal = Decimal(0)
    segments: int = 0

    def get(self, status: str) -> int:
        return self.by_status.get(status, 0)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def submitted(self) -> int:
        return sum(self.get(s) for s in SENT)

    @property
    def done(self) -> int:
        """Accounted for: anything no longer waiting to be sent."""
        return self.total - self.get(Status.PENDING) - self.get(Status.SENDING)

    @property
    def delivery_rate(self) -> float | None:
        finished = sum(self.get(s) for s in SENT if s != Status.ACCEPTED)
        return self.get(Status.DELIVERED) / finished if finished else None

    def rows(self):
        return [(s, s.label, self.get(s)) for s in Status if self.get(s)]


def campaign_counts(campaign_ids: list[int], *, include_tests: bool = False) -> dict[int, Counts]:
    """Per-campaign counts from the counter deltas (a few rows each)."""
    rows = (
        CampaignCounter.objects.filter(campaign_id__in=campaign_ids)
        .values("campaign_id", "status")
        .annotate(
            n=Sum("count"), est=Sum("estimated_cost"), act=Sum("actual_cost"), seg=Sum("segments")
        )
    )
    result: dict[int, Counts] = defaultdict(Counts)
    for row in rows:
        counts = result[row["campaign_id"]]
        if row["n"]:
            counts.by_status[row["status"]] = row["n"]
        counts.estimated_cost += row["est"] or 0
        counts.actual_cost += row["act"] or 0
        counts.segments += row["seg"] or 0
    if not include_tests:
        # Test sends are counted by the same path; take them out of the
        # campaign's audience figures (they are few and indexed).
        tests = (
            Message.objects.filter(campaign_id__in=campaign_ids, is_test=True)
            .values("campaign_id", "status")
            .annotate(n=Count("id"))
        )
        for row in tests:
            counts = result[row["campaign_id"]]
            counts.by_status[row["status"]] = counts.by_status.get(row["status"], 0) - row["n"]
            if counts.by_status[row["status"]] <= 0:
                del counts.by_status[row["status"]]
    return {cid: result[cid] for cid in campaign_ids}


def message_page(queryset, *, after: int | None, size: int = 50):
    """One page of messages, newest first, by keyset (id) not OFFSET."""
    if after:
        queryset = queryset.filter(id__lt=after)
    rows = list(queryset.order_by("-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].id if more and rows else None)
