"""Infobip end to end through the engine: a campaign launched against a fake
Infobip on loopback goes out as one request with many messages and
destinations, its delivery reports come back to the account's real webhook
(JSON and XML) or by the log fallback, replies add suppressions, and
failures pause it visibly."""

import csv
import datetime as dt
import io
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
    assert not [c for c in handler.calls if c["path"].endswith("/logs")]
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}

    # poll_account looks up only messages whose report is long overdue, so
    # the submissions are moved back in time here.
    age_submissions(campaign, dt.timedelta(hours=2))
    assert poll_account(account) == len(PEOPLE)

    # Looked up in the current logs; the deprecated ones are not asked.
    [lookup] = [c for c in handler.calls if c["path"].endswith("/logs")]
    assert lookup["path"] == "/sms/3/logs"
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


# -- what a message records is its last state --------------------------------------


def _error_cell(html: str) -> str:
    return html.split("<dt>Error</dt><dd>", 1)[1].split("</dd>", 1)[0].strip()


def test_a_retried_message_shows_its_last_state_not_the_failed_attempt(
    infobip, manager, analyst, client
):
    handler, base_url = infobip
    handler.outage = Outage(503)
    campaign = launch(setup(base_url), manager)
    says = "Infobip had a server error (HTTP 503)."
    assert_failed_visibly(campaign, attempts=1, says=says)
    assert {m.error_code for m in by_phone(campaign).values()} == {"503"}

    handler.outage = None
    campaign = dispatch_again(campaign)
    for message in by_phone(campaign).values():
        assert (message.status, message.error_code, message.error_description) == (
            Status.ACCEPTED,
            "",
            "",
        )
    push_all(client, handler, campaign.account)
    assert statuses(campaign) == OUTCOME

    messages = by_phone(campaign)
    anna, carl = messages["+4915112345601"], messages["+4915112345609"]
    assert (anna.error_code, anna.error_description) == ("", "")
    # An error the final report gives is the one the message keeps.
    assert (carl.error_code, carl.error_description) == (
        "EC_ABSENT_SUBSCRIBER",
        "Absent Subscriber",
    )
    # The history keeps the failed attempt, with the provider's words.
    [failed] = anna.events.filter(kind=MessageEvent.Kind.SUBMIT, applied=False)
    assert failed.status == Status.PENDING
    assert failed.payload["error"] == f"503: {says}"

    client.force_login(analyst)
    page = client.get(f"/messages/{anna.pk}/").content.decode()
    assert _error_cell(page) == "—"
    assert says in page  # in the status history
    assert _error_cell(client.get(f"/messages/{carl.pk}/").content.decode()) == (
        "EC_ABSENT_SUBSCRIBER Absent Subscriber"
    )

    rows = client.get(f"/api/v1/messages/?campaign={campaign.pk}").json()["results"]
    errors = {row["phone"]: (row["error_code"], row["error_description"]) for row in rows}
    assert errors["+4915112345601"] == ("", "")
    assert errors["+4915112345609"] == ("EC_ABSENT_SUBSCRIBER", "Absent Subscriber")
    export = client.get(f"/api/v1/messages/?campaign={campaign.pk}&format=csv")
    text = b"".join(export.streaming_content).decode()
    exported = {row["phone"].lstrip("'"): row for row in csv.DictReader(io.StringIO(text))}
    # The failed attempt's code is in no error column (a timestamp may hold "503").
    assert {
        phone: (row["error_code"], row["error_description"]) for phone, row in exported.items()
    } == dict.fromkeys(PEOPLE, ("", "")) | {
        "+4915112345609": ("EC_ABSENT_SUBSCRIBER", "Absent Subscriber")
    }
    assert "server error" not in text
    assert_counters_match(campaign)


def test_a_message_of_two_parts_costs_two_prices_of_one_sms(infobip, manager, client):
    handler, base_url = infobip
    campaign = setup(base_url, people={"+4915112345601": "Anna", "+4915112345602": "Ben"})
    campaign.text = "Spring sale: " + "20% off everything in store and online today. " * 4
    campaign.save()
    campaign = launch(campaign, manager)
    assert {m.segments for m in by_phone(campaign).values()} == {2}

    reports = push_all(client, handler, campaign.account)

    assert {(r["smsCount"], r["price"]["pricePerMessage"]) for r in reports} == {(2, 0.01)}
    for message in by_phone(campaign).values():
        assert (message.status, message.actual_cost) == (Status.DELIVERED, Decimal("0.02"))
    assert campaign_counts([campaign.pk])[campaign.pk].actual_cost == Decimal("0.04")
    assert_counters_match(campaign)


def test_an_account_without_the_v3_reading_endpoints_uses_the_older_ones(infobip, manager):
    handler, base_url = infobip
    handler.older_only = True
    campaign = launch(setup(base_url), manager)
    account = campaign.account
    handler.take_pushes()  # lost: the logs make up for them
    age_submissions(campaign, dt.timedelta(hours=2))

    assert poll_account(account) == len(PEOPLE)

    paths = [c["path"] for c in handler.calls if c["method"] == "GET"]
    assert "/sms/3/logs" in paths and "/sms/1/logs" in paths
    assert statuses(campaign) == OUTCOME
    assert_counters_match(campaign)


# -- Infobip's own features, from the pages ----------------------------------------


def handed_over_with(base_url, window):
    from campaigns.models import DeliveryWindow

    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    campaign = setup(base_url)
    window = DeliveryWindow.objects.create(name="Office hours", **window)
    Campaign.objects.filter(pk=campaign.pk).update(
        scheduled_at=at, schedule_at_provider=True, window=window
    )
    return Campaign.objects.get(pk=campaign.pk), at


