"""Real workers against a loopback provider that counts what it receives:
nobody gets a message twice and nobody is lost, across pause/resume and
workers killed mid-batch."""

import datetime as dt
import random
import time

import pytest
from django.db import connection
from django.db.models import Count

from campaigns import services
from campaigns.models import Approval, Campaign, DeliveryWindow, Message, SenderID
from campaigns.tasks import dispatch_due
from contacts.models import Contact, ContactList, ListMembership
from providers.models import ProviderAccount
from providers.status import Status
from tests.providers.fakes import serve
from tests.providers.fakes.infobip import make_handler

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def slow_infobip(delay: float):
    """The loopback Infobip, taking ``delay`` seconds per send request."""

    class Slow(make_handler("k")):
        def send_messages(self, body):
            time.sleep(delay)
            super().send_messages(body)

    return Slow


def received(handler) -> list[str]:
    """Every destination the provider accepted, once per time it got it."""
    return [
        d["to"]
        for method, path, body in list(handler.requests_seen)
        if method == "POST" and path.startswith("/sms/2/text/advanced")
        for message in body["messages"]
        for d in message["destinations"]
    ]


def audience(n: int) -> ContactList:
    contact_list = ContactList.objects.create(name=f"{n} people")
    # Numbers ending in 9 are undeliverable at the fake; keep them out so
    # every recipient ends delivered.
    phones = [f"+491511{i:07d}" for i in range(n * 2) if not str(i).endswith("9")][:n]
    Contact.objects.bulk_create(Contact(phone=p, country="DE") for p in phones)
    ids = Contact.objects.filter(phone__in=phones).values_list("id", flat=True)
    ListMembership.objects.bulk_create(
        ListMembership(contact_list=contact_list, contact_id=i) for i in ids
    )
    return contact_list


def campaign_for(url: str, contact_list, throughput: int, **extra) -> Campaign:
    account = ProviderAccount.objects.create(
        name="loopback",
        kind="infobip",
        base_url=url,
        throughput=throughput,
        options={"auth_type": "app_key", "max_destinations": "200"},
    )
    account.credentials = {"api_key": "k"}
    account.save()
    sender = SenderID.objects.create(value="Shop", kind="alphanumeric", status=Approval.APPROVED)
    campaign = Campaign.objects.create(
        name="c", text="Hello!", sender=sender, account=account, **extra
    )
    campaign.lists.add(contact_list)
    return campaign


def statuses(campaign):
    rows = Message.objects.filter(campaign=campaign).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def materialised(campaign):
    return Campaign.objects.filter(pk=campaign.pk, materialised_at__isnull=False).exists()


def settled(campaign):
    """Its audience is message rows, and none of them waits to be sent."""
    return (
        materialised(campaign)
        and not Message.objects.filter(
            campaign=campaign, status__in=[Status.PENDING, Status.SENDING]
        ).exists()
    )


def test_pause_and_resume_send_nobody_twice(worker, manager):
    handler = slow_infobip(0.05)
    with serve(handler) as url:
        campaign = campaign_for(url, audience(3000), throughput=1000)
        worker()
        services.campaign_launch(campaign=campaign, user=manager)
        assert wait_for(lambda: len(received(handler)) > 300, timeout=60)
        services.campaign_pause(campaign=campaign, user=manager)
        time.sleep(1.0)  # requests in flight finish
        at_pause = len(received(handler))
        time.sleep(1.5)
        assert len(received(handler)) == at_pause, "sending went on after the pause"
        assert 0 < at_pause < 3000
        services.campaign_resume(campaign=campaign, user=manager)
        assert wait_for(lambda: settled(campaign), timeout=90)
        got = received(handler)
        assert len(got) == len(set(got)) == 3000
        # The worker completes the campaign once its dispatch run ends, which
        # may be a moment after the last message is recorded.
        assert wait_for(
            lambda: Campaign.objects.get(pk=campaign.pk).state == Campaign.State.COMPLETED,
            timeout=30,
        )


@pytest.mark.parametrize(("trials", "recipients"), [(10, 20_000)])
def test_killed_workers_lose_and_duplicate_nobody(worker, manager, trials, recipients):
    """SIGKILL the worker at random moments mid-dispatch, restart it, let
    recovery reconcile with the provider; count at the provider."""
    rng = random.Random(20261122)
    handler = slow_infobip(0.03)
    with serve(handler) as url:
        campaign = campaign_for(url, audience(recipients), throughput=10_000)
        env = {"DISPATCH_STUCK_AFTER": "3"}
        current = worker(**env)
        services.campaign_launch(campaign=campaign, user=manager)
        for _ in range(trials):
            time.sleep(rng.uniform(0.2, 1.2))
            current.kill()
            # A restarted worker and the periodic job pick the campaign up:
            # recovery first settles what the dead worker left in "sending".
            current = worker(**env)
            dispatch_due.delay()

        def done():
            dispatch_due.delay()
            return (
                settled(campaign)
                and not Message.objects.filter(campaign=campaign, status=Status.UNKNOWN).exists()
            )

        if not wait_for(done, timeout=240, interval=1.0):
            from campaigns.dispatch import recover_stuck

            # What recovery says when run here, for the failure message.
            pytest.fail(
                f"not settled: {statuses(campaign)}; recovery now: {recover_stuck()}; "
                f"after: {statuses(campaign)}"
            )
        got = received(handler)
        assert len(got) == len(set(got)), "a recipient got the message twice"
        assert len(set(got)) == recipients, "a recipient was lost"
        assert statuses(campaign).get(Status.PENDING, 0) == 0


def test_a_closed_window_holds_messages_until_it_opens(worker, manager):
    handler = make_handler("k")
    with serve(handler) as url:
        closed = DeliveryWindow.objects.create(
            name="never today", days=[], start_time="09:00", end_time="10:00", time_zone="UTC"
        )
        # No day at all is refused by the form; here it stands for "closed
        # right now" whatever day the test runs.
        campaign = campaign_for(url, audience(50), throughput=1000, window=closed)
        worker()
        closed.days = [(dt.date.today().weekday() + 3) % 7]
        closed.save()
        services.campaign_launch(campaign=campaign, user=manager)
        assert wait_for(lambda: materialised(campaign), timeout=30)
        time.sleep(2)
        assert received(handler) == []
        assert statuses(campaign) == {Status.PENDING: 50}
        closed.days = list(range(7))
        closed.start_time, closed.end_time = "00:00", "23:59:59"
        closed.save()
        Message.objects.filter(campaign=campaign).update(not_before=None)
        dispatch_due.delay()
        assert wait_for(lambda: settled(campaign), timeout=60)
        assert len(received(handler)) == 50
    assert connection.vendor == "postgresql"
