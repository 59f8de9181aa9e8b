"""Infopromo (API v3 and the HTTP API) end to end through the engine: a
campaign launched against a fake portal on loopback goes out batched, its
statuses come back by polling, and failures pause it visibly."""

import datetime as dt
from decimal import Decimal

import pytest

from campaigns import services
from campaigns.models import Campaign
from campaigns.reports import poll_account
from providers.status import Status
from tests.providers.fakes import Outage, refused_url, serve
from tests.providers.fakes.engine import (
    age_submissions,
    assert_counters_match,
    assert_failed_visibly,
    by_phone,
    dispatch_again,
    launch,
    make_account,
    make_campaign,
    make_list,
    make_sender,
    make_template,
    max_failures,
    statuses,
)
from tests.providers.fakes.infopromo import make_handler

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "7|pL0bQ2loopback"
TEXT = "Spring sale: 20% off everything today at Shop."
PEOPLE = {
    "+4915112345601": "Anna",
    "+4915112345602": "Ben",
    # The fake portal reports numbers ending in 9 as undelivered.
    "+4915112345609": "Carl",
}
KINDS = {
    "v3": ("infopromo_v3", {}),
    "http": ("infopromo_http", {}),
    "http_get": ("infopromo_http", {"http_method": "get"}),
}


@pytest.fixture
def portal():
    handler = make_handler(token=TOKEN)
    with serve(handler) as base_url:
        yield handler, base_url


def setup(base_url, variant, *, token=TOKEN, text=TEXT, people=PEOPLE, options=None):
    kind, kind_options = KINDS[variant]
    account = make_account(
        kind,
        base_url,
        credentials={"api_token": token},
        options={"currency": "EUR", **kind_options, **(options or {})},
    )
    sender = make_sender("Shop", account)
    return make_campaign(account, sender, make_list("Customers", people), text)


def sends(handler):
    return [c for c in handler.calls if c["path"].endswith("/sms/send")]


def sent_fields(call):
    """The send's fields, wherever the variant put them."""
    return dict(call["query"]) if call["method"] == "GET" else dict(call["body"])


@pytest.mark.parametrize("variant", KINDS)
def test_a_campaign_goes_out_in_one_request_and_polls_to_its_outcome(portal, manager, variant):
    handler, base_url = portal
    campaign = launch(setup(base_url, variant), manager)

    [call] = sends(handler)
    fields = sent_fields(call)
    recipients = fields.pop("recipient").split(",")
    assert sorted(recipients) == ["4915112345601", "4915112345602", "4915112345609"]
    expected = {"sender_id": "Shop", "type": "plain", "message": TEXT}
    if variant == "v3":
        assert (call["method"], call["path"]) == ("POST", "/api/v3/sms/send")
        assert call["headers"]["Authorization"] == f"Bearer {TOKEN}"
        assert fields == expected
    elif variant == "http":
        assert (call["method"], call["path"]) == ("POST", "/api/http/sms/send")
        assert "Authorization" not in call["headers"]
        assert fields == {"api_token": TOKEN, **expected}
    else:
        assert (call["method"], call["path"]) == ("GET", "/api/http/sms/send")
        assert call["body"] is None
        assert fields == {"api_token": TOKEN, **expected}
    assert call["headers"]["Accept"] == "application/json"

    # Submitted: each message carries the portal's uid and its cost; the
    # portal's "Delivered" at this point only means its gateway took it.
    messages = by_phone(campaign)
    uids = {row["to"]: uid for uid, row in handler.messages.items()}
    for phone, message in messages.items():
        assert message.status == Status.ACCEPTED
        assert message.provider_message_id == uids[phone.removeprefix("+")]
        assert (message.actual_cost, message.currency) == (Decimal("1"), "EUR")
        assert message.sent_at is not None and message.done_at is None
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)

    # The portal pushes nothing; a poll right after sending asks nothing.
    account = campaign.account
    poll_account(account)
    assert [c for c in handler.calls if c["method"] == "GET" and "/sms/send" not in c["path"]] == []

    # poll_account only asks about messages submitted more than a couple of
    # minutes ago, so the submissions are moved back in time here.
    age_submissions(campaign, dt.timedelta(minutes=3))
    assert poll_account(account) == 3

    views = [c for c in handler.calls if c["method"] == "GET" and "/sms/send" not in c["path"]]
    prefix = "/api/v3/" if variant == "v3" else "/api/http/"
    assert sorted(c["path"] for c in views) == sorted(f"{prefix}sms/{uid}" for uid in uids.values())
    assert statuses(campaign) == {
        "+4915112345601": Status.DELIVERED,
        "+4915112345602": Status.DELIVERED,
        "+4915112345609": Status.UNDELIVERED,
    }
    for message in by_phone(campaign).values():
        assert message.done_at is not None
        assert (message.actual_cost, message.currency) == (Decimal("1"), "EUR")
    assert_counters_match(campaign)
    counts_before = statuses(campaign)

    # Final messages are not asked about again, and nothing changes.
    assert poll_account(account) == 0
    assert len(handler.calls) == 1 + len(views)
    assert statuses(campaign) == counts_before


