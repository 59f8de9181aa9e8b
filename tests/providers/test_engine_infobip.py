"""Infobip end to end through the engine: a campaign launched against a fake
Infobip on loopback goes out as one request with many messages and
destinations, its delivery reports come back to the account's real webhook
(JSON and XML) or by the log fallback, replies add suppressions, and
failures pause it visibly."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connections
from django.test import Client

from campaigns import services
from campaigns.models import Campaign, Message, MessageEvent
from campaigns.reports import poll_account
from campaigns.selectors import campaign_counts
from contacts.models import Suppression
from providers.models import InboundMessage
from providers.status import Status
from tests.providers.fakes import Outage, refused_url, serve
from tests.providers.fakes.engine import (
    age_submissions,
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
    make_template,
    max_failures,
    statuses,
)
from tests.providers.fakes.infobip import inbound_message, make_handler, report_body
from tests.providers.test_infobip import assert_valid

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "loopback-app-key"
TEXT = 'Hi {{ first_name|default:"there" }}, 20% off today.'
PEOPLE = {
    "+4915112345601": "Anna",
    "+33612345678": "Lucas",
    # The fake reports numbers ending in 9 as undeliverable (absent subscriber).
    "+4915112345609": "Carl",
    "+4915112345603": "",
    "+4915112345604": "",
}
OUTCOME = {
    "+4915112345601": Status.DELIVERED,
    "+33612345678": Status.DELIVERED,
    "+4915112345609": Status.UNDELIVERED,
    "+4915112345603": Status.DELIVERED,
    "+4915112345604": Status.DELIVERED,
}
JSON, XML = "application/json", "application/xml"


@pytest.fixture
def infobip():
    handler = make_handler(api_key=KEY)
    with serve(handler) as base_url:
        yield handler, base_url


def setup(base_url, *, key=KEY, content_type=JSON, people=PEOPLE):
    account = make_account(
        "infobip",
        base_url,
        credentials={"api_key": key},
        options={"notify_content_type": content_type},
    )
    sender = make_sender("Shop", account)
    return make_campaign(
        account,
        sender,
        make_list("Customers", people),
        TEXT,
        callback_data="spring-sale",
        validity_minutes=720,
        campaign_ref="SPRING25",
    )


def sends(handler):
    return [c for c in handler.calls if c["path"] == "/sms/2/text/advanced"]


def push(client, account, reports, content_type=JSON, event=""):
    """Post reports to the account's webhook as Infobip does."""
    return client.post(
        hook_path(account, event),
        data=report_body(reports, content_type),
        content_type=content_type,
    )


def push_all(client, handler, account, content_type=JSON):
    """Deliver every report the fake queued for the account's notifyUrl."""
    queued = handler.take_pushes()
    assert queued
    assert {(url, kind) for url, kind, _ in queued} == {(account.webhook_url(), content_type)}
    reports = [report for _, _, report in queued]
    response = push(client, account, reports, content_type)
    assert response.status_code == 200
    return reports


def snapshot(campaign):
    rows = list(Message.objects.filter(campaign=campaign).order_by("pk").values())
    return rows, campaign_counts([campaign.pk])[campaign.pk]


@pytest.mark.parametrize("content_type", [JSON, XML])
def test_a_campaign_goes_out_in_one_request_and_reports_come_back(
    infobip, manager, client, content_type
):
    handler, base_url = infobip
    campaign = launch(setup(base_url, content_type=content_type), manager)
    account = campaign.account
    messages = by_phone(campaign)

    # One request: a message per distinct text, every recipient of that
    # text among its destinations, our reference as each messageId.
    [call] = sends(handler)
    assert call["method"] == "POST"
    assert call["headers"]["Authorization"] == f"App {KEY}"
    body = call["body"]
    assert_valid(body, "SMSAdvancedTextualRequest", closed=True)
    assert body["bulkId"] == f"campaign-{campaign.pk}"
    assert set(body) == {"bulkId", "messages"}
    shared = {
        "from": "Shop",
        "notifyUrl": account.webhook_url(),
        "notifyContentType": content_type,
        "callbackData": "spring-sale",
        "validityPeriod": 720,
        "campaignReferenceId": "SPRING25",
    }
    by_text = {}
    for message in body["messages"]:
        destinations = message.pop("destinations")
        text = message.pop("text")
        assert message == shared
        by_text[text] = sorted((d["to"], d["messageId"]) for d in destinations)

    def dest(*phones):
        return sorted((p.removeprefix("+"), str(messages[p].pk)) for p in phones)

    assert by_text == {
        "Hi Anna, 20% off today.": dest("+4915112345601"),
        "Hi Lucas, 20% off today.": dest("+33612345678"),
        "Hi Carl, 20% off today.": dest("+4915112345609"),
        "Hi there, 20% off today.": dest("+4915112345603", "+4915112345604"),
    }

    for message in messages.values():
        assert message.status == Status.ACCEPTED
        assert message.provider_message_id == message.ref
        assert message.actual_cost is None
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)

    # Infobip pushes the reports to the notifyUrl in the format asked for.
    reports = push_all(client, handler, account, content_type)
    assert_valid({"results": reports}, "SMSReportResponse")

    assert statuses(campaign) == OUTCOME
    messages = by_phone(campaign)
    for message in messages.values():
        # Priced by Infobip: 0.01 EUR for each one-part message.
        assert (message.actual_cost, message.currency) == (Decimal("0.01"), "EUR")
        assert message.done_at is not None
    carl = messages["+4915112345609"]
    assert (carl.error_code, carl.error_description) == (
        "EC_ABSENT_SUBSCRIBER",
        "Absent Subscriber",
    )
    assert messages["+4915112345601"].error_code == ""
    counts = campaign_counts([campaign.pk])[campaign.pk]
    assert counts.actual_cost == Decimal("0.05")
    assert (counts.get(Status.DELIVERED), counts.get(Status.UNDELIVERED)) == (4, 1)
    assert_counters_match(campaign)


