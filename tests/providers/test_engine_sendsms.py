"""The x-api-key "sendsms" provider end to end through the engine: a campaign
launched against the fake provider on loopback goes out one request per
recipient, postbacks to the account's real webhook bring the statuses, cost
comes from the rate card, replies add suppressions, and failures pause the
campaign visibly."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from campaigns import services
from campaigns.models import Campaign, Message, MessageEvent
from campaigns.selectors import campaign_counts
from contacts.models import Suppression
from providers.models import InboundMessage
from providers.status import Status
from tests.providers.fakes import Outage, refused_url, serve
from tests.providers.fakes import sendsms as fake
from tests.providers.fakes.engine import (
    RATES,
    assert_counters_match,
    assert_failed_visibly,
    by_phone,
    dispatch_again,
    hook_path,
    launch,
    make_account,
    make_campaign,
    make_list,
    make_sender,
    max_failures,
    statuses,
)

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "loopback-x-api-key"
FROM_NUMBER = "12025550143"
TEXT = "Spring sale: 20% off everything today. Reply STOP to opt out."
PEOPLE = {
    "+4915112345601": "Anna",
    "+4915112345602": "Ben",
    # The fake posts back E201 (failed) for numbers ending in 9.
    "+4915112345609": "Carl",
}
ENDPOINT = "/API/v2/index.php"


@pytest.fixture
def provider():
    handler = fake.handler(api_key=KEY, blacklisted=("4915112345605",))
    with serve(handler) as base_url:
        yield handler, base_url + ENDPOINT


def setup(endpoint, *, key=KEY, people=PEOPLE, campaign_ref="SPRING25"):
    account = make_account(
        "sendsms",
        endpoint,
        credentials={"api_key": key},
        options={"from_number": FROM_NUMBER, "enforce_campaign_check": True},
    )
    sender = make_sender("Shop", account)
    return make_campaign(
        account,
        sender,
        make_list("Customers", people),
        TEXT,
        campaign_ref=campaign_ref,
        click_tracking=True,
    )


def post(client, account, payload):
    return client.post(
        hook_path(account), data=json.dumps(payload), content_type="application/json"
    )


def snapshot(campaign):
    rows = list(Message.objects.filter(campaign=campaign).order_by("pk").values())
    return rows, campaign_counts([campaign.pk])[campaign.pk]


def test_each_recipient_goes_in_its_own_request_and_postbacks_bring_the_status(
    provider, manager, client
):
    handler, endpoint = provider
    campaign = launch(setup(endpoint), manager)
    account = campaign.account

    # One request per recipient, with every documented field.
    assert len(handler.received) == 3
    bodies = []
    for path, headers, body in handler.received:
        assert path == ENDPOINT
        assert headers["x-api-key"] == KEY
        assert headers["Content-Type"] == "application/json"
        bodies.append(json.loads(body))
    assert sorted(bodies, key=lambda b: b["to"]) == [
        {
            "action": "sendsms",
            "message-text": TEXT,
            "to": to,
            "from": FROM_NUMBER,
            "from-mask": "Shop",
            "campaign-ref": "SPRING25",
            "click-tracking": True,
        }
        for to in ("4915112345601", "4915112345602", "4915112345609")
    ]

    tracking = {entry["to"]: entry["tracking-id"] for entry in handler.sent}
    for phone, message in by_phone(campaign).items():
        assert message.status == Status.ACCEPTED
        assert message.provider_message_id == tracking[phone.removeprefix("+")]
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)

    # The provider posts back "sent", then "delivered" or "failed".
    for entry in handler.sent:
        for payload in fake.postbacks(entry):
            assert post(client, account, payload).status_code == 200

    assert statuses(campaign) == {
        "+4915112345601": Status.DELIVERED,
        "+4915112345602": Status.DELIVERED,
        "+4915112345609": Status.UNDELIVERED,
    }
    messages = by_phone(campaign)
    carl = messages["+4915112345609"]
    assert (carl.error_code, carl.error_description) == ("E201", "Failed")
    for message in messages.values():
        # The provider gives no price: the rate card's, one segment each.
        assert (message.actual_cost, message.currency) == (RATES["DE"], "EUR")
        assert message.sent_at is not None and message.done_at is not None
    assert campaign_counts([campaign.pk])[campaign.pk].actual_cost == 3 * RATES["DE"]
    assert_counters_match(campaign)


def test_a_blacklisted_recipient_is_rejected_and_the_others_go_on(provider, manager):
    handler, endpoint = provider
    people = {"+4915112345601": "Anna", "+4915112345605": "Opted", "+4915112345602": "Ben"}
    campaign = launch(setup(endpoint, people=people), manager)

    assert len(handler.received) == 3
    refused = by_phone(campaign)["+4915112345605"]
    assert refused.status == Status.REJECTED
    assert refused.error_code == "E114"
    assert refused.error_description == (
        "The recipient is blacklisted (opted out or blocked) at the provider. "
        "(Number is blacklisted.)"
    )
    # Refused before it went anywhere: it costs nothing.
    assert refused.actual_cost == Decimal(0)
    assert statuses(campaign) == {
        "+4915112345601": Status.ACCEPTED,
        "+4915112345605": Status.REJECTED,
        "+4915112345602": Status.ACCEPTED,
    }
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)


def test_a_repeated_or_late_postback_changes_nothing(provider, manager, client):
    handler, endpoint = provider
    campaign = launch(setup(endpoint), manager)
    account = campaign.account
    entry = next(e for e in handler.sent if e["to"] == "4915112345601")
    sent, delivered = fake.postbacks(entry)
    assert post(client, account, delivered).status_code == 200
    before = snapshot(campaign)
    events = MessageEvent.objects.count()

    # Retried postbacks and ones overtaken by the final state: the same
    # "delivered" again, the earlier "sent", then a "rejected".
    for payload in (delivered, sent, fake.postback(entry, "E202")):
        assert post(client, account, payload).status_code == 200

    assert snapshot(campaign) == before
    late = MessageEvent.objects.order_by("pk")[events:]
    assert [(e.status, e.applied) for e in late] == [
        (Status.DELIVERED, False),
        (Status.ACCEPTED, False),
        (Status.REJECTED, False),
    ]
    assert_counters_match(campaign)


def test_a_refused_key_pauses_the_campaign_at_once(provider, manager):
    handler, endpoint = provider
    campaign = launch(setup(endpoint, key="not-the-key"), manager)

    says = "The API key is invalid; copy it again from the account's API settings."
    assert campaign.state == Campaign.State.PAUSED
    assert campaign.pause_reason == f"Paused: {says} (Invalid API Key.)"
    # The first request says it all: the others are not tried with that key.
    assert len(handler.received) == 1
    assert_failed_visibly(campaign, attempts=1, says=says, tried=1)
    assert handler.sent == []


def test_a_missing_campaign_reference_pauses_before_anything_is_sent(provider, manager):
    handler, endpoint = provider
    campaign = launch(setup(endpoint, campaign_ref=""), manager)

    assert campaign.state == Campaign.State.PAUSED
    assert campaign.pause_reason.startswith("Paused: This account enforces the campaign check")
    assert handler.received == []
    assert_failed_visibly(campaign, attempts=1, says="campaign reference", tried=1)


OUTAGES = {
    "server_error": (Outage(500), "sendsms provider had a server error (HTTP 500)."),
    "rate_limited": (
        Outage(429, retry_after="30"),
        "sendsms provider is rate-limiting us (HTTP 429).",
    ),
    "throughput": (
        Outage(
            200,
            body=json.dumps(fake.failure("E113", "Throughput exceeded.")),
            content_type="application/json",
        ),
        "The account's throughput was exceeded; the message will be retried.",
    ),
    "refused": (None, "Could not connect to sendsms provider."),
}


@pytest.mark.parametrize("outage", OUTAGES)
def test_an_outage_is_retried_then_pauses_the_campaign(provider, manager, client, outage):
    handler, endpoint = provider
    answer, says = OUTAGES[outage]
    handler.outage = answer
    # One recipient: one request per dispatch, so each retry is one attempt.
    people = {"+4915112345601": "Anna"}
    campaign = setup(refused_url() + ENDPOINT if answer is None else endpoint, people=people)
    campaign = launch(campaign, manager)

    assert campaign.state == Campaign.State.RUNNING
    assert_failed_visibly(campaign, attempts=1, says=says)
    for attempt in range(2, max_failures() + 1):
        campaign = dispatch_again(campaign)
        if attempt < max_failures():
            assert campaign.state == Campaign.State.RUNNING

    assert campaign.state == Campaign.State.PAUSED
    assert campaign.pause_reason.startswith(
        f"Paused after {max_failures()} failed attempts in a row: {says}"
    )
    assert_failed_visibly(campaign, attempts=max_failures(), says=says)
    assert len(handler.received) == (0 if answer is None else max_failures())
    assert handler.sent == []

    handler.outage = None
    account = campaign.account
    account.base_url = endpoint
    account.save()
    services.campaign_resume(campaign=campaign, user=manager)
    campaign = dispatch_again(campaign)
    [entry] = handler.sent
    for payload in fake.postbacks(entry):
        assert post(client, account, payload).status_code == 200
    assert statuses(campaign) == {"+4915112345601": Status.DELIVERED}
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)


def test_a_brief_outage_waits_for_the_backoff_before_trying_again(provider, manager):
    handler, endpoint = provider
    handler.outage = Outage(429, retry_after="30")
    people = {f"+49151123456{n:02d}": "" for n in range(10, 16)}
    campaign = launch(setup(endpoint, people=people), manager)

    # The provider asked us to wait: nobody else in the batch is tried now.
    assert len(handler.received) == 1
    assert campaign.state == Campaign.State.RUNNING
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=25)
    assert all(m.not_before > soon for m in by_phone(campaign).values())


def test_a_stop_reply_suppresses_the_number_for_the_next_campaign(provider, manager, client):
    handler, endpoint = provider
    campaign = launch(setup(endpoint), manager)
    account = campaign.account
    reply = fake.reply("4915112345601", FROM_NUMBER, "STOP please")

    assert post(client, account, reply).status_code == 200
    assert post(client, account, reply).status_code == 200  # retried: stored once

    inbound = InboundMessage.objects.get()
    assert (inbound.sender, inbound.text, inbound.opted_out) == (
        "+4915112345601",
        "STOP please",
        True,
    )
    assert inbound.provider_message_id == reply["tracking-id"]
    assert Suppression.objects.filter(phone="+4915112345601", reason="stop").count() == 1

    handler.received.clear()
    second = Campaign.objects.create(
        name="Next week",
        text="Last day of the sale.",
        sender=campaign.sender,
        account=account,
        campaign_ref="SPRING25",
    )
    second.lists.set(campaign.lists.all())
    second = launch(second, manager)
    assert by_phone(second)["+4915112345601"].skip_reason == "suppressed"
    sent_to = sorted(json.loads(body)["to"] for _, _, body in handler.received)
    assert sent_to == ["4915112345602", "4915112345609"]
    assert_counters_match(second)


def test_waves_grow_from_one_request_and_keep_their_width_from_claim_to_claim(
    provider, manager, settings, monkeypatch
):
    """A refused key is found by one request; after that, requests go out
    many at once, and the next claim does not start again from one."""
    from campaigns import dispatch

    settings.DISPATCH_BATCH_SIZE = 10
    settings.DISPATCH_PARALLEL_REQUESTS = 2
    settings.DISPATCH_WAVE_REQUESTS = 8
    handler, endpoint = provider
    waves = []
    original = dispatch._submit_wave

    def record(campaign, account, backend, wave, options):
        waves.append(len(wave))
        return original(campaign, account, backend, wave, options)

    monkeypatch.setattr(dispatch, "_submit_wave", record)
    people = {f"+491511234{n:04d}": "" for n in range(40)}
    campaign = launch(setup(endpoint, people=people), manager)

    assert campaign.state == Campaign.State.COMPLETED
    assert waves == [1, 2, 4, 3, 8, 2, 8, 2, 8, 2]
    # Each recipient in exactly one request.
    assert sorted(json.loads(body)["to"] for _, _, body in handler.received) == sorted(
        p.removeprefix("+") for p in people
    )
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
    assert_counters_match(campaign)


def test_a_slow_wave_halves_the_next_one(settings):
    from campaigns.dispatch import _next_width

    settings.DISPATCH_PARALLEL_REQUESTS = 8
    assert _next_width(64, 0.1, widest=250) == 128
    assert _next_width(200, 0.1, widest=250) == 250
    assert _next_width(64, 2.0, widest=250) == 32
    # Never below the connections a wave goes out on: fewer is not quicker.
    assert _next_width(12, 2.0, widest=250) == 8
    assert _next_width(4, 2.0, widest=250) == 4


def test_a_message_of_two_parts_costs_two_parts_of_the_rate_card(provider, manager, client):
    handler, endpoint = provider
    campaign = setup(endpoint, people={"+4915112345601": "Anna", "+33612345678": "Lucas"})
    campaign.text = "Spring sale: " + "20% off everything in store and online today. " * 4
    campaign.save()
    campaign = launch(campaign, manager)

    for entry in handler.sent:
        for payload in fake.postbacks(entry):
            assert post(client, campaign.account, payload).status_code == 200

    messages = by_phone(campaign)
    assert (messages["+4915112345601"].segments, messages["+4915112345601"].actual_cost) == (
        2,
        2 * RATES["DE"],
    )
    assert messages["+33612345678"].actual_cost == 2 * RATES["FR"]
    assert_counters_match(campaign)


# -- refusals with a code the backend does not know ---------------------------------


def test_an_unknown_refusal_for_one_recipient_rejects_it_and_the_campaign_goes_on(
    provider, manager
):
    handler, endpoint = provider
    handler.refusing = {"4915112345602": ("E321", "Daily limit for this number reached.")}
    campaign = launch(setup(endpoint), manager)

    assert len(handler.received) == 3
    ben = by_phone(campaign)["+4915112345602"]
    assert (ben.status, ben.error_code, ben.error_description) == (
        Status.REJECTED,
        "E321",
        "Daily limit for this number reached.",
    )
    assert ben.actual_cost == Decimal(0)
    assert statuses(campaign)["+4915112345601"] == Status.ACCEPTED
    assert campaign.state == Campaign.State.COMPLETED
    assert campaign.pause_reason == ""
    assert_counters_match(campaign)


def test_many_refusals_in_a_row_with_one_unknown_code_pause_the_campaign(
    provider, manager, settings
):
    settings.DISPATCH_UNKNOWN_REFUSALS = 3
    handler, endpoint = provider
    people = {f"+49151123456{n:02d}": "" for n in range(10, 20)}
    handler.refusing = {
        phone.removeprefix("+"): ("E777", "Sender not yet approved for this route.")
        for phone in people
    }
    campaign = launch(setup(endpoint, people=people), manager)

    # Requests go out one, then two at once: the third refusal pauses it.
    assert len(handler.received) == 3
    assert campaign.state == Campaign.State.PAUSED
    assert campaign.pause_reason == (
        "Paused after 3 recipients in a row were refused with E777, a code smsportal "
        "does not know. The provider said: Sender not yet approved for this route."
    )
    counted = sorted(statuses(campaign).values())
    assert counted == [Status.PENDING] * 7 + [Status.REJECTED] * 3
    assert {
        (m.error_code, m.error_description)
        for m in by_phone(campaign).values()
        if m.status == Status.REJECTED
    } == {("E777", "Sender not yet approved for this route.")}
    assert_counters_match(campaign)

    # Resumed, the count starts again; the provider now takes them.
    handler.refusing = {}
    services.campaign_resume(campaign=campaign, user=manager)
    campaign = dispatch_again(campaign)
    assert campaign.state == Campaign.State.COMPLETED
    assert sorted(statuses(campaign).values()) == [Status.ACCEPTED] * 7 + [Status.REJECTED] * 3
    assert_counters_match(campaign)


def test_refusals_with_different_codes_or_between_acceptances_do_not_pause(
    provider, manager, settings
):
    settings.DISPATCH_UNKNOWN_REFUSALS = 2
    handler, endpoint = provider
    people = {"+4915112345610": "", "+4915112345611": "", "+4915112345612": ""}
    handler.refusing = {
        "4915112345610": ("E701", "Route closed."),
        "4915112345611": ("E702", "Try another sender."),
    }
    campaign = launch(setup(endpoint, people=people), manager)

    assert campaign.state == Campaign.State.COMPLETED
    assert sorted(statuses(campaign).values()) == [Status.ACCEPTED] + [Status.REJECTED] * 2


def test_an_answer_the_database_could_not_keep_is_kept_escaped_and_the_campaign_goes_on(
    provider, manager
):
    """A refusal whose words hold a null character and half a UTF-16 pair
    (neither of which PostgreSQL's text or jsonb can hold) used to fail the
    whole wave's write: every message of it stayed "sending" although the
    provider had taken two. The words are kept with both shown as escapes."""
    handler, endpoint = provider
    handler.refusing = {"4915112345602": ("E999", "bad\x00info \ud800 end")}
    campaign = launch(setup(endpoint), manager)

    assert statuses(campaign) == {
        "+4915112345601": Status.ACCEPTED,
        "+4915112345602": Status.REJECTED,
        "+4915112345609": Status.ACCEPTED,
    }
    refused = by_phone(campaign)["+4915112345602"]
    assert "bad\\x00info \\ud800 end" in refused.error_description
    event = MessageEvent.objects.get(message=refused, kind=MessageEvent.Kind.SUBMIT)
    assert event.payload["error-info"] == "bad\\x00info \\ud800 end"
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)