def test_personalised_texts_go_one_request_per_text_within_the_account_limit(portal, manager):
    handler, base_url = portal
    people = {
        "+4915112345601": "Anna",
        "+4915112345602": "Ben",
        "+4915112345603": "",
        "+4915112345604": "",
        "+4915112345605": "",
    }
    campaign = setup(
        base_url,
        "v3",
        text='Hi {{ first_name|default:"there" }}, 20% off today.',
        people=people,
        options={"max_recipients": "2"},
    )
    campaign = launch(campaign, manager)

    requests = [sent_fields(c) for c in sends(handler)]
    batches = {}
    for fields in requests:
        batches.setdefault(fields["message"], []).append(fields["recipient"].split(","))
    assert batches.pop("Hi Anna, 20% off today.") == [["4915112345601"]]
    assert batches.pop("Hi Ben, 20% off today.") == [["4915112345602"]]
    # Three with the same text, at most two per request as the account allows.
    there = batches.pop("Hi there, 20% off today.")
    assert sorted(len(batch) for batch in there) == [1, 2]
    assert sorted(n for batch in there for n in batch) == [
        "4915112345603",
        "4915112345604",
        "4915112345605",
    ]
    assert batches == {}
    assert len(requests) == 4
    messages = by_phone(campaign)
    assert {m.status for m in messages.values()} == {Status.ACCEPTED}
    assert len({m.provider_message_id for m in messages.values()}) == 5
    assert messages["+4915112345601"].text == "Hi Anna, 20% off today."
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)


def test_indian_numbers_go_with_the_dlt_template(portal, manager):
    handler, base_url = portal
    text = "Dear customer, 20% off today at Shop."
    people = {"+919812345671": "Asha", "+919812345678": "Ravi"}
    campaign = setup(base_url, "v3", text=text, people=people)
    campaign.dlt_template = make_template(
        campaign.sender, "Dear customer, {#var#} off today at Shop."
    )
    campaign.save()
    campaign = launch(campaign, manager)

    [call] = sends(handler)
    fields = sent_fields(call)
    assert sorted(fields.pop("recipient").split(",")) == ["919812345671", "919812345678"]
    # Only the template travels: the entity ID is registered with the sender
    # on the portal itself.
    assert fields == {
        "sender_id": "Shop",
        "type": "plain",
        "message": text,
        "dlt_template_id": "1107161234567890123",
    }
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
    assert_counters_match(campaign)


@pytest.mark.parametrize(
    ("variant", "says"),
    [
        ("v3", "Infopromo refused our credentials (HTTP 401)."),
        # The HTTP API answers a bad token with HTTP 200 and an error envelope.
        ("http", "Invalid API token."),
    ],
)
def test_a_refused_token_pauses_the_campaign_at_once(portal, manager, variant, says):
    handler, base_url = portal
    campaign = launch(setup(base_url, variant, token="not-the-token"), manager)

    assert campaign.state == Campaign.State.PAUSED
    assert campaign.pause_reason == f"Paused: {says}"
    assert_failed_visibly(campaign, attempts=1, says=says)
    assert len(sends(handler)) == 1
    assert handler.messages == {}

    # With the token corrected and the campaign resumed, each number goes once.
    account = campaign.account
    account.credentials = {"api_token": TOKEN}
    account.save()
    services.campaign_resume(campaign=campaign, user=manager)
    campaign = dispatch_again(campaign)
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
    assert sorted(row["to"] for row in handler.messages.values()) == [
        "4915112345601",
        "4915112345602",
        "4915112345609",
    ]
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)