def test_indian_numbers_go_with_the_dlt_fields(infobip, manager):
    handler, base_url = infobip
    people = {"+919812345671": "Asha", "+919812345678": "Ravi"}
    campaign = setup(base_url, people=people)
    campaign.dlt_template = make_template(campaign.sender, "Hi {#var#}, 20% off today.")
    campaign.save()
    campaign = launch(campaign, manager)

    [call] = sends(handler)
    assert_valid(call["body"], "SMSAdvancedTextualRequest", closed=True)
    messages = call["body"]["messages"]
    assert sorted(m["text"] for m in messages) == [
        "Hi Asha, 20% off today.",
        "Hi Ravi, 20% off today.",
    ]
    for message in messages:
        assert message["regional"] == {
            "indiaDlt": {
                "contentTemplateId": "1107161234567890123",
                "principalEntityId": "1101456789012345678",
            }
        }
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
    assert_counters_match(campaign)


def test_a_report_pushed_before_the_submit_answer_still_matches(infobip, manager):
    handler, base_url = infobip
    answers = []

    def push_at_once(queued):
        # Infobip's push can beat its own answer to our worker: it comes in
        # while the request is still open, through the real endpoint.
        try:
            reports = [report for _, _, report in queued]
            answers.append(push(Client(), campaign.account, reports).status_code)
        finally:
            connections.close_all()

    handler.on_send = push_at_once
    campaign = setup(base_url)
    campaign = launch(campaign, manager)

    assert answers == [200]
    # messageId is our reference, so the reports found their messages even
    # though no provider ID was recorded yet; the later "accepted" answer
    # then changed nothing.
    assert statuses(campaign) == OUTCOME
    for message in by_phone(campaign).values():
        assert message.provider_message_id == message.ref
        assert message.actual_cost == Decimal("0.01")
        submit = message.events.get(kind=MessageEvent.Kind.SUBMIT)
        assert (submit.status, submit.applied) == (Status.ACCEPTED, False)
    assert not MessageEvent.objects.filter(message__isnull=True).exists()
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)


def test_a_repeated_or_late_report_changes_nothing(infobip, manager, client):
    handler, base_url = infobip
    campaign = launch(setup(base_url), manager)
    account = campaign.account
    reports = push_all(client, handler, account)
    before = snapshot(campaign)
    events = MessageEvent.objects.count()

    # Infobip retries a push it thinks failed: the same reports again.
    assert push(client, account, reports).status_code == 200
    # A report out of order: "pending" and "delivered to operator" after
    # the final state, and a different final state for a delivered message.
    delivered = next(r for r in reports if r["to"] == "4915112345601")
    late = [
        {
            **delivered,
            "status": {
                "groupId": 1,
                "groupName": "PENDING",
                "id": 26,
                "name": "PENDING_ACCEPTED",
                "description": "Message sent to next instance",
            },
        },
        {
            **delivered,
            "status": {
                "groupId": 3,
                "groupName": "DELIVERED",
                "id": 2,
                "name": "DELIVERED_TO_OPERATOR",
                "description": "Message delivered to operator",
            },
        },
        {
            **delivered,
            "status": {
                "groupId": 2,
                "groupName": "UNDELIVERABLE",
                "id": 9,
                "name": "UNDELIVERABLE_NOT_DELIVERED",
                "description": "Message sent not delivered",
            },
            "price": {"pricePerMessage": 0.5, "currency": "EUR"},
        },
    ]
    assert push(client, account, late, XML).status_code == 200

    assert snapshot(campaign) == before
    kept = MessageEvent.objects.order_by("pk")[events:]
    assert len(kept) == len(reports) + len(late)
    assert not any(event.applied for event in kept)
    assert_counters_match(campaign)


