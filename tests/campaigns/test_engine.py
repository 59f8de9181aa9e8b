"""The campaign engine's rules, one by one: windows, DLT, the throughput
limit, failover, pause between requests, recovery after a crash."""

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import compose, dispatch, services
from campaigns.models import Approval, Campaign, DeliveryWindow, DLTTemplate, Message
from campaigns.selectors import campaign_counts
from contacts import services as contact_services
from providers.models import ProviderAccount
from providers.status import Status
from providers.throttle import Limiter, _wait_from_log
from smsportal.models import AuditLogEntry
from tests.providers.fakes import serve
from tests.providers.fakes.infobip import make_handler

pytestmark = pytest.mark.django_db(transaction=True)
UTC = dt.UTC


# -- delivery windows ---------------------------------------------------------


def window(**kw):
    w = DeliveryWindow(
        name="w",
        days=[0, 1, 2, 3, 4],
        start_time=dt.time(9),
        end_time=dt.time(18),
        time_zone="Europe/Berlin",
        **kw,
    )
    w.clean()
    return w


def test_a_window_is_open_only_on_its_days_and_hours():
    w = window()
    monday_10_berlin = dt.datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
    assert w.is_open(monday_10_berlin)
    assert not w.is_open(monday_10_berlin.replace(hour=17, minute=30))  # 18:30 Berlin
    saturday = dt.datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert not w.is_open(saturday)
    assert w.next_open(saturday) == dt.datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert w.summary() == "Mon–Fri 09:00–18:00 Europe/Berlin"


def test_a_window_over_midnight_belongs_to_the_day_it_starts():
    w = DeliveryWindow(
        name="night", days=[4], start_time=dt.time(22), end_time=dt.time(2), time_zone="UTC"
    )
    assert w.is_open(dt.datetime(2026, 11, 27, 23, 0, tzinfo=UTC))  # Friday 23:00
    assert w.is_open(dt.datetime(2026, 11, 28, 1, 0, tzinfo=UTC))  # Saturday 01:00
    assert not w.is_open(dt.datetime(2026, 11, 28, 23, 0, tzinfo=UTC))  # Saturday 23:00


def test_a_recipient_local_window_uses_each_number_s_zone():
    w = window(recipient_local=True)
    at = dt.datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # Mon: 16:30 Berlin, 10:30 New York
    assert w.is_open(at, "Europe/Berlin")
    assert w.is_open(at, "America/New_York")
    later = dt.datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # 21:00 Berlin, 15:00 New York
    assert not w.is_open(later, "Europe/Berlin")
    assert w.is_open(later, "America/New_York")
    assert w.summary() == "Mon–Fri 09:00–18:00 recipient's time"


def test_it_refuses_a_window_without_days():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="at least one day"):
        DeliveryWindow(name="x", days=[], start_time=dt.time(9), end_time=dt.time(10)).clean()


def test_a_closed_window_holds_messages_until_it_opens(draft, manager):
    now = timezone.now()
    closed = DeliveryWindow.objects.create(
        name="closed",
        days=[(now.weekday() + 3) % 7],
        start_time=dt.time(9),
        end_time=dt.time(10),
        time_zone="UTC",
    )
    draft.window = closed
    draft.save()
    services.campaign_launch(campaign=draft, user=manager)
    pending = Message.objects.filter(campaign=draft, status=Status.PENDING)
    assert pending.count() == 4
    opens = closed.next_open(now)
    assert set(pending.values_list("not_before", flat=True)) == {opens}
    # When it opens, they go.
    Message.objects.filter(campaign=draft).update(not_before=now - dt.timedelta(seconds=1))
    closed.days = list(range(7))
    closed.start_time, closed.end_time = dt.time(0), dt.time(23, 59, 59)
    closed.save()
    dispatch.dispatch(draft.pk, time_budget=5)
    assert not Message.objects.filter(campaign=draft, status=Status.PENDING).exists()


# -- DLT ------------------------------------------------------------------------