OUTAGES = {
    "server_error": (Outage(500), "Infopromo had a server error (HTTP 500)."),
    "rate_limited": (
        Outage(
            429,
            body='{"message": "Too Many Attempts."}',
            content_type="application/json",
            retry_after="30",
        ),
        "Infopromo is rate-limiting us (HTTP 429).",
    ),
    "refused": (None, "Could not connect to Infopromo."),
}


@pytest.mark.parametrize("variant", ["v3", "http"])
@pytest.mark.parametrize("outage", OUTAGES)
def test_an_outage_is_retried_then_pauses_the_campaign(portal, manager, variant, outage):
    handler, base_url = portal
    answer, says = OUTAGES[outage]
    handler.outage = answer
    campaign = setup(refused_url() if answer is None else base_url, variant)
    before = dt.datetime.now(dt.UTC)
    campaign = launch(campaign, manager)

    # One failed attempt: waiting for a retry, the campaign still running.
    assert campaign.state == Campaign.State.RUNNING
    assert_failed_visibly(campaign, attempts=1, says=says)
    wait = 30 if outage == "rate_limited" else 2
    for message in by_phone(campaign).values():
        assert message.not_before >= before + dt.timedelta(seconds=wait)

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
    assert handler.messages == {}

    # The provider is back: resumed, every number goes out exactly once.
    handler.outage = None
    account = campaign.account
    account.base_url = base_url
    account.save()
    services.campaign_resume(campaign=campaign, user=manager)
    campaign = dispatch_again(campaign)
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
    assert len(handler.messages) == 3
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)


def test_the_providers_part_count_is_kept_and_counted(portal, manager):
    handler, base_url = portal
    # Each € takes two septets: 166 in all, two parts by our count. The
    # portal counts characters (142) and answers one part.
    text = "Spring prices at Shop: " + ", ".join(f"{n}€" for n in range(10, 80, 3)) + "."
    campaign = launch(setup(base_url, "v3", text=text), manager)

    assert {row["sms_count"] for row in handler.messages.values()} == {1}
    assert {m.segments for m in by_phone(campaign).values()} == {1}
    assert_counters_match(campaign)


# -- a schedule handed to the provider ------------------------------------------------


@pytest.mark.parametrize("variant", KINDS)
def test_a_schedule_handed_over_goes_with_schedule_time_and_stays_there(
    portal, manager, client, variant
):
    from django.urls import reverse

    handler, base_url = portal
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    campaign = setup(base_url, variant)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=at, schedule_at_provider=True)
    campaign = launch(Campaign.objects.get(pk=campaign.pk), manager)

    # One number per request, so each message comes back with its uid.
    calls = sends(handler)
    assert sorted(sent_fields(c)["recipient"] for c in calls) == [
        "4915112345601",
        "4915112345602",
        "4915112345609",
    ]
    assert {sent_fields(c)["schedule_time"] for c in calls} == {at.strftime("%Y-%m-%d %H:%M")}
    assert campaign.state == Campaign.State.SCHEDULED
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
    uid = {row["to"]: row["uid"] for row in handler.messages.values()}
    for phone, message in by_phone(campaign).items():
        assert message.provider_message_id == uid[phone.removeprefix("+")]

    # Infopromo cannot cancel a scheduled SMS: the user is told so.
    client.force_login(manager)
    response = client.post(reverse("campaigns:cancel", args=[campaign.pk]), follow=True)
    page = response.content.decode()
    assert "3 already with the provider cannot be cancelled there" in page
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.CANCELLED
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}


