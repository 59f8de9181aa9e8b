"""The providers' own click tracking: Infobip's click reports (posted to the
account's click-report URL, ``urlOptions.trackingUrl``) recorded as clicks
where they name a message the account sent, kept as not verified where they
do not, and refused like delivery reports where forged or malformed; and
what the composer says each account does with clicks."""

import copy
import datetime as dt
import json

import pytest
import responses
from django.urls import resolve

from campaigns.forms import CampaignForm
from campaigns.models import Campaign, Click, Message
from providers import services
from providers.backends.infobip import InfobipBackend
from providers.base import CLICKS_EVENT, OutboundSms, SendOptions
from providers.models import FailedCallback, ProviderAccount, WebhookInbox
from providers.status import Status
from tests.providers.test_infobip import assert_valid, echo, spec

BASE = "https://xyz.api.infobip.com"
SEND_URL = f"{BASE}/sms/2/text/advanced"

pytestmark = pytest.mark.django_db


def spec_example() -> dict:
    """The spec's own click report (webhook ``receive-sms-tracking-notification``)."""
    body = spec()["webhooks"]["receive-sms-tracking-notification"]["post"]["requestBody"]
    return copy.deepcopy(body["content"]["application/json"]["examples"]["UrlTrackingWebhook"])[
        "value"
    ]


@pytest.fixture
def infobip(db):
    account = ProviderAccount.objects.create(
        name="Infobip",
        kind="infobip",
        base_url=BASE,
        options={"click_tracking_style": "url_options"},
    )
    account.credentials = {"api_key": "test-key"}
    account.save()
    return account


@pytest.fixture
def other_infobip(db):
    return ProviderAccount.objects.create(name="Infobip 2", kind="infobip", base_url=BASE)


@pytest.fixture
def campaign(infobip, sender):
    return Campaign.objects.create(
        name="Spring",
        text="Sale: https://shop.example.com/spring",
        sender=sender,
        account=infobip,
        state=Campaign.State.RUNNING,
        click_tracking=True,
    )


def sent_message(campaign, account, phone="+41793026727", provider_id=""):
    message = Message.objects.create(
        campaign=campaign,
        phone=phone,
        account=account,
        status=Status.DELIVERED,
        submitted_at=dt.datetime(2024, 1, 1, 10, 0, tzinfo=dt.UTC),
    )
    # Infobip carries our reference (the message id) as its messageId.
    message.provider_message_id = provider_id or str(message.pk)
    message.save(update_fields=["provider_message_id"])
    return message


@pytest.fixture
def message(campaign, infobip):
    return sent_message(campaign, infobip)


def sms(text):
    return OutboundSms(ref="7", to="+41793026727", text=text, sender="Shop")


def click_url(account, event=CLICKS_EVENT):
    return account.webhook_url(event).replace("http://127.0.0.1:8000", "")


def post(client, account, body, *, event=CLICKS_EVENT, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(click_url(account, event), data=data, content_type=content_type)


def report_for(message, **changes):
    report = spec_example()
    report.update(messageId=message.provider_message_id, recipient=message.phone[1:])
    report.update(changes)
    return report


# -- the request: trackingUrl -----------------------------------------------------------


def test_url_options_carry_the_accounts_click_report_url(infobip):
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, SEND_URL, callback=echo)
        infobip.backend().send_batch(
            [sms("https://shop.example.com")],
            SendOptions(click_tracking=True),
        )
        body = json.loads(mocked.calls[0].request.body)
    tracking_url = infobip.webhook_url(CLICKS_EVENT)
    assert body["urlOptions"] == {
        "shortenUrl": True,
        "trackClicks": True,
        "trackingUrl": tracking_url,
    }
    assert "tracking" not in body
    # Every field of the body is one the spec knows, in its place.
    assert_valid(body, "SMSAdvancedTextualRequest", closed=True)
    # The URL is the account's own secret webhook, for click reports.
    path = tracking_url.removeprefix("http://127.0.0.1:8000")
    match = resolve(path)
    assert match.url_name == "webhook_event"
    assert match.kwargs == {"secret": infobip.webhook_secret, "event": CLICKS_EVENT}


def test_the_documented_tracking_object_has_no_click_report_url(infobip):
    infobip.options = {"click_tracking_style": "tracking"}
    infobip.save()
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, SEND_URL, callback=echo)
        infobip.backend().send_batch(
            [sms("https://shop.example.com")],
            SendOptions(click_tracking=True, campaign_ref="spring"),
        )
        body = json.loads(mocked.calls[0].request.body)
    assert body["tracking"] == {"track": "URL", "type": "spring"}
    assert "urlOptions" not in body
    assert_valid(body, "SMSAdvancedTextualRequest", closed=True)


def test_without_click_tracking_nothing_is_asked_for(infobip):
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, SEND_URL, callback=echo)
        infobip.backend().send_batch([sms("Hi")], SendOptions())
        body = json.loads(mocked.calls[0].request.body)
    assert "urlOptions" not in body and "tracking" not in body