def test_a_delivery_window_goes_to_infobip_with_the_schedule(infobip, manager):
    handler, base_url = infobip
    office = {
        "days": [0, 1, 2, 3, 4],
        "start_time": dt.time(9, 0),
        "end_time": dt.time(18, 0),
        # No summer time, so the same UTC hours all year.
        "time_zone": "Asia/Kolkata",
    }
    campaign, at = handed_over_with(base_url, office)
    from campaigns import compose

    assert compose.check(campaign).errors == []
    campaign = launch(campaign, manager)

    [call] = sends(handler)
    assert_valid(call["body"], "SMSAdvancedTextualRequest", closed=True)
    for message in call["body"]["messages"]:
        # Infobip reads the window in UTC: 09:00-18:00 in Kolkata.
        assert message["deliveryTimeWindow"] == {
            "from": {"hour": 3, "minute": 30},
            "to": {"hour": 12, "minute": 30},
            "days": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
        }
        assert message["sendAt"].startswith(at.strftime("%Y-%m-%dT%H:%M"))
    assert campaign.state == Campaign.State.SCHEDULED
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}


@pytest.mark.parametrize(
    "window",
    [
        # 09:00-17:00 in Los Angeles runs over midnight in UTC.
        {"time_zone": "America/Los_Angeles"},
        # Each recipient's own zone: Infobip keeps one window for all.
        {"time_zone": "UTC", "recipient_local": True},
        # Over midnight here.
        {"time_zone": "UTC", "start_time": dt.time(22, 0), "end_time": dt.time(6, 0)},
    ],
    ids=["utc_midnight", "recipient_local", "over_midnight"],
)
def test_a_window_infobip_cannot_keep_unchanged_is_refused_before_launch(infobip, window):
    from campaigns import compose

    _, base_url = infobip
    window = {"days": [0, 1, 2, 3, 4], "start_time": dt.time(9), "end_time": dt.time(17)} | window
    campaign, _ = handed_over_with(base_url, window)

    errors = compose.check(campaign).errors

    assert any("choose one or the other" in e for e in errors)


def test_check_with_infobip_shows_its_part_count_beside_ours(infobip, manager, client):
    from django.urls import reverse

    handler, base_url = infobip
    campaign = setup(base_url)
    client.force_login(manager)

    page = client.get(reverse("campaigns:edit", args=[campaign.pk])).content.decode()
    assert "Check with Infobip" in page
    assert f'hx-post="{reverse("providers:preview", args=[campaign.account.pk])}"' in page

    text = "Spring sale: " + "20% off everything in store and online today. " * 4
    answer = client.post(
        reverse("providers:preview", args=[campaign.account.pk]), {"text": text}
    ).content.decode()
    [call] = [c for c in handler.calls if c["path"] == "/sms/1/preview"]
    assert call["body"] == {"text": text}
    assert_valid(call["body"], "PreviewRequest", closed=True)
    assert "Infobip: 2 parts" in answer
    assert "smsportal counts 2 (the text as checked)." in answer
    assert "They differ" not in answer


def test_check_with_the_provider_is_offered_only_where_it_previews(manager, client, sandbox):
    from django.urls import reverse

    campaign = Campaign.objects.create(
        name="Sandboxed",
        text="Hello",
        sender=make_sender("Shop", sandbox),
        account=sandbox,
    )
    client.force_login(manager)
    page = client.get(reverse("campaigns:edit", args=[campaign.pk])).content.decode()
    assert "Check with" not in page
    answer = client.post(reverse("providers:preview", args=[sandbox.pk]), {"text": "Hello"})
    assert "has no preview of its own" in answer.content.decode()


def test_a_schedule_handed_to_infobip_is_cancelled_there_and_costs_nothing(
    infobip, manager, client
):
    from django.urls import reverse

    handler, base_url = infobip
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    campaign = setup(base_url)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=at, schedule_at_provider=True)
    campaign = launch(Campaign.objects.get(pk=campaign.pk), manager)
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}

    client.force_login(manager)
    response = client.post(reverse("campaigns:cancel", args=[campaign.pk]), follow=True)

    page = response.content.decode()
    assert "5 already with the provider are being cancelled there" in page
    assert 'id="still-going-out"' not in page
    [put] = [c for c in handler.calls if c["method"] == "PUT"]
    assert put["query"] == {"bulkId": f"campaign-{campaign.pk}"}
    assert handler.bulks[f"campaign-{campaign.pk}"]["status"] == "CANCELED"
    for message in by_phone(campaign).values():
        assert (message.status, message.error_description) == (
            Status.CANCELLED,
            "Cancelled at the provider",
        )
        assert message.actual_cost == Decimal(0)
    assert_counters_match(Campaign.objects.get(pk=campaign.pk))


def test_a_cancel_infobip_does_not_confirm_leaves_them_going_out(infobip, manager, client):
    from django.urls import reverse

    handler, base_url = infobip
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    campaign = setup(base_url)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=at, schedule_at_provider=True)
    campaign = launch(Campaign.objects.get(pk=campaign.pk), manager)
    # Infobip already started the bulk: it refuses to cancel it.
    handler.bulks[f"campaign-{campaign.pk}"]["status"] = "FINISHED"

    client.force_login(manager)
    client.post(reverse("campaigns:cancel", args=[campaign.pk]))
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()

    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
    assert (
        "5 messages handed to the provider are not confirmed cancelled there and will "
        "still go out at the scheduled time." in page
    )
    assert "Bulk already sent" in page  # the provider's words, in the audit trail