def test_dlt_matching_allows_only_the_variable_parts():
    content = "Dear {#var#}, your OTP is {#var#}. - ShopIN"
    assert compose.dlt_matches(content, "Dear Anna, your OTP is 1234. - ShopIN")
    assert not compose.dlt_matches(content, "Dear Anna, your code is 1234. - ShopIN")
    assert not compose.dlt_matches(content, "Dear " + "x" * 31 + ", your OTP is 1. - ShopIN")


@pytest.fixture
def indian(draft, sender):
    contact_services.list_add_contacts(
        contact_list=draft.lists.get(),
        rows=[
            {"phone": "+919812345678", "first_name": "Ravi"},
            {"phone": "+919812345679", "first_name": "A" * 40},
        ],
    )
    return draft


def test_indian_recipients_without_a_template_are_skipped_as_outside_dlt(indian, manager):
    result = compose.check(indian)
    assert result.ok and "outside DLT" in result.warnings[0]
    services.campaign_launch(campaign=indian, user=manager)
    skipped = Message.objects.filter(campaign=indian, country="IN")
    assert set(skipped.values_list("status", "skip_reason")) == {(Status.SKIPPED, "outside_dlt")}


def test_a_message_that_breaks_its_template_is_refused_before_launch(indian, sender, manager):
    indian.dlt_template = DLTTemplate.objects.create(
        name="sale",
        template_id="1107160000000000001",
        principal_entity_id="1101000000000001",
        header=sender,
        category="promotional",
        status=Approval.APPROVED,
        content="Hi {#var#}, 20% off today.",
    )
    indian.save()
    result = compose.check(indian)
    # The 40-character name is longer than a DLT variable may be.
    assert result.dlt_mismatches == [
        ("+919812345679", "the message does not match the registered template")
    ]
    with pytest.raises(services.CampaignError, match="do not match the DLT template"):
        services.campaign_launch(campaign=indian, user=manager)
    assert not Message.objects.filter(campaign=indian).exists()


def test_a_template_registered_with_another_header_is_refused(indian, sender, sandbox, manager):
    other = type(sender).objects.create(
        value="Other", kind="alphanumeric", status=Approval.APPROVED
    )
    indian.dlt_template = DLTTemplate.objects.create(
        name="t",
        template_id="1",
        principal_entity_id="2",
        header=other,
        category="promotional",
        status=Approval.APPROVED,
        content="Hi {#var#}, 20% off today.",
    )
    indian.save()
    assert any("registered with the header Other" in e for e in compose.check(indian).errors)


# -- GSM-7 opt-in -------------------------------------------------------------------


def test_keeping_gsm7_replaces_look_alikes_in_what_is_sent(draft, manager):
    draft.text = "Hi {{ first_name }} \u2013 \u201cbig\u201d sale"
    draft.keep_gsm7 = True
    draft.save()
    preview = compose.preview(draft)
    assert preview.encoding == "GSM-7"
    services.campaign_launch(campaign=draft, user=manager)
    texts = set(Message.objects.filter(campaign=draft).values_list("text", flat=True))
    assert 'Hi Anna - "big" sale' in texts
    assert set(Message.objects.values_list("encoding", flat=True)) == {"GSM-7"}


# -- throughput limit ------------------------------------------------------------------


def test_the_sliding_log_never_lets_a_second_hold_more_than_the_rate():
    log, sent, t = [], [], 1000.0
    while t < 1010.0:
        wait, new_log = _wait_from_log(log, t, rate=50, n=7)
        if wait == 0:
            log = new_log
            sent.append((t, 7))
            t += 0.001
        else:
            t += wait
    for start, _ in sent:
        in_window = sum(n for when, n in sent if start <= when < start + 1.0)
        assert in_window <= 50
    assert sum(n for _, n in sent) >= 50 * 9  # and it does not hold back either


def test_the_limiter_holds_across_processes_through_the_database(sandbox, settings):
    settings.REDIS_URL = ""
    limiter = Limiter()
    sandbox.throughput = 20
    sandbox.save()
    started = time.monotonic()
    for _ in range(6):
        limiter.acquire(sandbox.pk, 20, 10)
    # 60 messages at 20/s: the last batch cannot start before 2 s.
    assert time.monotonic() - started >= 1.9


