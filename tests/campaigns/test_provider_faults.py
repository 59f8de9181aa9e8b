"""A provider that misbehaves, behind the engine: 500/503, 429 with and
without Retry-After, slow answers past the timeout, connection refused,
malformed JSON. Each is retried with backoff or reconciled, nothing is lost
and nobody gets the message twice (counted at the loopback provider)."""

import datetime as dt
import threading
import time

import pytest
from django.utils import timezone

from campaigns import dispatch, services
from campaigns.models import Campaign, Message
from campaigns.selectors import campaign_counts
from providers.models import ProviderAccount
from providers.status import Status
from tests.providers.fakes import serve
from tests.providers.fakes.infobip import InfobipHandler, make_handler

pytestmark = pytest.mark.django_db(transaction=True)


def faulty(faults: list):
    """The loopback Infobip; each send request takes the next fault from the
    list (None: behave), then behaves."""
    lock = threading.Lock()

    class Faulty(make_handler("k")):
        taken: list[str] = []  # every destination the provider took

        def take(self, body):
            self.taken.extend(d["to"] for m in body["messages"] for d in m["destinations"])
            return InfobipHandler.send_messages(self, body)

        def send_messages(self, body):
            with lock:
                fault = faults.pop(0) if faults else None
            if fault is None:
                return self.take(body)
            kind, value = fault
            if kind == "status":
                self.send_response(value[0])
                for name, header in value[1].items():
                    self.send_header(name, header)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"requestError":{"serviceException":{"text":"busy"}}}')
            elif kind == "slow":
                # Takes the messages, then answers too late.
                time.sleep(value)
                return self.take(body)
            elif kind == "garbage":
                # Takes the messages, then answers with something unreadable.
                super_answer = self.answer
                self.answer = lambda payload, status=200: (
                    self.send_response(200),
                    self.send_header("Content-Type", "application/json"),
                    self.end_headers(),
                    self.wfile.write(b"<html>proxy error"),
                )
                self.take(body)
                self.answer = super_answer

    Faulty.taken = []
    return Faulty


def accepted_at(handler) -> list[str]:
    return list(handler.taken)


@pytest.fixture
def setup(draft, sender, settings):
    settings.PROVIDER_READ_TIMEOUT = 0.5
    settings.DISPATCH_MAX_FAILURES = 4

    def make(handler, url):
        account = ProviderAccount.objects.create(
            name="ib",
            kind="infobip",
            base_url=url,
            throughput=1000,
            options={"auth_type": "app_key"},
        )
        account.credentials = {"api_key": "k"}
        account.save()
        sender.accounts.add(account)
        draft.account = account
        draft.save()
        return draft

    return make


def run_until_settled(campaign, rounds=10):
    """Let time pass between rounds: backoffs are over, stuck ones recover."""
    for _ in range(rounds):
        Message.objects.filter(campaign=campaign).update(not_before=None)
        Message.objects.filter(campaign=campaign, submitted_at__isnull=False).update(
            submitted_at=timezone.now() - dt.timedelta(hours=1)
        )
        dispatch.recover_stuck()
        dispatch.dispatch(campaign.pk, time_budget=5)
        if not Message.objects.filter(
            campaign=campaign, status__in=[Status.PENDING, Status.SENDING, Status.UNKNOWN]
        ).exists():
            return


@pytest.mark.parametrize(
    "fault",
    [
        ("status", (500, {})),
        ("status", (503, {})),
        ("status", (429, {})),
        ("status", (429, {"Retry-After": "7"})),
        ("slow", 1.2),
        ("garbage", None),
    ],
    ids=["500", "503", "429", "429-retry-after", "timeout", "malformed-json"],
)
def test_each_fault_ends_with_everyone_sent_exactly_once(setup, manager, fault):
    handler = faulty([fault])
    with serve(handler) as url:
        campaign = setup(handler, url)
        services.campaign_launch(campaign=campaign, user=manager)
        if fault[0] == "status":
            # Nothing was taken: back to pending, with the error and a backoff.
            waiting = Message.objects.filter(campaign=campaign, status=Status.PENDING)
            assert waiting.count() == 4
            assert all(m.error_description and m.not_before for m in waiting)
            if fault[1][1].get("Retry-After"):
                delay = (waiting[0].not_before - timezone.now()).total_seconds()
                assert 5 < delay <= 7
        else:
            # The provider may have the messages: unknown until reconciled.
            assert set(
                Message.objects.filter(campaign=campaign).values_list("status", flat=True)
            ) == {Status.UNKNOWN}
        run_until_settled(campaign)
        got = accepted_at(handler)
        assert sorted(got) == sorted(m.phone.lstrip("+") for m in campaign.messages.all())
        statuses = set(campaign.messages.values_list("status", flat=True))
        assert statuses <= {Status.DELIVERED, Status.UNDELIVERED, Status.ACCEPTED}
        counts = campaign_counts([campaign.pk])[campaign.pk]
        assert counts.total == 4 and counts.get(Status.UNKNOWN) == 0


def test_a_provider_that_keeps_failing_pauses_the_campaign_visibly(setup, manager):
    faults = [("status", (503, {}))] * 10
    handler = faulty(faults)
    with serve(handler) as url:
        campaign = setup(handler, url)
        services.campaign_launch(campaign=campaign, user=manager)
        run_until_settled(campaign, rounds=5)
        campaign.refresh_from_db()
        assert campaign.state == Campaign.State.PAUSED
        assert "4 failed attempts in a row" in campaign.pause_reason
        assert "server error (HTTP 503)" in campaign.pause_reason
        assert accepted_at(handler) == []
        assert set(campaign.messages.values_list("status", flat=True)) == {Status.PENDING}
        # Once it is back, resuming sends everyone once.
        faults.clear()  # the provider is back
        services.campaign_resume(campaign=campaign, user=manager)
        run_until_settled(campaign)
        assert len(accepted_at(handler)) == 4


def test_bad_credentials_pause_at_once(setup, manager):
    handler = make_handler("another-key")
    with serve(handler) as url:
        campaign = setup(handler, url)
        services.campaign_launch(campaign=campaign, user=manager)
        campaign.refresh_from_db()
        assert campaign.state == Campaign.State.PAUSED
        assert "credentials" in campaign.pause_reason.lower()
        assert set(campaign.messages.values_list("status", flat=True)) == {Status.PENDING}
