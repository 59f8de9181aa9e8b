"""voip-communications.net end to end through the engine: a campaign launched
against the fake api-v2 on loopback goes out in one form-encoded request per
text, the provider's ``sale`` is the cost, statuses come back by reading its
SMS log, reply callbacks to the account's real webhook add suppressions, and
failures pause the campaign visibly."""

import base64
import datetime as dt
import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from campaigns import services
from campaigns.models import Campaign
from campaigns.reports import poll_account
from campaigns.selectors import campaign_counts
from contacts.models import Suppression
from providers.models import InboundMessage
from providers.status import Status
from tests.providers.fakes import Outage, refused_url, serve
from tests.providers.fakes import voipcomms as fake
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
    max_failures,
    statuses,
)

pytestmark = pytest.mark.django_db(transaction=True)

API_KEY, API_PASSWORD = "loopback-key", "loopback-secret"
OUR_NUMBER = "12025550143"
PREFIX = "/api-v2/index.php/"
TEXT = "Spring sale: 20% off everything today. Reply STOP to opt out."
PEOPLE = {
    "+12812345670": "Anna",
    "+12812345671": "Ben",
    # The fake's log shows numbers ending in 9 as undelivered.
    "+12812345679": "Carl",
}


@pytest.fixture
def provider():
    handler = fake.handler(API_KEY, API_PASSWORD, numbers=(OUR_NUMBER,), settle=True)
    with serve(handler) as base_url:
        yield handler, base_url + PREFIX


def setup(base_url, *, password=API_PASSWORD, text=TEXT, people=PEOPLE):
    account = make_account(
        "voipcomms",
        base_url,
        credentials={"api_key": API_KEY, "api_password": password},
        options={"two_way_numbers": [OUR_NUMBER], "currency": "EUR"},
    )
    sender = make_sender(OUR_NUMBER, account)
    return make_campaign(account, sender, make_list("Customers", people), text)


def calls(handler, action):
    return [(headers, form) for path, headers, form in handler.received if path == PREFIX + action]


def test_a_campaign_goes_out_in_one_request_and_the_log_brings_the_outcome(provider, manager):
    handler, base_url = provider
    campaign = launch(setup(base_url), manager)

    [(headers, form)] = calls(handler, "sms/send")
    basic = base64.b64encode(f"{API_KEY}:{API_PASSWORD}".encode()).decode()
    assert headers["Authorization"] == f"Basic {basic}"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    recipients = form.pop("to").split(",")
    assert sorted(recipients) == ["12812345670", "12812345671", "12812345679"]
    # From one of the account's numbers: 2-way, so replies come back to us.
    assert form == {"from": OUR_NUMBER, "msg": TEXT}

    smsid = {entry["to"]: entry["smsid"] for entry in handler.log}
    for phone, message in by_phone(campaign).items():
        assert message.status == Status.ACCEPTED
        assert message.provider_message_id == smsid[phone.removeprefix("+")]
        # The send log's "sale" is what the message costs.
        assert (message.actual_cost, message.currency) == (Decimal("0.01"), "EUR")
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)

    # No push: the SMS log is read, but not for messages just sent.
    account = campaign.account
    poll_account(account)
    assert calls(handler, "sms/summary") == []

    # poll_account only asks about messages submitted more than a couple of
    # minutes ago, so the submissions are moved back in time here.
    age_submissions(campaign, dt.timedelta(minutes=3))
    assert poll_account(account) == 3

    assert [form for _, form in calls(handler, "sms/summary")] == [{"page": "1"}]
    assert statuses(campaign) == {
        "+12812345670": Status.DELIVERED,
        "+12812345671": Status.DELIVERED,
        "+12812345679": Status.UNDELIVERED,
    }
    for message in by_phone(campaign).values():
        assert message.done_at is not None
        assert message.actual_cost == Decimal("0.01")
    assert campaign_counts([campaign.pk])[campaign.pk].actual_cost == Decimal("0.03")
    assert_counters_match(campaign)

    # Nothing is left to ask about.
    assert poll_account(account) == 0
    assert len(calls(handler, "sms/summary")) == 1


def test_personalised_texts_go_one_request_per_text(provider, manager):
    handler, base_url = provider
    people = {"+12812345670": "Anna", "+12812345671": "", "+12812345672": ""}
    campaign = launch(
        setup(base_url, text='Hi {{ first_name|default:"there" }}!', people=people), manager
    )

    sent = sorted(
        (form["msg"], sorted(form["to"].split(","))) for _, form in calls(handler, "sms/send")
    )
    assert sent == [
        ("Hi Anna!", ["12812345670"]),
        ("Hi there!", ["12812345671", "12812345672"]),
    ]
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
    assert_counters_match(campaign)


def test_refused_credentials_pause_the_campaign_at_once(provider, manager):
    handler, base_url = provider
    campaign = launch(setup(base_url, password="not-the-password"), manager)

    says = "voip-communications.net refused our credentials (HTTP 401)."
    assert campaign.state == Campaign.State.PAUSED
    assert campaign.pause_reason == f"Paused: {says}"
    assert_failed_visibly(campaign, attempts=1, says=says)
    assert len(calls(handler, "sms/send")) == 1
    assert handler.log == []


