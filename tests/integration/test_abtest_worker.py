"""An A/B test with real workers against a loopback provider that counts what
it receives: workers are killed mid-dispatch in the test part and in the
rest, and still every recipient gets exactly one variant, exactly once, the
one its message row names."""

import pytest
from django.db.models import Count

from campaigns import abtest, services
from campaigns.models import Campaign, Message
from campaigns.tasks import dispatch_due
from providers.status import Status
from tests.providers.fakes import serve

from .conftest import wait_for
from .test_dispatch_faults import audience, campaign_for, settled, slow_infobip, statuses

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TEXTS = ["Spring sale, variant A!", "Spring sale, variant B!", "Spring sale, variant C!"]


def deliveries(handler) -> list[tuple[str, str]]:
    """(number, text) of every destination the provider accepted, once per
    time it got it."""
    return [
        (d["to"], message["text"])
        for method, path, body in list(handler.requests_seen)
        if method == "POST" and path.startswith("/sms/2/text/advanced")
        for message in body["messages"]
        for d in message["destinations"]
    ]


def test_each_recipient_gets_one_variant_once_across_killed_workers(worker, manager):
    recipients, share = 4800, 50
    handler = slow_infobip(0.03)
    with serve(handler) as url:
        campaign = campaign_for(
            url,
            audience(recipients),
            throughput=800,
            ab_test_share=share,
            ab_auto_winner=False,
        )
        campaign.text = TEXTS[0]
        campaign.save()
        abtest.save_variants(campaign, TEXTS)
        env = {"DISPATCH_STUCK_AFTER": "3"}
        workers = [worker(**env)]
        killed_at = []

        def beat():
            """What beat does every few seconds: recovery, then dispatch."""
            dispatch_due.delay()
            return True

        def kill_when(sent: int):
            """Kill the worker once the provider has ``sent`` messages (it is
            mid-dispatch then), and start another."""
            assert wait_for(
                lambda: len(deliveries(handler)) >= sent or not beat(), timeout=120, interval=1.0
            ), statuses(campaign)
            workers[-1].kill()
            killed_at.append(len(deliveries(handler)))
            workers.append(worker(**env))
            dispatch_due.delay()

        def done():
            beat()
            return (
                settled(campaign)
                and not Message.objects.filter(campaign=campaign, status=Status.UNKNOWN).exists()
            )

        services.campaign_launch(campaign=campaign, user=manager)
        test_part = recipients * share // 100
        for sent in (300, 1000, 1600):
            kill_when(sent)
        assert wait_for(done, timeout=240, interval=1.0), statuses(campaign)
        got = deliveries(handler)
        assert len(got) == len({to for to, _ in got}) == test_part
        campaign.refresh_from_db()
        # Everyone of the test part is sent, but the campaign waits for the winner.
        assert campaign.state == Campaign.State.RUNNING
        split = dict(
            Message.objects.filter(campaign=campaign)
            .values_list("variant__label")
            .annotate(n=Count("id"))
        )
        assert split == {"A": 800, "B": 800, "C": 800}

        winner = campaign.variants.get(label="C")
        assert abtest.pick_winner(campaign=campaign, variant=winner, user=manager) == (
            recipients - test_part
        )
        for sent in (test_part + 300, test_part + 1000, test_part + 1600):
            kill_when(sent)
        assert wait_for(done, timeout=240, interval=1.0), statuses(campaign)
        assert wait_for(
            lambda: Campaign.objects.get(pk=campaign.pk).state == Campaign.State.COMPLETED,
            timeout=60,
        )

    got = deliveries(handler)
    numbers = [to for to, _ in got]
    assert len(numbers) == len(set(numbers)), "a recipient got a message twice"
    assert len(set(numbers)) == recipients, "a recipient was lost"
    # Each got the text of the variant its message names, and only that one.
    assigned = {
        phone.lstrip("+"): text
        for phone, text in Message.objects.filter(campaign=campaign).values_list(
            "phone", "variant__text"
        )
    }
    assert {to.lstrip("+"): text for to, text in got} == assigned
    assert (
        Message.objects.filter(campaign=campaign, variant=winner).count()
        == test_part // 3 + recipients - test_part
    )
    # The kills fell mid-dispatch, in both parts.
    assert all(0 < n < recipients for n in killed_at)
    assert any(n < test_part for n in killed_at) and any(n > test_part for n in killed_at)
