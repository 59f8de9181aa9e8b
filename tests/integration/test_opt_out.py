"""An opt-out stops every message not yet sent: real workers, a loopback
provider that counts what reaches it, and a STOP reply arriving after launch
and before the number's message goes out, whatever the campaign waits for."""

import datetime as dt
import time

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.inbound import ingest_inbound
from campaigns.models import Campaign, DeliveryWindow, Message
from campaigns.selectors import campaign_counts
from campaigns.tasks import dispatch_due
from contacts.models import Suppression
from providers.base import InboundSms
from providers.status import Status
from tests.providers.fakes import serve
from tests.providers.fakes.infobip import make_handler

from .conftest import wait_for
from .test_dispatch_faults import audience, campaign_for, materialised, received, settled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def reply(account, phone: str, text: str) -> None:
    """A reply from ``phone``, as a provider's inbound report brings it."""
    number = phone.lstrip("+")
    ingest_inbound(
        account,
        [
            InboundSms(
                provider_message_id=f"in-{number}-{text}", sender=number, recipient="", text=text
            )
        ],
    )


def last_phone(campaign) -> str:
    return (
        Message.objects.filter(campaign=campaign).order_by("-id").values_list("phone", flat=True)[0]
    )


def assert_opted_out_only(campaign, handler, phone: str, audience_size: int) -> None:
    got = received(handler)
    assert phone.lstrip("+") not in got, "a message reached the provider after its number opted out"
    assert len(got) == len(set(got)) == audience_size - 1
    skipped = Message.objects.get(campaign=campaign, phone=phone)
    assert (skipped.status, skipped.skip_reason, skipped.submitted_at) == (
        Status.SKIPPED,
        "opted_out",
        None,
    )
    counts = campaign_counts([campaign.pk])[campaign.pk]
    # The counters agree with the rows: audience = sent + skipped + failed.
    assert counts.total == audience_size == Message.objects.filter(campaign=campaign).count()
    assert counts.get(Status.SKIPPED) == 1 and counts.submitted == audience_size - 1


def test_a_scheduled_campaign_leaves_out_a_number_that_opted_out_before_its_time(worker, manager):
    handler = make_handler("k")
    with serve(handler) as url:
        at = timezone.now() + dt.timedelta(seconds=10)
        campaign = campaign_for(url, audience(20), throughput=1000, scheduled_at=at)
        worker()
        services.campaign_launch(campaign=campaign, user=manager)
        assert wait_for(lambda: materialised(campaign), timeout=8)
        phone = last_phone(campaign)
        reply(campaign.account, phone, "STOP")
        assert Suppression.objects.filter(phone=phone).exists()
        assert received(handler) == []
        # Its time comes.
        time.sleep(max(0.0, (at - timezone.now()).total_seconds()) + 0.5)
        dispatch_due.delay()
        assert wait_for(lambda: settled(campaign), timeout=60)
        assert_opted_out_only(campaign, handler, phone, 20)


def test_messages_held_by_a_closed_window_leave_out_a_number_that_opted_out(worker, manager):
    handler = make_handler("k")
    with serve(handler) as url:
        closed = DeliveryWindow.objects.create(
            name="not now",
            days=[(dt.date.today().weekday() + 3) % 7],
            start_time="09:00",
            end_time="10:00",
            time_zone="UTC",
        )
        campaign = campaign_for(url, audience(20), throughput=1000, window=closed)
        worker()
        services.campaign_launch(campaign=campaign, user=manager)
        assert wait_for(lambda: materialised(campaign), timeout=30)
        time.sleep(1)
        assert received(handler) == []
        phone = last_phone(campaign)
        reply(campaign.account, phone, "stop.")
        # The window opens.
        closed.days = list(range(7))
        closed.start_time, closed.end_time = "00:00", "23:59:59"
        closed.save()
        Message.objects.filter(campaign=campaign).update(not_before=None)
        dispatch_due.delay()
        assert wait_for(lambda: settled(campaign), timeout=60)
        assert_opted_out_only(campaign, handler, phone, 20)


def test_a_paused_campaign_resumed_leaves_out_a_number_that_opted_out_meanwhile(worker, manager):
    handler = make_handler("k")
    with serve(handler) as url:
        campaign = campaign_for(url, audience(40), throughput=5)
        worker()
        services.campaign_launch(campaign=campaign, user=manager)
        assert wait_for(lambda: len(received(handler)) >= 5, timeout=60)
        services.campaign_pause(campaign=campaign, user=manager)
        time.sleep(1.0)  # requests in flight finish
        phone = last_phone(campaign)
        reply(campaign.account, phone, "Unsubscribe")
        services.campaign_resume(campaign=campaign, user=manager)
        campaign.account.throughput = 1000
        campaign.account.save()
        assert wait_for(lambda: settled(campaign), timeout=90)
        assert_opted_out_only(campaign, handler, phone, 40)


def test_a_running_campaign_leaves_out_a_number_that_opts_out_while_it_sends(worker, manager):
    handler = make_handler("k")
    with serve(handler) as url:
        campaign = campaign_for(url, audience(40), throughput=5)
        worker()
        services.campaign_launch(campaign=campaign, user=manager)
        assert wait_for(lambda: len(received(handler)) >= 1, timeout=60)
        phone = last_phone(campaign)
        reply(campaign.account, phone, "STOP")
        assert wait_for(lambda: settled(campaign), timeout=90)
        assert_opted_out_only(campaign, handler, phone, 40)

        # START takes the keyword opt-out back: a later campaign reaches the number.
        reply(campaign.account, phone, "START")
        assert not Suppression.objects.filter(phone=phone).exists()
        later = Campaign.objects.create(
            name="later", text="Hello again!", sender=campaign.sender, account=campaign.account
        )
        later.lists.set(campaign.lists.all())
        before = len(received(handler))
        campaign.account.throughput = 1000
        campaign.account.save()
        services.campaign_launch(campaign=later, user=manager)
        assert wait_for(lambda: settled(later), timeout=60)
        assert received(handler)[before:].count(phone.lstrip("+")) == 1