OUTAGES = {
    "server_error": (Outage(500), "voip-communications.net had a server error (HTTP 500)."),
    "rate_limited": (
        Outage(429, retry_after="30"),
        "voip-communications.net is rate-limiting us (HTTP 429).",
    ),
    "refused": (None, "Could not connect to voip-communications.net."),
}


@pytest.mark.parametrize("outage", OUTAGES)
def test_an_outage_is_retried_then_pauses_the_campaign(provider, manager, outage):
    handler, base_url = provider
    answer, says = OUTAGES[outage]
    handler.outage = answer
    campaign = launch(setup(refused_url() + PREFIX if answer is None else base_url), manager)

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
    assert len(calls(handler, "sms/send")) == (0 if answer is None else max_failures())
    assert handler.log == []

    handler.outage = None
    account = campaign.account
    account.base_url = base_url
    account.save()
    services.campaign_resume(campaign=campaign, user=manager)
    campaign = dispatch_again(campaign)
    assert sorted(entry["to"] for entry in handler.log) == [
        "12812345670",
        "12812345671",
        "12812345679",
    ]
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
    assert campaign.state == Campaign.State.COMPLETED
    assert_counters_match(campaign)


@pytest.mark.parametrize("form", [True, False], ids=["form", "json"])
def test_a_stop_reply_suppresses_the_number_for_the_next_campaign(provider, manager, client, form):
    handler, base_url = provider
    campaign = launch(setup(base_url), manager)
    account = campaign.account
    reply = {"smsid": "2017559ea27008c6b7122901000", "from": "12812345670", "to": OUR_NUMBER}
    reply.update(msg="Stop", date="2024-03-05 10:20:31")
    if form:
        body, content_type = urlencode(reply), "application/x-www-form-urlencoded"
    else:
        body, content_type = json.dumps(reply), "application/json"

    for _ in range(2):  # a repeated callback is stored once
        response = client.post(hook_path(account), data=body, content_type=content_type)
        assert response.status_code == 200

    inbound = InboundMessage.objects.get()
    assert (inbound.sender, inbound.recipient, inbound.text) == (
        "+12812345670",
        "+" + OUR_NUMBER,
        "Stop",
    )
    assert inbound.opted_out
    assert Suppression.objects.filter(phone="+12812345670", reason="stop").count() == 1

    handler.received.clear()
    second = Campaign.objects.create(
        name="Next week", text="Last day of the sale.", sender=campaign.sender, account=account
    )
    second.lists.set(campaign.lists.all())
    second = launch(second, manager)
    assert by_phone(second)["+12812345670"].skip_reason == "suppressed"
    [(_, sent)] = calls(handler, "sms/send")
    assert sorted(sent["to"].split(",")) == ["12812345671", "12812345679"]
    assert_counters_match(second)


# -- a schedule handed to the provider ------------------------------------------------


def test_a_schedule_handed_over_goes_out_now_with_delivery_date_and_cancels_there(
    provider, manager, client
):
    from django.urls import reverse

    from campaigns.models import Message

    handler, base_url = provider
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    campaign = setup(base_url)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=at, schedule_at_provider=True)
    campaign = launch(Campaign.objects.get(pk=campaign.pk), manager)

    # Submitted on launch, with the time for the provider to send them at.
    [(_, form)] = calls(handler, "sms/send")
    assert form["delivery_date"] == at.strftime("%Y-%m-%d %H:%M")
    assert campaign.state == Campaign.State.SCHEDULED
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
    assert {e["status"] for e in handler.log} == {"SCHEDULED"}

    # A person cannot pause what the provider holds; cancelling reaches it.
    client.force_login(manager)
    response = client.post(reverse("campaigns:pause", args=[campaign.pk]), follow=True)
    assert "Cancel the campaign instead" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.SCHEDULED
    response = client.post(reverse("campaigns:cancel", args=[campaign.pk]), follow=True)
    assert "3 already with the provider are being cancelled there" in response.content.decode()
    assert len(calls(handler, "sms/delete")) == 3
    assert {e["status"] for e in handler.log} == {"DELETED"}
    assert set(statuses(campaign).values()) == {Status.CANCELLED}
    assert Message.objects.filter(campaign=campaign, not_before=at).count() == 3
    # Charged only when sent: cancelled before then, they cost nothing.
    assert {m.actual_cost for m in by_phone(campaign).values()} == {Decimal(0)}
    assert campaign_counts([campaign.pk])[campaign.pk].actual_cost == Decimal(0)
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert 'id="still-going-out"' not in page
    assert_counters_match(Campaign.objects.get(pk=campaign.pk))


def test_without_handing_over_the_schedule_is_held_here(provider, manager):
    handler, base_url = provider
    at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    campaign = setup(base_url)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=at)
    campaign = launch(Campaign.objects.get(pk=campaign.pk), manager)
    assert campaign.state == Campaign.State.SCHEDULED
    assert calls(handler, "sms/send") == []
    assert set(statuses(campaign).values()) == {Status.PENDING}


