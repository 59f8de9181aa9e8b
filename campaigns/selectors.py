"""Reads for pages: counters and roll-ups, never COUNT(*) over messages."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from providers.status import Status

from .models import CampaignCounter, Message

CENT_THOUSANDTHS = Decimal("0.00001")
# What the provider said became of a message.
OUTCOMES = (Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED, Status.REJECTED)
# Given to the provider: waiting for its report, none came in time, or an outcome.
SENT = (Status.ACCEPTED, Status.NO_REPORT, *OUTCOMES)


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
        finished = sum(self.get(s) for s in OUTCOMES)
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
        # Money has five decimal places; SQLite sums it as floating point.
        counts.estimated_cost += Decimal(row["est"] or 0).quantize(CENT_THOUSANDTHS)
        counts.actual_cost += Decimal(row["act"] or 0).quantize(CENT_THOUSANDTHS)
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


@dataclass
class Rollup:
    """Counter deltas summed over a period (UTC days)."""

    counts: Counts
    # (day, submitted, delivered, finished, actual cost) per day, oldest first.
    by_day: list[tuple] = field(default_factory=list)
    # (account name, currency, estimated, actual, submitted) per account.
    by_account: list[tuple] = field(default_factory=list)


def rollup(*, since, until=None) -> Rollup:
    """Sends, delivery and cost from ``since`` (a date) on, from the counter
    rows: a handful per campaign, account, country and day, never the
    message table. A day's figure is what changed that day: a message
    accepted yesterday and delivered today counts as sent yesterday and
    delivered today."""
    from providers.models import ProviderAccount

    rows = CampaignCounter.objects.filter(day__gte=since)
    if until:
        rows = rows.filter(day__lte=until)
    sums = {"n": Sum("count"), "est": Sum("estimated_cost"), "act": Sum("actual_cost")}
    counts = Counts()
    per_day: dict = defaultdict(lambda: [0, 0, 0, Decimal(0)])
    per_account: dict = defaultdict(lambda: [Decimal(0), Decimal(0), 0])
    finished = set(OUTCOMES)
    for row in rows.values("day", "account_id", "status").annotate(**sums):
        status, n = row["status"], row["n"] or 0
        counts.by_status[status] = counts.by_status.get(status, 0) + n
        # Money has five decimal places; SQLite sums it as floating point.
        counts.estimated_cost += Decimal(row["est"] or 0).quantize(CENT_THOUSANDTHS)
        counts.actual_cost += Decimal(row["act"] or 0).quantize(CENT_THOUSANDTHS)
        day = per_day[row["day"]]
        account = per_account[row["account_id"]]
        day[3] += row["act"] or 0
        account[0] += row["est"] or 0
        account[1] += row["act"] or 0
        if status in SENT:
            day[0] += n
            account[2] += n
        if status == Status.DELIVERED:
            day[1] += n
        if status in finished:
            day[2] += n
    counts.by_status = {s: n for s, n in counts.by_status.items() if n}
    accounts = {
        pk: (name, currency)
        for pk, name, currency in ProviderAccount.objects.filter(
            pk__in=list(per_account)
        ).values_list("pk", "name", "currency")
    }
    return Rollup(
        counts=counts,
        by_day=[(day, *values) for day, values in sorted(per_day.items())],
        by_account=sorted(
            ((*accounts.get(pk, ("?", "")), *values) for pk, values in per_account.items()),
            key=lambda item: -item[3],
        ),
    )


def campaign_by_day(campaign_id: int) -> list[tuple]:
    """(day, submitted, delivered, finished, actual cost) per day of one
    campaign, from its counter rows."""
    rows = (
        CampaignCounter.objects.filter(campaign_id=campaign_id)
        .values("day", "status")
        .annotate(n=Sum("count"), act=Sum("actual_cost"))
    )
    finished = set(OUTCOMES)
    per_day: dict = defaultdict(lambda: [0, 0, 0, Decimal(0)])
    for row in rows:
        day, n = per_day[row["day"]], row["n"] or 0
        day[3] += row["act"] or 0
        if row["status"] in SENT:
            day[0] += n
        if row["status"] == Status.DELIVERED:
            day[1] += n
        if row["status"] in finished:
            day[2] += n
    # Test sends go through the same counters; as in campaign_counts, they
    # are not part of the campaign's figures: taken out on the day each was
    # sent and the day it finished. (What they cost stays: it was spent.)
    tests = Message.objects.filter(campaign_id=campaign_id, is_test=True, status__in=SENT)
    for status, sent_at, done_at in tests.values_list("status", "sent_at", "done_at"):
        sent = sent_at or done_at
        if sent and sent.date() in per_day:
            per_day[sent.date()][0] -= 1
        if status in finished and done_at and done_at.date() in per_day:
            per_day[done_at.date()][2] -= 1
            if status == Status.DELIVERED:
                per_day[done_at.date()][1] -= 1
    return [(day, *values) for day, values in sorted(per_day.items())]


def error_reasons(campaign_id: int, *, latest: int = 2000) -> list[dict]:
    """Errors grouped by reason among the campaign's latest ``latest``
    failed messages: the page stays quick however many millions were sent,
    and the newest errors are the ones worth acting on."""
    failed = [
        Status.UNDELIVERED,
        Status.EXPIRED,
        Status.REJECTED,
        Status.FAILED,
        Status.UNKNOWN,
    ]
    recent = (
        Message.objects.filter(campaign_id=campaign_id, status__in=failed)
        .order_by("-id")
        .values("id")[:latest]
    )
    return list(
        Message.objects.filter(id__in=recent)
        .values("status", "error_code", "error_description")
        .annotate(n=Count("id"))
        .order_by("-n")[:20]
    )


def held_at_provider(campaign) -> int:
    """Messages the provider accepted to send later (a schedule handed to
    it) whose time has not come. Only such a campaign has any: others are
    not counted through."""
    if not campaign.schedule_at_provider:
        return 0
    return Message.objects.filter(
        campaign=campaign, status=Status.ACCEPTED, not_before__gt=timezone.now()
    ).count()


def contact_messages(contact) -> QuerySet[Message]:
    """The messages sent to a contact, newest first (the contact page)."""
    return Message.objects.filter(contact=contact).select_related("campaign").order_by("-id")
