"""Costs, rates and charts as the pages show them: the estimate beside the
actual cost, rates with one decimal that never round a failure away, a
campaign's charts by the minute or hour while it spans less than two days,
and the latest messages newest first. Figures are checked against the
database."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import compose, selectors, services
from campaigns.models import Campaign, CampaignCounter, Message
from providers.status import Status
from smsportal.percent import percent, percent_value
from smsportal.templatetags.ui import format_money

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------- rates


@pytest.mark.parametrize(
    ("part", "whole", "text", "value"),
    [
        (2, 3, "66.7%", 66.7),
        (9, 10, "90.0%", 90.0),
        (5, 5, "100.0%", 100.0),
        (0, 5, "0.0%", 0.0),
        (999, 1000, "99.9%", 99.9),
        (2999, 3000, ">99.9%", 99.9),
        (99_999, 100_000, ">99.9%", 99.9),
        (1, 100_000, "<0.1%", 0.1),
        (0, 0, "—", None),
    ],
)
def test_a_rate_has_one_decimal_and_never_hides_a_failure(part, whole, text, value):
    assert percent(part, whole) == text
    assert percent_value(part, whole) == value


def counter(campaign, account, status, n, *, cost="0", minute=None, day=None):
    minute = minute or timezone.now().replace(second=0, microsecond=0)
    return CampaignCounter.objects.create(
        campaign=campaign,
        account=account,
        country="DE",
        day=day or minute.date(),
        minute=minute,
        status=status,
        count=n,
        actual_cost=Decimal(cost),
    )


def test_the_dashboard_and_the_campaign_page_never_say_100_with_a_failure(
    manager_client, draft, sandbox
):
    counter(draft, sandbox, Status.DELIVERED, 2999)
    counter(draft, sandbox, Status.UNDELIVERED, 1)
    page = manager_client.get(reverse("home")).content.decode()
    assert 'data-stat="month-rate">&gt;99.9%' in page
    page = manager_client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()
    assert 'data-rate="delivery">&gt;99.9%' in page


def test_a_rate_chart_with_one_day_of_reports_is_a_bar_not_a_lone_dot(
    manager_client, draft, sandbox
):
    """The dashboard's 30 days with reports on one of them: a line through
    one point draws nothing but a dot; with reports on two days, a line."""
    counter(draft, sandbox, Status.DELIVERED, 5)
    counter(draft, sandbox, Status.UNDELIVERED, 1)
    chart = json.loads(manager_client.get(reverse("home")).context["rate_chart"])
    rates = chart["data"]["datasets"][0]["data"]
    assert len(rates) == 30 and [r for r in rates if r is not None] == [83.3]
    assert chart["type"] == "bar"

    yesterday = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(days=1)
    counter(draft, sandbox, Status.DELIVERED, 1, minute=yesterday, day=yesterday.date())
    chart = json.loads(manager_client.get(reverse("home")).context["rate_chart"])
    assert [r for r in chart["data"]["datasets"][0]["data"] if r is not None] == [100.0, 83.3]
    assert chart["type"] == "line"


# ---------------------------------------------------------------------- costs


def test_the_estimate_is_the_composers_at_launch_beside_the_actual_cost(
    manager_client, draft, manager, django_capture_on_commit_callbacks
):
    before = compose.preview(draft).estimated_cost
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()
    counts = selectors.campaign_counts([draft.pk])[draft.pk]
    # 3 × DE 0.075 + 1 × FR 0.068 estimated; the rejected French one is free.
    assert draft.launch_estimate == before == Decimal("0.293")
    assert counts.actual_cost == sum(
        Message.objects.filter(campaign=draft).values_list("actual_cost", flat=True),
        Decimal(0),
    )
    assert counts.actual_cost == Decimal("0.225")

    page = manager_client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()
    assert f'id="estimated-cost">{format_money(draft.launch_estimate, "EUR")}<' in page
    assert f'id="actual-cost">{format_money(counts.actual_cost, "EUR")}<' in page
    index = manager_client.get(reverse("campaigns:index")).content.decode()
    row = index.split(f'data-campaign="{draft.pk}"')[1].split("</tr>")[0]
    assert f'data-figure="estimate">{format_money(draft.launch_estimate, "EUR")}<' in row
    assert f'data-figure="actual">{format_money(counts.actual_cost, "EUR")}<' in row


def test_a_personalised_campaign_keeps_its_estimate_before_anything_is_priced(
    draft, manager, django_capture_on_commit_callbacks
):
    """Its messages are priced as they are rendered, at sending: the
    estimate does not start from nothing and grow with them."""
    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_launch(campaign=draft, user=manager)
    services.materialise(draft.pk)
    draft.refresh_from_db()
    counts = selectors.campaign_counts([draft.pk])[draft.pk]
    assert counts.estimated_cost == 0  # nothing rendered yet
    assert selectors.cost_estimate(draft, counts) == draft.launch_estimate == Decimal("0.293")


def test_a_campaign_launched_before_estimates_were_kept_uses_its_messages_own(draft, sandbox):
    now = timezone.now()
    Campaign.objects.filter(pk=draft.pk).update(
        state=Campaign.State.COMPLETED, launched_at=now, launch_estimate=None
    )
    draft.refresh_from_db()
    CampaignCounter.objects.create(
        campaign=draft,
        account=sandbox,
        day=now.date(),
        status=Status.DELIVERED,
        count=2,
        estimated_cost=Decimal("0.15"),
    )
    counts = selectors.campaign_counts([draft.pk])[draft.pk]
    assert selectors.cost_estimate(draft, counts) == Decimal("0.15")


# --------------------------------------------------------------------- charts


def launched(draft, at):
    Campaign.objects.filter(pk=draft.pk).update(state=Campaign.State.RUNNING, launched_at=at)
    draft.refresh_from_db()
    return draft


def test_a_short_campaign_is_charted_by_the_minute(draft, sandbox):
    start = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=30)
    launched(draft, start + dt.timedelta(seconds=5))
    counter(draft, sandbox, Status.DELIVERED, 3, minute=start, cost="0.225")
    counter(draft, sandbox, Status.UNDELIVERED, 1, minute=start + dt.timedelta(minutes=12))

    timeline = selectors.campaign_timeline(draft)
    assert timeline.unit == "minute"
    assert len(timeline.rows) == 13  # every minute from launch to the last change
    assert timeline.rows[0] == (start, 3, 3, 3, Decimal("0.225"))
    assert timeline.rows[12] == (start + dt.timedelta(minutes=12), 1, 0, 1, Decimal(0))
    assert all(row[1:] == (0, 0, 0, Decimal(0)) for row in timeline.rows[1:12])


def test_a_campaign_of_a_day_is_charted_by_the_hour(draft, sandbox):
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=20)
    launched(draft, start + dt.timedelta(minutes=10))
    counter(draft, sandbox, Status.DELIVERED, 5, minute=start + dt.timedelta(minutes=15))
    counter(draft, sandbox, Status.DELIVERED, 2, minute=start + dt.timedelta(minutes=55))
    counter(draft, sandbox, Status.DELIVERED, 4, minute=start + dt.timedelta(hours=19))

    timeline = selectors.campaign_timeline(draft)
    assert timeline.unit == "hour"
    assert len(timeline.rows) == 20
    assert timeline.rows[0][:3] == (start, 7, 7)
    assert timeline.rows[19][:3] == (start + dt.timedelta(hours=19), 4, 4)
    page_total = sum(row[1] for row in timeline.rows)
    assert page_total == sum(CampaignCounter.objects.values_list("count", flat=True))


def test_a_campaign_over_two_days_is_charted_by_the_day(draft, sandbox):
    start = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(days=3)
    launched(draft, start)
    counter(draft, sandbox, Status.DELIVERED, 5, minute=start)
    counter(draft, sandbox, Status.DELIVERED, 4, minute=start + dt.timedelta(days=3))
    assert selectors.campaign_timeline(draft).unit == "day"


def test_squashing_keeps_minutes_then_hours_then_days_after_launch(draft, sandbox):
    launch = dt.datetime(2026, 3, 2, 9, 0, 30, tzinfo=dt.UTC)
    launched(draft, launch)
    bucket = services.counter_bucket
    assert bucket(dt.datetime(2026, 3, 2, 9, 7, tzinfo=dt.UTC), launch).minute == 7
    assert bucket(dt.datetime(2026, 3, 2, 12, 7, tzinfo=dt.UTC), launch) == dt.datetime(
        2026, 3, 2, 12, 0, tzinfo=dt.UTC
    )
    assert bucket(dt.datetime(2026, 3, 5, 12, 7, tzinfo=dt.UTC), launch) == dt.datetime(
        2026, 3, 5, 0, 0, tzinfo=dt.UTC
    )
    # Test sends before the launch: by the day.
    assert bucket(dt.datetime(2026, 3, 1, 17, 3, tzinfo=dt.UTC), launch) == dt.datetime(
        2026, 3, 1, 0, 0, tzinfo=dt.UTC
    )

    # A squash keeps the campaign's counts and its chart.
    start = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=40)
    launched(draft, start)
    for i in range(25):
        counter(draft, sandbox, Status.DELIVERED, 1, minute=start + dt.timedelta(minutes=i % 5))
    before = selectors.campaign_timeline(draft)
    services.squash_counters()
    assert CampaignCounter.objects.filter(campaign=draft).count() == 5
    assert selectors.campaign_timeline(draft) == before


def test_the_campaign_page_charts_by_the_minute_after_a_quick_send(
    manager_client, draft, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_launch(campaign=draft, user=manager)
    page = manager_client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()
    assert 'id="charts" data-unit="minute"' in page
    assert "Sent and delivered per minute" in page


# ------------------------------------------------------------ latest messages


def test_the_latest_messages_are_newest_first_and_none_is_pending(draft, sandbox):
    now = timezone.now()
    Campaign.objects.filter(pk=draft.pk).update(state=Campaign.State.RUNNING, launched_at=now)
    old = Message.objects.create(
        campaign=draft,
        phone="+4915100000001",
        account=sandbox,
        status=Status.DELIVERED,
        submitted_at=now - dt.timedelta(minutes=5),
        done_at=now - dt.timedelta(minutes=4),
    )
    new = Message.objects.create(
        campaign=draft,
        phone="+4915100000002",
        account=sandbox,
        status=Status.UNDELIVERED,
        submitted_at=now - dt.timedelta(minutes=2),
        done_at=now - dt.timedelta(minutes=1),
    )
    Message.objects.create(campaign=draft, phone="+4915100000003", account=sandbox)
    counts = selectors.Counts(
        by_status={Status.DELIVERED: 1, Status.UNDELIVERED: 1, Status.PENDING: 1}
    )
    assert selectors.latest_messages(draft.pk, counts) == [new, old]