@pytest.mark.parametrize("variant", KINDS)
def test_a_schedule_handed_over_reaches_its_final_status_once_sent(portal, manager, variant):
    from campaigns.models import Message

    handler, base_url = portal
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    campaign = setup(base_url, variant)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=at, schedule_at_provider=True)
    campaign = launch(Campaign.objects.get(pk=campaign.pk), manager)
    account = campaign.account
    assert len(sends(handler)) == len(PEOPLE)
    for message in by_phone(campaign).values():
        assert (message.status, message.error_description) == (Status.ACCEPTED, "")
        assert message.provider_message_id

    # Held by the portal until its time: nothing to ask about yet.
    age_submissions(campaign, dt.timedelta(minutes=5))
    assert poll_account(account) == 0
    assert not [c for c in handler.calls if not c["path"].endswith("/sms/send")]

    # The time came and the portal sent them: polling brings each outcome.
    handler.send_scheduled()
    Message.objects.filter(campaign=campaign).update(
        not_before=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )
    assert poll_account(account) == len(PEOPLE)
    assert statuses(campaign) == {
        "+4915112345601": Status.DELIVERED,
        "+4915112345602": Status.DELIVERED,
        "+4915112345609": Status.UNDELIVERED,
    }
    for message in by_phone(campaign).values():
        assert message.actual_cost == Decimal("1")
        assert message.done_at is not None
    assert_counters_match(campaign)
    assert poll_account(account) == 0


# -- a campaign to contact lists kept at the provider ------------------------------------


def provider_list_campaign(base_url, list_ids, *, text=TEXT):
    from tests.providers.fakes.engine import make_account as account_of

    account = account_of(
        "infopromo_v3", base_url, credentials={"api_token": TOKEN}, options={"currency": "EUR"}
    )
    campaign = Campaign.objects.create(
        name="To the portal's lists",
        text=text,
        sender=make_sender("Shop", account),
        account=account,
        provider_lists=",".join(list_ids),
    )
    return campaign


def test_a_campaign_to_the_providers_lists_goes_in_one_request_and_shows_its_figures(
    manager, client
):
    from django.urls import reverse

    from campaigns.tasks import refresh_provider_views
    from smsportal.models import AuditLogEntry

    handler = make_handler(
        token=TOKEN,
        lists={
            "6415907d0d37a": ["4915112345601", "4915112345609"],
            "6415907d0d7a6": ["4915112345602"],
        },
    )
    with serve(handler) as base_url:
        campaign = provider_list_campaign(base_url, ["6415907d0d37a", "6415907d0d7a6"])
        campaign = launch(campaign, manager)

        [call] = [c for c in handler.calls if c["path"].endswith("/sms/campaign")]
        fields = dict(call["body"])
        assert fields["contact_list_id"] == "6415907d0d37a,6415907d0d7a6"
        assert (fields["sender_id"], fields["message"]) == ("Shop", TEXT)
        assert campaign.state == Campaign.State.COMPLETED
        assert campaign.provider_campaign_uid in handler.campaigns
        # No recipients of ours: nothing in the message log.
        assert not campaign.messages.exists()
        assert AuditLogEntry.objects.filter(action="campaign.provider_lists_sent").exists()

        refresh_provider_views()
        campaign.refresh_from_db()
        assert campaign.provider_view["stats"]["delivered"] == 2
        assert campaign.provider_view["stats"]["undelivered"] == 1

        client.force_login(manager)
        page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
        assert "Sent to the provider" in page
        assert 'data-provider-count="delivered">2<' in page

        # Dispatching again sends nothing more.
        from campaigns import dispatch

        dispatch.dispatch(campaign.pk)
        assert len([c for c in handler.calls if c["path"].endswith("/sms/campaign")]) == 1


def test_a_list_the_provider_does_not_know_pauses_with_its_words(manager):
    handler = make_handler(token=TOKEN, lists={"6415907d0d37a": ["4915112345601"]})
    with serve(handler) as base_url:
        campaign = launch(provider_list_campaign(base_url, ["nope123"]), manager)
    assert campaign.state == Campaign.State.PAUSED
    assert "Contact list nope123 not found." in campaign.pause_reason
    assert campaign.provider_sent_at is None