# -- failover, pause, failures ------------------------------------------------------------


@pytest.fixture
def broken_infobip(db):
    """An account whose host refuses connections."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return ProviderAccount.objects.create(
        name="Infobip down",
        kind="infobip",
        base_url=f"http://127.0.0.1:{port}",
        options={"auth_type": "app_key"},
        credentials_encrypted="",
    )


def _retry_now(campaign):
    Message.objects.filter(campaign=campaign, status=Status.PENDING).update(not_before=None)


def test_a_failing_account_pauses_the_campaign_with_the_reason(
    draft, manager, broken_infobip, settings, sender
):
    settings.DISPATCH_MAX_FAILURES = 3
    broken_infobip.credentials = {"api_key": "k"}
    broken_infobip.save()
    sender.accounts.add(broken_infobip)
    draft.account = broken_infobip
    draft.save()
    services.campaign_launch(campaign=draft, user=manager)
    for _ in range(3):
        _retry_now(draft)
        dispatch.dispatch(draft.pk, time_budget=5)
    draft.refresh_from_db()
    assert draft.state == Campaign.State.PAUSED
    assert "3 failed attempts in a row" in draft.pause_reason
    assert "Could not connect" in draft.pause_reason
    messages = Message.objects.filter(campaign=draft)
    assert set(messages.values_list("status", flat=True)) == {Status.PENDING}
    assert all(m.attempts >= 1 and "Could not connect" in m.error_description for m in messages)


def test_a_failing_account_fails_over_to_its_fallback(
    draft, manager, broken_infobip, sandbox, settings, sender
):
    settings.DISPATCH_MAX_FAILURES = 2
    broken_infobip.credentials = {"api_key": "k"}
    broken_infobip.fallback = sandbox
    broken_infobip.save()
    sender.accounts.add(broken_infobip)
    draft.account = broken_infobip
    draft.save()
    services.campaign_launch(campaign=draft, user=manager)
    for _ in range(3):
        _retry_now(draft)
        dispatch.dispatch(draft.pk, time_budget=5)
    draft.refresh_from_db()
    assert draft.state == Campaign.State.COMPLETED
    messages = Message.objects.filter(campaign=draft)
    assert set(messages.values_list("account_id", flat=True)) == {sandbox.pk}
    assert messages.filter(status=Status.DELIVERED).count() == 2
    assert AuditLogEntry.objects.filter(action="campaign.failover").exists()
    counts = campaign_counts([draft.pk])[draft.pk]
    for status in Status:
        assert counts.get(status) == messages.filter(status=status).count()
    assert counts.estimated_cost == sum(m.estimated_cost for m in messages)


def test_a_fallback_the_sender_is_not_registered_with_is_not_used(
    draft, manager, broken_infobip, sandbox, settings, sender
):
    settings.DISPATCH_MAX_FAILURES = 1
    other = ProviderAccount.objects.create(name="other sandbox", kind="sandbox")
    broken_infobip.credentials = {"api_key": "k"}
    broken_infobip.fallback = other
    broken_infobip.save()
    sender.accounts.add(broken_infobip)
    draft.account = broken_infobip
    draft.save()
    services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()
    assert draft.state == Campaign.State.PAUSED
    refused = AuditLogEntry.objects.get(action="campaign.failover_refused")
    assert "not registered with other sandbox" in str(refused.details)


def test_pause_takes_effect_between_requests(draft, manager, sandbox, monkeypatch):
    sandbox.throughput = 1  # one message per request
    sandbox.save()
    calls = []
    original = dispatch._submit_wave

    def submit_then_pause(campaign, account, backend, wave, options):
        calls.append(sum(len(chunk) for chunk in wave))
        ok = original(campaign, account, backend, wave, options)
        if len(calls) == 2:
            Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.PAUSED)
        return ok

    monkeypatch.setattr(dispatch, "_submit_wave", submit_then_pause)
    monkeypatch.setattr(dispatch.limiter, "acquire", lambda *a: None)
    services.campaign_launch(campaign=draft, user=manager)
    assert calls == [1, 1]
    statuses = list(Message.objects.filter(campaign=draft).values_list("status", flat=True))
    assert statuses.count(Status.PENDING) == 2
    counts = campaign_counts([draft.pk])[draft.pk]
    assert counts.get(Status.PENDING) == 2 and counts.get(Status.SENDING) == 0


# -- recovery ------------------------------------------------------------------------------


def test_recovery_settles_stuck_messages_with_the_provider(draft, manager, sender):
    """A worker died after claiming: two of four messages had reached the
    provider, two had not."""
    handler = make_handler("k")
    with serve(handler) as url:
        account = ProviderAccount.objects.create(
            name="ib", kind="infobip", base_url=url, options={"auth_type": "app_key"}
        )
        account.credentials = {"api_key": "k"}
        account.save()
        sender.accounts.add(account)
        draft.account = account
        draft.save()
        Campaign.objects.filter(pk=draft.pk).update(state=Campaign.State.RUNNING)
        services.materialise(draft.pk)
        messages = dispatch.claim(draft, 10)
        reached = messages[:2]
        backend = account.backend()
        from providers.base import OutboundSms, SendOptions

        dispatch._render(draft, messages, {}, Decimal(0))
        backend.send_batch(
            [OutboundSms(ref=m.ref, to=m.phone, text=m.text, sender="Shop") for m in reached],
            SendOptions(),
        )
        # ... and the worker died here, before recording anything.
        Message.objects.filter(campaign=draft).update(
            submitted_at=timezone.now() - dt.timedelta(minutes=10)
        )
        assert dispatch.recover_stuck() == 4
        statuses = dict(Message.objects.filter(campaign=draft).values_list("id", "status"))
        assert {statuses[m.id] for m in reached} <= {Status.DELIVERED, Status.UNDELIVERED}
        assert {statuses[m.id] for m in messages[2:]} == {Status.PENDING}
        # Sending again delivers the rest, and nobody got two messages.
        dispatch.dispatch(draft.pk, time_budget=5)
        sent = [
            d["to"]
            for _, path, body in handler.requests_seen
            if path.startswith("/sms/2/")
            for msg in body["messages"]
            for d in msg["destinations"]
        ]
        assert sorted(sent) == sorted(m.phone.lstrip("+") for m in messages)


def test_without_a_lookup_stuck_messages_become_unknown_and_are_not_resent(draft, manager):
    Campaign.objects.filter(pk=draft.pk).update(state=Campaign.State.RUNNING)
    services.materialise(draft.pk)
    dispatch.claim(draft, 10)
    Message.objects.filter(campaign=draft).update(
        submitted_at=timezone.now() - dt.timedelta(minutes=10)
    )
    dispatch.recover_stuck()
    assert set(Message.objects.filter(campaign=draft).values_list("status", flat=True)) == {
        Status.UNKNOWN
    }
    dispatch.dispatch(draft.pk, time_budget=2)
    assert set(Message.objects.filter(campaign=draft).values_list("status", flat=True)) == {
        Status.UNKNOWN
    }
    counts = campaign_counts([draft.pk])[draft.pk]
    assert counts.get(Status.UNKNOWN) == 4


# -- segments in the audience ------------------------------------------------------------


def test_a_segment_adds_its_contacts_to_the_audience_once(draft, manager, customers):
    from contacts.models import Segment

    french = Segment.objects.create(
        name="France", conditions=[{"field": "country", "op": "in", "value": "FR"}]
    )
    contact_services.list_add_contacts(
        contact_list=contact_services.list_create(name="Elsewhere"),
        rows=[{"phone": "+33612340001", "first_name": "Inès"}],
    )
    draft.segments.add(french)
    assert compose.preview(draft).audience == 5  # 4 in the list, 1 more French
    services.campaign_launch(campaign=draft, user=manager)
    phones = list(Message.objects.filter(campaign=draft).values_list("phone", flat=True))
    assert len(phones) == len(set(phones)) == 5
    assert "+33612340001" in phones
