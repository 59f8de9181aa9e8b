"""Reads for pages: counters and roll-ups, never COUNT(*) over messages. One
exception: what a running campaign's pending messages wait for is counted
over those alone, through the pending index, and at most every
WAITING_CACHE_SECONDS for a large campaign (``campaign_waiting``)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.utils import timezone

from providers.status import Status

from . import compliance
from .models import Campaign, CampaignCounter, Message

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
    def finished(self) -> int:
        """With the provider's final word (delivered or not)."""
        return sum(self.get(s) for s in OUTCOMES)

    @property
    def delivery_rate(self) -> float | None:
        finished = self.finished
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
    return _buckets(campaign_id, ((row["day"], row) for row in rows), lambda at: at.date())


def _buckets(campaign_id: int, rows, bucket, keep=None) -> list[tuple]:
    """(bucket, submitted, delivered, finished, actual cost) from counter
    rows given as (bucket, row) pairs; ``bucket`` puts a time in its bucket,
    ``keep`` (optional) says which buckets are shown."""
    finished = set(OUTCOMES)
    per: dict = defaultdict(lambda: [0, 0, 0, Decimal(0)])
    for key, row in rows:
        if keep is not None and not keep(key):
            continue
        entry, n = per[key], row["n"] or 0
        entry[3] += row["act"] or 0
        if row["status"] in SENT:
            entry[0] += n
        if row["status"] == Status.DELIVERED:
            entry[1] += n
        if row["status"] in finished:
            entry[2] += n
    # Test sends go through the same counters; as in campaign_counts, they
    # are not part of the campaign's figures: taken out where each was sent
    # and where it finished. (What they cost stays: it was spent.)
    tests = Message.objects.filter(campaign_id=campaign_id, is_test=True, status__in=SENT)
    for status, sent_at, done_at in tests.values_list("status", "sent_at", "done_at"):
        sent = sent_at or done_at
        if sent and bucket(sent) in per:
            per[bucket(sent)][0] -= 1
        if status in finished and done_at and bucket(done_at) in per:
            per[bucket(done_at)][2] -= 1
            if status == Status.DELIVERED:
                per[bucket(done_at)][1] -= 1
    return [(key, *values) for key, values in sorted(per.items())]


# A campaign's charts go by the minute while it spans less than this from
# its launch, by the hour while it spans less than two days (what squashing
# the counters keeps: services.counter_bucket), else by the day.
MINUTE_CHARTS = dt.timedelta(hours=2)
HOUR_CHARTS = dt.timedelta(days=2)


@dataclass
class Timeline:
    unit: str  # "minute", "hour" or "day" (UTC days)
    # (start, submitted, delivered, finished, actual cost) per unit, oldest
    # first; minutes and hours are times, every one from launch to the last
    # change; days are dates, those with a change.
    rows: list[tuple]


def campaign_timeline(campaign) -> Timeline:
    """What a campaign's charts show: its sends, deliveries and cost over
    time, from its counter rows, in minutes or hours while it spans less
    than two days."""
    rows = list(
        CampaignCounter.objects.filter(campaign_id=campaign.pk)
        .values("day", "minute", "status")
        .annotate(n=Sum("count"), act=Sum("actual_cost"))
    )
    launched = campaign.launched_at
    start = launched.replace(second=0, microsecond=0) if launched else None
    since = [r["minute"] for r in rows if r["minute"] and start and r["minute"] >= start]
    timed = start is not None and all(r["minute"] for r in rows)
    span = max(since) - start if timed and since else None
    if span is None or span >= HOUR_CHARTS:
        return Timeline("day", campaign_by_day(campaign.pk))
    if span < MINUTE_CHARTS:
        unit, step = "minute", dt.timedelta(minutes=1)

        def bucket(at):
            return at.replace(second=0, microsecond=0)
    else:
        unit, step, start = "hour", dt.timedelta(hours=1), start.replace(minute=0)

        def bucket(at):
            return at.replace(minute=0, second=0, microsecond=0)

    found = _buckets(
        campaign.pk,
        ((bucket(r["minute"]), r) for r in rows),
        bucket,
        keep=lambda at: at >= start,
    )
    by_start = {at: rest for at, *rest in found}
    last = found[-1][0] if found else start
    steps = int((last - start) / step)
    return Timeline(
        unit,
        [
            (at, *by_start.get(at, (0, 0, 0, Decimal(0))))
            for at in (start + n * step for n in range(steps + 1))
        ],
    )


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