# -- click reports in -------------------------------------------------------------------


def test_the_spec_example_is_a_valid_click_report():
    assert_valid(spec_example(), "UrlTrackingWebhook", closed=True)


def test_a_click_report_for_our_message_is_recorded_as_a_click(client, infobip, message):
    report = report_for(message)
    response = post(client, infobip, report)
    assert response.status_code == 200
    click = Click.objects.get()
    assert click.source == Click.Source.PROVIDER
    assert (click.message_id, click.campaign_id, click.link_id) == (
        message.pk,
        message.campaign_id,
        None,
    )
    assert click.variant_id is None
    # recipientInfo.deviceType "Phone"; sendDateTime 1704106800000 ms.
    assert click.agent == "mobile"
    assert not click.is_bot
    assert click.at == dt.datetime(2024, 1, 1, 11, 0, tzinfo=dt.UTC)
    # Kept as it came.
    assert click.payload == report
    assert not FailedCallback.objects.exists()
    assert not WebhookInbox.objects.exists()


def test_provider_clicks_count_in_the_campaigns_figures(client, infobip, campaign, message):
    from campaigns import engagement

    second = sent_message(campaign, infobip, phone="+41793026731")
    post(client, infobip, report_for(message))
    post(client, infobip, report_for(message, sendDateTime=1704106900000))
    post(client, infobip, report_for(second))
    post(client, infobip, report_for(message, messageId="not-ours"))
    figures = engagement.campaign_figures(campaign)
    # Three clicks by people on two messages; the unverified one is not one.
    assert (figures.clicks, figures.unique_clicks) == (3, 2)
    assert Click.objects.filter(source=Click.Source.PROVIDER).count() == 3


def test_a_click_is_matched_by_the_providers_own_message_id(client, infobip, campaign):
    message = sent_message(campaign, infobip, provider_id="a28dd97c-1ffb-4fcf-99f1-0b557ed381da")
    assert post(client, infobip, spec_example()).status_code == 200
    assert Click.objects.get().message_id == message.pk


def test_a_click_records_the_variant_of_its_message(client, infobip, campaign, message):
    variant = campaign.variants.create(label="B", text="Sale B: https://shop.example.com/b")
    Message.objects.filter(pk=message.pk).update(variant=variant)
    assert post(client, infobip, report_for(message)).status_code == 200
    assert Click.objects.get().variant_id == variant.pk


def test_a_results_list_is_read_click_by_click(client, infobip, campaign, message):
    second = sent_message(campaign, infobip, phone="+41793026731")
    unknown = report_for(message, messageId="not-ours-1")
    body = {"results": [report_for(message), report_for(second), unknown]}
    assert post(client, infobip, body).status_code == 200
    assert set(Click.objects.values_list("message_id", flat=True)) == {message.pk, second.pk}
    kept = FailedCallback.objects.get()
    assert kept.error.startswith("Not verified: 1 of 3")
    assert "'not-ours-1'" in kept.error


def test_the_same_report_twice_is_one_click(client, infobip, message):
    report = report_for(message)
    assert post(client, infobip, report).status_code == 200
    assert post(client, infobip, report).status_code == 200
    assert Click.objects.count() == 1
    # Another click later is another click.
    assert post(client, infobip, report_for(message, sendDateTime=1704106900000)).status_code == 200
    assert Click.objects.count() == 2


def test_a_report_for_an_unknown_message_is_kept_unverified(client, infobip, message):
    body = json.dumps(report_for(message, messageId="nobody-sent-this")).encode()
    assert post(client, infobip, body).status_code == 200
    assert not Click.objects.exists()
    kept = FailedCallback.objects.get()
    # As it came: the provider's own words, for an Admin to read.
    assert bytes(kept.body) == body
    assert (kept.account_id, kept.event, kept.reports) == (infobip.pk, CLICKS_EVENT, 1)
    assert kept.error.startswith("Not verified")
    assert "'nobody-sent-this'" in kept.error
    assert "no message this account sent has the ID" in kept.error


def test_a_message_of_another_account_is_not_verified(client, infobip, other_infobip, campaign):
    theirs = sent_message(campaign, other_infobip)
    assert post(client, infobip, report_for(theirs)).status_code == 200
    assert not Click.objects.exists()
    assert "no message this account sent" in FailedCallback.objects.get().error


def test_a_message_not_sent_yet_is_not_verified(client, infobip, message):
    Message.objects.filter(pk=message.pk).update(submitted_at=None, status=Status.PENDING)
    assert post(client, infobip, report_for(message)).status_code == 200
    assert not Click.objects.exists()
    assert FailedCallback.objects.count() == 1