def test_a_lost_push_is_made_up_for_by_the_message_logs(infobip, manager):
    handler, base_url = infobip
    campaign = launch(setup(base_url), manager)
    account = campaign.account
    handler.take_pushes()  # our endpoint never got them

    # Reports are pushed, so fresh messages are not looked up.
    poll_account(account)
    assert not [c for c in handler.calls if c["path"] == "/sms/1/logs"]
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}

    # poll_account looks up only messages whose report is long overdue, so
    # the submissions are moved back in time here.
    age_submissions(campaign, dt.timedelta(hours=2))
    assert poll_account(account) == len(PEOPLE)

    [lookup] = [c for c in handler.calls if c["path"] == "/sms/1/logs"]
    refs = {m.ref for m in by_phone(campaign).values()}
    assert set(lookup["query"]["messageId"].split(",")) == refs
    assert statuses(campaign) == OUTCOME
    assert {m.actual_cost for m in by_phone(campaign).values()} == {Decimal("0.01")}
    assert_counters_match(campaign)


def test_a_refused_key_pauses_the_campaign_at_once(infobip, manager):
    handler, base_url = infobip
    campaign = launch(setup(base_url, key="not-the-key"), manager)

    says = "Infobip refused our credentials (HTTP 401). Invalid login details"
    assert campaign.state == Campaign.State.PAUSED
    assert campaign.pause_reason == f"Paused: {says}"
    assert_failed_visibly(campaign, attempts=1, says=says)
    assert len(sends(handler)) == 1
    assert handler.logs == {}


OUTAGES = {
    "server_error": (Outage(500), "Infobip had a server error (HTTP 500)."),
    "rate_limited": (
        Outage(
            429,
            body=json.dumps(
                {
                    "requestError": {
                        "serviceException": {
                            "messageId": "TOO_MANY_REQUESTS",
                            "text": "Too many requests",
                        }
                    }
                }
            ),
            content_type="application/json",
            retry_after="30",
        ),
        "Infobip is rate-limiting us (HTTP 429). Too many requests",
    ),
    "refused": (None, "Could not connect to Infobip."),
}


@pytest.mark.parametrize("outage", OUTAGES)
def test_an_outage_is_retried_then_pauses_the_campaign(infobip, manager, client, outage):
    handler, base_url = infobip
    answer, says = OUTAGES[outage]
    handler.outage = answer
    campaign = launch(setup(refused_url() if answer is None else base_url), manager)

    assert campaign.state == Campaign.State.RUNNING
    assert_failed_visibly(campaign, attempts=1, says=says)
    for attempt in range(2, max_failures() + 1):
        campaign = dispatch_again(campaign)
        if attempt < max_failures():
            assert campaign.state == Campaign.State.RUNNING

    assert campaign.state == Campaign.State.PAUSED
    assert campaign.pause_reason == (
        f"Paused after {max_failures()} failed attempts in a row: {says}"
    )
    assert_failed_visibly(campaign, attempts=max_failures(), says=says)
    assert len(sends(handler)) == (0 if answer is None else max_failures())
    assert handler.logs == {}

    # Back up: resumed, each recipient is sent once and reported on.
    handler.outage = None
    account = campaign.account
    account.base_url = base_url
    account.save()
    services.campaign_resume(campaign=campaign, user=manager)
    campaign = dispatch_again(campaign)
    assert len(handler.logs) == len(PEOPLE)
    push_all(client, handler, account)
    assert statuses(campaign) == OUTCOME
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)


@pytest.mark.parametrize("route", ["push_json", "push_xml", "pull"])
def test_a_stop_reply_suppresses_the_number_for_the_next_campaign(infobip, manager, client, route):
    handler, base_url = infobip
    campaign = launch(setup(base_url), manager)
    account = campaign.account
    reply = inbound_message("4915112345601", "491771234567", "Stop")
    assert_valid({"results": [reply]}, "SmsMoReportResponse")
    if route == "pull":
        handler.inbox.append(reply)
        poll_account(account)
        assert handler.inbox == []
    else:
        content_type = XML if route == "push_xml" else JSON
        response = push(client, account, [reply], content_type, event="inbound")
        assert response.status_code == 200

    inbound = InboundMessage.objects.get()
    assert (inbound.sender, inbound.text, inbound.opted_out) == ("+4915112345601", "Stop", True)
    assert inbound.provider_message_id == reply["messageId"]
    assert Suppression.objects.filter(phone="+4915112345601", reason="stop").exists()

    # The next campaign to the same people leaves the number out.
    handler.calls.clear()
    second = Campaign.objects.create(
        name="Next week", text="Last day of the sale.", sender=campaign.sender, account=account
    )
    second.lists.set(campaign.lists.all())
    second = launch(second, manager)
    skipped = by_phone(second)["+4915112345601"]
    assert (skipped.status, skipped.skip_reason) == (Status.SKIPPED, "suppressed")
    [call] = sends(handler)
    sent_to = {d["to"] for m in call["body"]["messages"] for d in m["destinations"]}
    assert "4915112345601" not in sent_to and len(sent_to) == len(PEOPLE) - 1
    assert_counters_match(second)