def hand_over(base_url, manager, like=None):
    """A campaign whose schedule is handed to the provider, launched (the
    same account, sender and list as ``like`` when given)."""
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    if like is None:
        campaign = setup(base_url)
    else:
        campaign = Campaign.objects.create(
            name="Again", text=TEXT, sender=like.sender, account=like.account
        )
        campaign.lists.set(like.lists.all())
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=at, schedule_at_provider=True)
    return launch(Campaign.objects.get(pk=campaign.pk), manager)


@pytest.mark.parametrize(
    "answer",
    [{"message": "Not Found"}, {"error": True, "error_message": "Unknown method"}],
    ids=["plain_404", "envelope_404"],
)
def test_a_cancel_the_provider_does_not_confirm_is_not_recorded(
    provider, manager, admin_user, client, answer
):
    from django.urls import reverse

    handler, base_url = provider
    handler.absent = {"sms/delete": answer}
    campaign = hand_over(base_url, manager)
    assert {e["status"] for e in handler.log} == {"SCHEDULED"}

    client.force_login(manager)
    response = client.post(reverse("campaigns:cancel", args=[campaign.pk]), follow=True)
    page = response.content.decode()

    # Asked once; the 404 says the account has no such call, so nothing is
    # recorded as cancelled and the page says what will still go out.
    assert len(calls(handler, "sms/delete")) == 1
    assert {e["status"] for e in handler.log} == {"SCHEDULED"}
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
    assert "Cancelled at the provider" not in {
        m.error_description for m in by_phone(campaign).values()
    }
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.CANCELLED
    assert (
        "3 messages handed to the provider are not confirmed cancelled there and will "
        "still go out at the scheduled time." in page
    )
    assert "sms/delete answered HTTP 404" in page
    # What is charged when they go out is still to come.
    assert {m.actual_cost for m in by_phone(campaign).values()} == {None}
    assert_counters_match(campaign)

    # The account says cancelling is off, and the next cancel says so at once.
    account = campaign.account
    account.refresh_from_db()
    assert not account.capabilities.cancel
    client.force_login(admin_user)
    account_page = client.get(reverse("providers:edit", args=[account.pk])).content.decode()
    assert "sms/delete answered HTTP 404" in account_page
    second = hand_over(base_url, manager, like=campaign)
    client.force_login(manager)
    response = client.post(reverse("campaigns:cancel", args=[second.pk]), follow=True)
    assert "cannot be cancelled there and go out at the scheduled time" in (
        response.content.decode()
    )
    assert len(calls(handler, "sms/delete")) == 1


def test_an_account_without_the_sms_log_keeps_the_send_answer_and_says_so(
    provider, manager, admin_user, client
):
    from django.urls import reverse

    handler, base_url = provider
    handler.absent = {"sms/summary": {"error": True, "error_message": "Unknown method"}}
    campaign = launch(setup(base_url), manager)
    account = campaign.account
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}

    # Check connection: not verified, and not a failure either.
    client.force_login(admin_user)
    answer = client.post(
        reverse("providers:check", args=[account.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert 'class="text-warning"' in answer
    assert "could not be verified without sending" in answer
    assert "failed" not in answer.lower() and "Could not connect" not in answer

    # Polling is off for the account, so the log is not asked again and the
    # statuses stay as the send answer gave them.
    account.refresh_from_db()
    assert not account.capabilities.polling
    age_submissions(campaign, dt.timedelta(minutes=3))
    asked = len(calls(handler, "sms/summary"))
    assert poll_account(account) == 0
    assert len(calls(handler, "sms/summary")) == asked
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
    assert {m.actual_cost for m in by_phone(campaign).values()} == {Decimal("0.01")}
    page = client.get(reverse("providers:edit", args=[account.pk])).content.decode()
    assert "Polling is off for this account" in page
    assert "sms/summary answered HTTP 404" in page
    assert_counters_match(campaign)

    # Saving the account (a new base URL, say) tries again.
    handler.absent = {}
    response = client.post(
        reverse("providers:edit", args=[account.pk]),
        {
            "name": account.name,
            "throughput": account.throughput,
            "currency": account.currency,
            "default_price": account.default_price,
            "enabled": "on",
            "base_url": base_url,
            "opt_two_way_numbers": OUR_NUMBER,
            "opt_currency": "EUR",
        },
    )
    assert response.status_code == 302, response.content.decode()
    account.refresh_from_db()
    assert account.capabilities.polling
    assert poll_account(account) == 3


def test_polling_finds_the_log_missing_and_switches_itself_off(provider, manager):
    from campaigns.tasks import poll_statuses

    handler, base_url = provider
    handler.absent = {"sms/summary": {"message": "Not Found"}}
    campaign = launch(setup(base_url), manager)
    age_submissions(campaign, dt.timedelta(minutes=3))

    poll_statuses()
    poll_statuses()

    assert len(calls(handler, "sms/summary")) == 1
    account = campaign.account
    account.refresh_from_db()
    assert "sms/summary answered HTTP 404" in account.switched_off["polling"]
    assert set(statuses(campaign).values()) == {Status.ACCEPTED}
