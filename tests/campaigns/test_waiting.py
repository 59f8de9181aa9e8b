"""What a launched campaign waits for: one selector
(``selectors.campaign_waiting``), read by the campaign page, the campaign
list and the dashboard. Each figure it gives is the database's."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import selectors, services
from campaigns.models import Campaign, DeliveryWindow, Message
from providers.status import Status

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def waiting(campaign, now=None):
    campaign = Campaign.objects.select_related("account", "window").get(pk=campaign.pk)
    return selectors.campaign_waiting(campaign, now=now)


def launch(campaign, user, capture):
    with capture(execute=True):
        services.campaign_launch(campaign=campaign, user=user)
    campaign.refresh_from_db()
    return campaign


def pending_held(campaign, now=None):
    return Message.objects.filter(
        campaign=campaign, status=Status.PENDING, not_before__gt=now or timezone.now()
    ).count()


def window_opening_in(hours: int, *, recipient_local=False, zone="UTC") -> DeliveryWindow:
    now = timezone.now().astimezone(zoneinfo.ZoneInfo(zone))
    start = (now + dt.timedelta(hours=hours)).time().replace(second=0, microsecond=0)
    end = (now + dt.timedelta(hours=hours + 1)).time().replace(second=0, microsecond=0)
    return DeliveryWindow.objects.create(
        name=f"In {hours} h",
        days=list(range(7)),
        start_time=start,
        end_time=end,
        recipient_local=recipient_local,
        time_zone=zone,
    )


def test_a_draft_and_a_finished_campaign_wait_for_nothing(draft, manager, capture_on_commit):
    assert waiting(draft) == []
    launch(draft, manager, capture_on_commit)
    assert draft.state == Campaign.State.COMPLETED
    assert waiting(draft) == []


@pytest.fixture
def capture_on_commit(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_a_closed_window_holds_every_message_until_it_opens(draft, manager, capture_on_commit):
    draft.window = window_opening_in(2)
    draft.save()
    launch(draft, manager, capture_on_commit)

    (found,) = waiting(draft)
    assert found.kind == "window"
    assert found.count == pending_held(draft) == 4
    first = Message.objects.filter(campaign=draft).order_by("not_before").first().not_before
    assert found.until == first
    assert f"{draft.window.start_time:%H:%M} UTC" in found.detail
    assert "4 messages waiting" in found.detail


def test_a_window_in_each_recipients_zone_says_so(draft, manager, capture_on_commit):
    draft.window = window_opening_in(3, recipient_local=True, zone="Europe/Berlin")
    draft.save()
    launch(draft, manager, capture_on_commit)

    (found,) = waiting(draft)
    assert found.kind == "window"
    assert f"at {draft.window.start_time:%H:%M} in each recipient's zone" in found.detail
    assert found.count == pending_held(draft)


def test_quiet_hours_hold_and_say_until_when(draft, manager, settings, capture_on_commit):
    berlin = timezone.now().astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    settings.QUIET_HOURS_ENABLED = True
    settings.QUIET_HOURS_START = f"{berlin - dt.timedelta(hours=1):%H}:00"
    settings.QUIET_HOURS_END = f"{berlin + dt.timedelta(hours=2):%H}:00"
    launch(draft, manager, capture_on_commit)

    (found,) = waiting(draft)
    assert found.kind == "quiet"
    assert found.count == pending_held(draft) == 4
    end = berlin.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=2)
    assert found.until == end
    assert settings.QUIET_HOURS_START in found.detail


def test_a_scheduled_campaign_says_when(draft, manager, settings):
    when = timezone.now() + dt.timedelta(days=1)
    draft.scheduled_at = when
    draft.save()
    services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()

    (found,) = waiting(draft)
    assert found.kind == "scheduled"
    local = timezone.localtime(when)
    assert found.headline == f"Scheduled for {local:%a %H:%M} {local.tzname()}"


def test_a_paused_campaign_gives_its_reason_and_what_is_left(draft, manager, capture_on_commit):
    draft.window = window_opening_in(2)
    draft.save()
    launch(draft, manager, capture_on_commit)
    services.campaign_pause(campaign=draft, user=manager)

    (found,) = waiting(draft)
    assert found.kind == "paused"
    assert "Paused by mona" in found.detail
    left = Message.objects.filter(campaign=draft, status=Status.PENDING).count()
    assert found.count == left == 4


def running_with_messages(draft, sandbox, n, **fields):
    """A running campaign whose messages are written but not yet sent."""
    now = timezone.now()
    Campaign.objects.filter(pk=draft.pk).update(
        state=Campaign.State.RUNNING, launched_at=now, materialised_at=now
    )
    from campaigns.delivery import Deltas

    deltas = Deltas()
    for i in range(n):
        message = Message.objects.create(
            campaign=draft,
            phone=f"+49151{30000000 + i}",
            country="DE",
            time_zone="Europe/Berlin",
            account=sandbox,
            text="Hi",
            **fields,
        )
        deltas.add(message, Status.PENDING, count=1)
    deltas.save()
    draft.refresh_from_db()


def test_queued_messages_are_held_by_the_throughput_limit(draft, sandbox):
    sandbox.throughput = 2
    sandbox.save()
    running_with_messages(draft, sandbox, 30)

    (found,) = waiting(draft)
    assert found.kind == "throughput"
    assert found.headline == "Held by the throughput limit (2/s)"
    assert found.count == 30
    assert "about 15 s to go" in found.detail


def test_a_few_queued_messages_are_simply_sending(draft, sandbox):
    running_with_messages(draft, sandbox, 3)
    (found,) = waiting(draft)
    assert (found.kind, found.count) == ("sending", 3)


def test_messages_retried_after_a_provider_error_say_when(draft, sandbox):
    retry = timezone.now() + dt.timedelta(seconds=37.5)
    running_with_messages(draft, sandbox, 2, not_before=retry)
    (found,) = waiting(draft)
    assert (found.kind, found.count, found.until) == ("retry", 2, retry)


def test_everything_sent_waits_for_delivery_reports(draft, sandbox):
    running_with_messages(draft, sandbox, 2)
    Message.objects.filter(campaign=draft).update(
        status=Status.ACCEPTED, submitted_at=timezone.now()
    )
    from campaigns.delivery import Deltas

    deltas = Deltas()
    for message in Message.objects.filter(campaign=draft):
        deltas.move(message, Status.PENDING, Status.ACCEPTED)
    deltas.save()
    (found,) = waiting(draft)
    assert (found.kind, found.count) == ("reports", 2)


def test_the_three_pages_say_what_the_selector_says(
    manager_client, draft, manager, capture_on_commit
):
    draft.window = window_opening_in(2)
    draft.save()
    launch(draft, manager, capture_on_commit)
    (found,) = waiting(draft)

    for url in (reverse("campaigns:detail", args=[draft.pk]), reverse("campaigns:index")):
        page = manager_client.get(url).content.decode()
        assert 'data-waiting="window"' in page
        assert found.detail.replace("'", "&#x27;") in page
    page = manager_client.get(reverse("home")).content.decode()
    active = page.split('id="active"')[1].split("</section>")[0]
    assert found.detail.replace("'", "&#x27;") in active
    # The live part of the campaign page says it too.
    part = manager_client.get(
        reverse("campaigns:detail", args=[draft.pk]) + "?part=progress&state=running",
        headers={"HX-Request": "true"},
    ).content.decode()
    assert 'data-waiting="window"' in part


def test_the_launch_message_says_what_it_waits_for(manager_client, draft, capture_on_commit):
    draft.window = window_opening_in(2)
    draft.save()
    # The workers write the messages after the request: the window is
    # known already.
    with capture_on_commit(execute=True):
        response = manager_client.post(reverse("campaigns:launch", args=[draft.pk]), follow=True)
    page = response.content.decode()
    assert re.search(
        "Launched. Preparing the audience: Its messages are being written; the delivery "
        rf"window opens (\w{{3}} )?{draft.window.start_time:%H:%M} UTC, and sending starts then",
        page,
    ), page.split('class="flashes"')[1][:400]
    assert "sending it now" not in page
    # Once they are written, the page says how many wait.
    page = manager_client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()
    assert f"{pending_held(draft)} messages waiting" in page


def test_a_large_campaign_reads_its_pending_rows_at_most_every_few_seconds(
    draft, sandbox, settings, django_assert_num_queries
):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    running_with_messages(draft, sandbox, 3)
    campaign = Campaign.objects.select_related("account", "window").get(pk=draft.pk)
    counts = selectors.campaign_counts([draft.pk])[draft.pk]
    counts.by_status[Status.PENDING] = selectors.WAITING_CACHE_ABOVE + 1
    first = selectors.campaign_waiting(campaign, counts)
    with django_assert_num_queries(0):
        again = selectors.campaign_waiting(campaign, counts)
    assert again == first