def latest_messages(campaign_id: int, counts: Counts, *, size: int = 25) -> list[Message]:
    """The campaign's messages that moved last, newest first: the last
    ``size`` of each status it has but pending (one lookup each on the
    (campaign, status, id) index, whatever the campaign's size), ordered by
    when each last changed. Pending messages have not moved: the page says
    what they wait for instead of listing them."""
    statuses = {s for s in counts.by_status if s != Status.PENDING}
    statuses |= set(
        Message.objects.filter(campaign_id=campaign_id, is_test=True)
        .exclude(status=Status.PENDING)
        .values_list("status", flat=True)
        .distinct()
    )
    found: list[Message] = []
    for status in sorted(statuses):
        found += (
            Message.objects.of_campaign(campaign_id).filter(status=status).order_by("-id")[:size]
        )

    def moved(message):
        return (
            message.done_at or message.sent_at or message.submitted_at or message.created_at,
            message.id,
        )

    return sorted(found, key=moved, reverse=True)[:size]


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


# -- what a launched campaign is waiting for ----------------------------------------------


@dataclass
class Waiting:
    """One thing a launched campaign is waiting for, as its pages say it:
    ``headline`` ("Waiting for the delivery window") and ``detail`` (when,
    and for how many messages). Times are in the reader's zone."""

    kind: str  # scheduled, provider, paused, preparing, window, quiet, retry, throughput,
    #            sending, reports, abtest
    headline: str
    detail: str = ""
    count: int | None = None  # messages it holds
    until: dt.datetime | None = None  # the first moment any of them may go


# Above this many pending messages, what they wait for is read at most once
# every WAITING_CACHE_SECONDS (it counts the pending rows, a pass over them).
WAITING_CACHE_ABOVE = 50_000
WAITING_CACHE_SECONDS = 10


def campaign_waiting(campaign, counts: Counts | None = None, *, now=None) -> list[Waiting]:
    """Why a launched campaign's messages are not all out yet, and until
    when, most important first: its schedule, a pause (with the reason),
    the audience still being prepared, the delivery window or quiet hours
    (per recipient zone), a provider error's retry, the throughput limit;
    or, everything sent, the delivery reports still to come. Empty for a
    draft, a cancelled campaign and one with nothing outstanding. The one
    place the campaign page, the campaign list and the dashboard read it."""
    state = Campaign.State
    now = now or timezone.now()
    if counts is None:
        counts = campaign_counts([campaign.pk])[campaign.pk]
    if campaign.state == state.SCHEDULED:
        when = _at(campaign.scheduled_at, now)
        if campaign.schedule_at_provider:
            return [
                Waiting(
                    "provider",
                    f"Handed to the provider for {when}",
                    "The provider holds the messages and sends them then.",
                    until=campaign.scheduled_at,
                )
            ]
        detail = "Nothing is sent before then"
        if campaign.window_id:
            detail += f"; after that, only inside the delivery window ({campaign.window.summary()})"
        return [
            Waiting("scheduled", f"Scheduled for {when}", detail + ".", until=campaign.scheduled_at)
        ]
    if campaign.state == state.PAUSED:
        left = counts.get(Status.PENDING)
        return [
            Waiting(
                "paused",
                "Paused",
                f"{campaign.pause_reason or 'Paused'}. {left:,} message{_s(left)} not yet sent; "
                "resume to send them.",
                count=left,
            )
        ]
    if campaign.state == state.RUNNING and campaign.provider_list_ids:
        return [Waiting("sending", "Sending to the provider's contact lists")]
    if campaign.state == state.RUNNING and not campaign.materialised_at:
        window = campaign.window
        if window and not window.recipient_local and not window.is_open(now):
            detail = (
                "Its messages are being written; the delivery window opens "
                f"{_at(window.next_open(now), now)}, and sending starts then."
            )
        else:
            detail = "Its messages are being written; sending starts as soon as they are."
        return [Waiting("preparing", "Preparing the audience", detail)]
    found: list[Waiting] = []
    if campaign.state == state.RUNNING and counts.get(Status.PENDING):
        found = _pending_waits(campaign, counts, now)
    with_provider = counts.get(Status.ACCEPTED)
    if campaign.state in (state.RUNNING, state.COMPLETED) and with_provider and not found:
        found.append(
            Waiting(
                "reports",
                "Waiting for delivery reports",
                f"{with_provider:,} message{_s(with_provider)} with the provider, not yet "
                "reported delivered or not.",
                count=with_provider,
            )
        )
    ab_rest_waits = campaign.ab_test_share is not None and campaign.ab_winner_id is None
    if campaign.state == state.RUNNING and ab_rest_waits:
        found.append(_ab_waiting(campaign, now))
    return found