def test_a_report_naming_another_number_is_not_verified(client, infobip, message):
    assert post(client, infobip, report_for(message, recipient="4915100000000")).status_code == 200
    assert not Click.objects.exists()
    assert "went to another number than '4915100000000'" in FailedCallback.objects.get().error


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"notificationType": "OPENED"}, "it reports 'OPENED', not a click"),
        ({"messageId": None}, "it names no message"),
    ],
)
def test_what_is_not_a_click_is_never_counted(client, infobip, message, changes, reason):
    assert post(client, infobip, report_for(message, **changes)).status_code == 200
    assert not Click.objects.exists()
    assert reason in FailedCallback.objects.get().error


def test_an_unknown_shape_is_kept_not_invented(client, infobip, message):
    body = b'{"event": "click", "link": "https://shop.example.com"}'
    assert post(client, infobip, body).status_code == 200
    assert not Click.objects.exists()
    kept = FailedCallback.objects.get()
    assert bytes(kept.body) == body
    assert "it names no message (no messageId)" in kept.error


def test_a_click_report_at_the_delivery_report_url_is_read_as_one(client, infobip, message):
    # Infobip's subscriptions may send click reports to the one hook URL.
    assert post(client, infobip, report_for(message), event="").status_code == 200
    assert Click.objects.get().message_id == message.pk
    assert not WebhookInbox.objects.exists()


def test_applying_again_records_a_click_once_its_message_is_known(client, infobip, message):
    report = report_for(message, messageId="later-known")
    assert post(client, infobip, report).status_code == 200
    assert not Click.objects.exists()
    # Still unknown: it stays aside.
    assert services.apply_again(FailedCallback.objects.all()) == 1
    assert not Click.objects.exists()
    assert FailedCallback.objects.count() == 1
    # Now known (its submit answer recorded the provider's ID).
    Message.objects.filter(pk=message.pk).update(provider_message_id="later-known")
    assert services.apply_again(FailedCallback.objects.all()) == 1
    assert Click.objects.get().message_id == message.pk
    assert not FailedCallback.objects.exists()
    assert not WebhookInbox.objects.exists()


# -- refused at the door ------------------------------------------------------------------


def test_a_forged_secret_is_refused_and_changes_nothing(client, infobip, message):
    body = json.dumps(report_for(message))
    response = client.post(
        f"/hooks/not-the-secret/{CLICKS_EVENT}/", data=body, content_type="application/json"
    )
    assert response.status_code == 404
    assert not Click.objects.exists()
    assert not FailedCallback.objects.exists()


def test_a_disabled_account_takes_no_click_reports(client, infobip, message):
    infobip.enabled = False
    infobip.save()
    assert post(client, infobip, report_for(message)).status_code == 404
    assert not Click.objects.exists()


def test_webhook_basic_credentials_hold_for_click_reports(client, infobip, message):
    infobip.options = {**infobip.options, "webhook_username": "ib", "webhook_password": "pw"}
    infobip.save()
    assert post(client, infobip, report_for(message)).status_code == 401
    assert not Click.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"[]",
        b'"CLICKED"',
        b'{"results": {}}',
        b'{"results": ["x"]}',
        b'{"messageId": "1\\u0000"}',
    ],
)
def test_a_malformed_body_is_refused_with_400(client, infobip, message, body):
    response = post(client, infobip, body)
    assert response.status_code == 400
    assert not Click.objects.exists()
    assert not FailedCallback.objects.exists()
    assert not WebhookInbox.objects.exists()


# -- what the composer says -------------------------------------------------------------------


def test_the_composer_says_what_each_account_does_with_clicks(infobip, db):
    legacy = ProviderAccount.objects.create(
        name="Infobip legacy", kind="infobip", options={"click_tracking_style": "tracking"}
    )
    ProviderAccount.objects.create(name="Skycore", kind="sendsms", base_url="https://a.example")
    ProviderAccount.objects.create(name="Sandbox", kind="sandbox")
    text = CampaignForm().fields["click_tracking"].help_text
    assert "Infobip: reports each click back; they count on the campaign page." in text
    assert f"{legacy}: clicks are counted at the provider and not reported back" in text
    assert "Skycore: clicks are counted at the provider and not reported back" in text
    assert "Sandbox: does not shorten links itself" in text


def test_the_composer_page_shows_it_where_the_option_is(manager_client, db):
    ProviderAccount.objects.create(name="Skycore", kind="sendsms", base_url="https://a.example")
    page = manager_client.get("/campaigns/new/").content.decode()
    options = page[page.index("Provider options") :]
    assert "Skycore: clicks are counted at the provider and not reported back" in options


def test_capabilities_declare_the_providers_click_tracking():
    url_options = InfobipBackend(options={"click_tracking_style": "url_options"})
    assert url_options.capabilities.click_reports
    assert not InfobipBackend(options={}).capabilities.click_reports
    assert InfobipBackend.capabilities.click_tracking
    from providers.backends.sendsms import SendsmsBackend

    caps = SendsmsBackend.capabilities
    assert caps.click_tracking and not caps.click_reports