def _ab_waiting(campaign, now) -> Waiting:
    """The rest of an A/B test's audience, waiting for the winner: until
    the test ends, then for the automatic pick or a person's."""
    from . import abtest

    n = abtest.rest_count(campaign)
    who = f"{n:,} recipient{_s(n)}"
    metric = abtest.METRIC_NAMES.get(campaign.ab_metric, campaign.ab_metric)
    ends = campaign.ab_test_ends_at
    pick = f"{who} get the variant picked on the campaign page"
    if campaign.ab_decided_at is not None:
        return Waiting(
            "abtest",
            "Waiting for a person to pick the A/B winner",
            f"The automatic pick by {metric} could not decide; {pick}.",
            count=n,
        )
    if ends and ends > now:
        then = (
            f"then the variant with the best {metric} goes to them"
            if campaign.ab_auto_winner
            else "then they get the variant picked on the campaign page"
        )
        return Waiting(
            "abtest",
            "A/B test running",
            f"{who} wait for the winner until {_at(ends, now)}; {then}.",
            count=n,
            until=ends,
        )
    if campaign.ab_auto_winner:
        return Waiting(
            "abtest",
            "Picking the A/B winner",
            f"The test is over: the variant with the best {metric} goes to {who} within a minute.",
            count=n,
        )
    return Waiting(
        "abtest",
        "Waiting for a person to pick the A/B winner",
        f"The test is over; {pick}.",
        count=n,
    )


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _at(moment: dt.datetime, now: dt.datetime) -> str:
    """A moment in the reader's zone, as briefly as it stays clear."""
    local, today = timezone.localtime(moment), timezone.localtime(now).date()
    if local.date() == today:
        return f"{local:%H:%M} {local.tzname()}"
    if 0 < (local.date() - today).days < 6:
        return f"{local:%a %H:%M} {local.tzname()}"
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()}"


def _between(first: dt.datetime, last: dt.datetime, now: dt.datetime) -> str:
    if timezone.localtime(first).replace(second=0) == timezone.localtime(last).replace(second=0):
        return _at(first, now)
    a, b = timezone.localtime(first), timezone.localtime(last)
    if a.date() == b.date():
        return f"{_at(first, now).rsplit(' ', 1)[0]}–{b:%H:%M} {b.tzname()}"
    return f"{_at(first, now)} – {_at(last, now)}"


def _pending_groups(campaign, pending: int, now) -> list[tuple]:
    """(zone, messages, held, first and last time held to) of the campaign's
    pending messages, per recipient zone."""
    launched = campaign.launched_at.timestamp() if campaign.launched_at else 0
    key = f"campaign-waiting:{campaign.pk}:{launched}"
    if pending > WAITING_CACHE_ABOVE:
        cached = cache.get(key)
        if cached is not None:
            return cached
    held = Q(not_before__gt=now)
    groups = [
        (row["time_zone"], row["n"], row["held"], row["first"], row["last"])
        for row in Message.objects.filter(
            campaign_id=campaign.pk, status=Status.PENDING, is_test=False
        )
        .order_by()
        .values("time_zone")
        .annotate(
            n=Count("id"),
            held=Count("id", filter=held),
            first=Min("not_before", filter=held),
            last=Max("not_before", filter=held),
        )
    ]
    if pending > WAITING_CACHE_ABOVE:
        cache.set(key, groups, WAITING_CACHE_SECONDS)
    return groups


def _pending_waits(campaign, counts: Counts, now) -> list[Waiting]:
    window = campaign.window
    rule = compliance.quiet_hours_for(campaign)
    # kind -> [messages, first until, last until]
    kinds: dict[str, list] = {}

    def add(kind, n, first, last):
        entry = kinds.setdefault(kind, [0, first, last])
        entry[0] += n
        if first and (entry[1] is None or first < entry[1]):
            entry[1] = first
        if last and (entry[2] is None or last > entry[2]):
            entry[2] = last

    for zone, n, held, first, last in _pending_groups(campaign, counts.get(Status.PENDING), now):
        closed = window is not None and not window.is_open(now, zone)
        quiet = rule is not None and rule.quiet(now, zone or settings.TIME_ZONE)
        if held:
            # Held by the window while it is shut where they are; by quiet
            # hours while they are on there, or to the end of them (a whole
            # minute, HH:MM, in one of the number's zones); else by a retry
            # after a provider error (to a moment, seconds from its failure).
            on_the_minute = first.second == 0 and first.microsecond == 0
            if closed:
                kind = "window"
            elif rule is not None and (quiet or on_the_minute):
                kind = "quiet"
            else:
                kind = "retry"
            add(kind, held, first, last)
        if n - held:
            # Not held yet: the next dispatch holds them if it must.
            if closed:
                opens = window.next_open(now, zone)
                add("window", n - held, opens, opens)
            elif quiet:
                over = rule.next_open(now, (zone or settings.TIME_ZONE,))
                add("quiet", n - held, over, over)
            else:
                add("due", n - held, None, None)
    found = []
    if "window" in kinds:
        n, first, last = kinds["window"]
        when = _between(first, last, now)
        if window.recipient_local:
            opens = f"at {window.start_time:%H:%M} in each recipient's zone ({when} your time)"
        elif (
            first.astimezone(window.zone_for()).utcoffset() == timezone.localtime(first).utcoffset()
        ):
            opens = when
        else:
            opens = f"at {window.start_time:%H:%M} {window.time_zone} ({when} your time)"
        found.append(
            Waiting(
                "window",
                "Waiting for the delivery window",
                f"It opens {opens}; {n:,} message{_s(n)} waiting.",
                count=n,
                until=first,
            )
        )
    if "quiet" in kinds:
        n, first, last = kinds["quiet"]
        found.append(
            Waiting(
                "quiet",
                "Held by quiet hours",
                f"No message goes out {rule.describe()} in the recipient's time; {n:,} "
                f"message{_s(n)} waiting until they are over ({_between(first, last, now)} "
                "your time).",
                count=n,
                until=first,
            )
        )
    if "retry" in kinds:
        n, first, last = kinds["retry"]
        found.append(
            Waiting(
                "retry",
                "Retrying after a provider error",
                f"{n:,} message{_s(n)} go again {_between(first, last, now)}.",
                count=n,
                until=first,
            )
        )
    if "due" in kinds:
        n = kinds["due"][0]
        rate = campaign.account.throughput
        seconds = n / rate if rate else 0
        if seconds > 5:
            found.append(
                Waiting(
                    "throughput",
                    f"Held by the throughput limit ({rate:,}/s)",
                    f"{n:,} message{_s(n)} queued, sent at the account's {rate:,} a second: "
                    f"about {_duration(seconds)} to go.",
                    count=n,
                )
            )
        else:
            found.append(
                Waiting("sending", "Sending", f"{n:,} message{_s(n)} queued to go now.", count=n)
            )
    order = ("throughput", "sending", "window", "quiet", "retry")
    return sorted(found, key=lambda w: order.index(w.kind))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{round(seconds)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def cost_estimate(campaign, counts: Counts) -> Decimal | None:
    """The estimate shown beside a launched campaign's actual cost: the
    composer's, taken at launch; for one launched before that was kept, the
    sum of its messages' own estimates once none waits to be sent."""
    if campaign.launch_estimate is not None:
        return campaign.launch_estimate
    if campaign.launched_at and not (counts.get(Status.PENDING) or counts.get(Status.SENDING)):
        return counts.estimated_cost
    return None


# -- first steps ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    # What to do next, and where (a URL name; empty where the role cannot).
    hint: str
    url_name: str
    action: str


def first_steps(*, can_send: bool, can_administer: bool) -> list[Step] | None:
    """The dashboard's first-run checklist: a provider account, an approved
    sender ID, contacts, a first campaign launched. None once all are done."""
    from contacts.models import Contact
    from providers.models import ProviderAccount

    from .models import Approval, Campaign, SenderID

    has_account = ProviderAccount.objects.filter(enabled=True).exists()
    has_sender = SenderID.objects.filter(status=Approval.APPROVED).exists()
    has_contacts = Contact.objects.exists()
    launched = Campaign.objects.filter(
        purpose=Campaign.Purpose.MARKETING, launched_at__isnull=False
    ).exists()
    if has_account and has_sender and has_contacts and launched:
        return None
    return [
        Step(
            "account",
            "Connect a provider account",
            has_account,
            "Start with the built-in Sandbox: it needs no credentials and reports delivery "
            "like a real provider."
            if can_administer
            else "An Admin adds the account messages are sent through.",
            "providers:accounts" if can_administer else "",
            "Add the account",
        ),
        Step(
            "sender",
            "Get a sender ID approved",
            has_sender,
            "The name or number recipients see; request it, and an Admin approves it.",
            "campaigns:senders" if can_send else "",
            "Go to sender IDs",
        ),
        Step(
            "contacts",
            "Add your contacts",
            has_contacts,
            "Create a contact list and paste numbers, or import a CSV or Excel file.",
            "contacts:lists" if can_send else "",
            "Create a contact list",
        ),
        Step(
            "campaign",
            "Launch your first campaign",
            launched,
            "Compose it, send yourself a test, then launch.",
            "campaigns:create" if can_send else "",
            "Compose a campaign",
        ),
    ]


def single_currency() -> str:
    """The currency of every provider account, when they all have the same
    one ("" when they differ or there is none)."""
    from providers.models import ProviderAccount

    currencies = set(ProviderAccount.objects.values_list("currency", flat=True).distinct()[:2])
    return currencies.pop() if len(currencies) == 1 else ""
