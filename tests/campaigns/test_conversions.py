"""Conversions: attributed to a message by its short link's code, with a
value and currency checked, once per caller's reference; reported to
Infobip (``POST /ct/1/log/end/{messageId}``) where the account tracks
conversions, with what Infobip answered kept as it said it; and the pixel
a landing page loads."""

from decimal import Decimal

import pytest
import responses
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from campaigns import conversions, links
from campaigns import services as campaign_services
from campaigns.models import Campaign, Conversion, Message, ShortLink, Variant
from campaigns.pixel import GIF
from providers.models import ProviderAccount
from providers.status import Status
from tests.conftest import make_user
from tests.providers.test_infobip import load

pytestmark = pytest.mark.django_db

BASE = "https://xyz.api.infobip.com"


def link_for(message, url="https://shop.example.com/sale", code=None) -> ShortLink:
    return ShortLink.objects.create(
        code=code or links.new_codes(1)[0],
        message=message,
        campaign_id=message.campaign_id,
        url=url,
    )


def message_in(campaign, phone="+4915112345601", **fields) -> Message:
    fields.setdefault("account", campaign.account)
    fields.setdefault("status", Status.DELIVERED)
    return Message.objects.create(
        campaign=campaign, phone=phone, country="DE", submitted_at=campaign.created_at, **fields
    )


@pytest.fixture
def launched(draft, manager, django_capture_on_commit_callbacks):
    """The draft with a URL in its text, launched through the sandbox: every
    recipient's message has a short link of its own."""
    draft.text = "Hi {{ first_name|default:'there' }}, 20% off: https://shop.example.com/sale"
    draft.save()
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()
    return draft


def code_of(campaign, phone) -> str:
    return ShortLink.objects.get(message__campaign=campaign, message__phone=phone).code


# -- the service ---------------------------------------------------------------------------


def test_a_conversion_is_attributed_to_the_message_of_the_code(launched):
    message = launched.messages.get(phone="+4915112345601")
    code = code_of(launched, message.phone)
    assert code in message.text  # the code the recipient got

    conversion, created = conversions.record_conversion(
        code=code, value="49.9", external_id="ORDER-1", source="api"
    )

    assert created
    conversion.refresh_from_db()
    assert conversion.message_id == message.pk
    assert conversion.campaign_id == launched.pk
    assert conversion.link.code == code
    assert conversion.value == Decimal("49.90000")
    # The account's currency when none is given.
    assert conversion.currency == launched.account.currency == "EUR"
    assert conversion.source == Conversion.Source.API
    # The sandbox logs no conversions: nothing is reported anywhere.
    assert conversion.provider_answer == {}


def test_the_same_reference_twice_is_one_conversion(launched):
    code = code_of(launched, "+4915112345601")
    first, created = conversions.record_conversion(
        code=code, value=10, external_id="ORDER-1", source="api"
    )
    again, created_again = conversions.record_conversion(
        code=code, value=99, external_id=" ORDER-1 ", source="pixel"
    )
    assert created and not created_again
    assert again.pk == first.pk and again.value == Decimal(10)
    # Another reference, or none, is another conversion.
    conversions.record_conversion(code=code, value=5, external_id="ORDER-2", source="api")
    conversions.record_conversion(code=code, source="api")
    conversions.record_conversion(code=code, source="api")
    assert Conversion.objects.count() == 4
    # The same reference for another recipient's link is theirs.
    other = code_of(launched, "+4915112345602")
    _, created_other = conversions.record_conversion(
        code=other, external_id="ORDER-1", source="api"
    )
    assert created_other


def test_a_conversion_of_a_variant_is_the_variants(draft, sandbox):
    variant = Variant.objects.create(campaign=draft, label="B", text="B https://x.example.com")
    message = message_in(draft, variant=variant)
    conversion, _ = conversions.record_conversion(code=link_for(message).code, source="api")
    assert conversion.variant_id == variant.pk


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (None, None),
        ("", None),
        (0, Decimal("0")),
        ("19.99", Decimal("19.99")),
        (19.99, Decimal("19.99")),
        ("0.123456", Decimal("0.12346")),
        ("999999999999.99999", Decimal("999999999999.99999")),
        (-0.0, Decimal("0")),
    ],
)
def test_values_are_kept_as_numbers_of_up_to_12_digits(launched, value, stored):
    code = code_of(launched, "+4915112345601")
    conversion, _ = conversions.record_conversion(code=code, value=value, source="api")
    conversion.refresh_from_db()
    assert conversion.value == stored


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "cannot be negative"),
        ("1000000000000", "at most 12 digits"),
        ("999999999999.999999", "at most 12 digits"),
        ("twelve", "as a number"),
        ("NaN", "as a number"),
        ("Infinity", "as a number"),
        (True, "as a number"),
    ],
)
def test_a_bad_value_is_refused_and_nothing_is_recorded(launched, value, message):
    code = code_of(launched, "+4915112345601")
    with pytest.raises(ValidationError) as error:
        conversions.record_conversion(code=code, value=value, source="api")
    assert message in error.value.message_dict["value"][0]
    assert not Conversion.objects.exists()


def test_the_currency_is_an_iso_4217_code(launched):
    code = code_of(launched, "+4915112345601")
    conversion, _ = conversions.record_conversion(
        code=code, value=1, currency=" usd ", source="api"
    )
    assert conversion.currency == "USD"
    for bad in ("EURO", "XYZ", "E1R", "€"):
        with pytest.raises(ValidationError) as error:
            conversions.record_conversion(code=code, value=1, currency=bad, source="api")
        assert "ISO 4217" in error.value.message_dict["currency"][0]
    assert Conversion.objects.count() == 1


def test_a_reference_is_one_line_of_up_to_100_characters(launched):
    code = code_of(launched, "+4915112345601")
    for bad in ("x" * 101, "ORDER\n1", "a\x00b", "a\ud800b"):
        with pytest.raises(ValidationError) as error:
            conversions.record_conversion(code=code, external_id=bad, source="api")
        assert "external_id" in error.value.message_dict
    assert not Conversion.objects.exists()


def test_an_unknown_code_records_nothing(launched):
    for code in ("ZZZZZZZZ", "", None, "../etc", "a" * 40):
        with pytest.raises(conversions.UnknownCode):
            conversions.record_conversion(code=code, value=1, source="api")
    assert not Conversion.objects.exists()


# -- reported to Infobip -------------------------------------------------------------------


@pytest.fixture
def infobip(db):
    account = ProviderAccount.objects.create(
        name="Infobip", kind="infobip", base_url=BASE, options={"conversion_tracking": "true"}
    )
    account.credentials = {"api_key": "test-key"}
    account.save()
    return account


@pytest.fixture
def infobip_message(infobip, sender):
    campaign = Campaign.objects.create(
        name="Autumn",
        text="Sale: https://shop.example.com/autumn",
        sender=sender,
        account=infobip,
        state=Campaign.State.COMPLETED,
    )
    return message_in(campaign, provider_message_id="MESSAGE-ID-123-xyz")


def record(message, django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        conversion, _ = conversions.record_conversion(
            code=link_for(message).code, source="api", **kwargs
        )
    conversion.refresh_from_db()
    return conversion


@responses.activate
def test_an_infobip_message_s_conversion_is_logged_at_infobip(
    infobip_message, django_capture_on_commit_callbacks
):
    url = f"{BASE}/ct/1/log/end/MESSAGE-ID-123-xyz"
    responses.post(url, json=load("conversion_response.json"))

    conversion = record(infobip_message, django_capture_on_commit_callbacks, value="12.5")

    (call,) = responses.calls
    assert call.request.url == url
    assert call.request.headers["Authorization"] == "App test-key"
    answer = conversion.provider_answer
    assert answer["state"] == "logged"
    assert answer["message_id"] == "MESSAGE-ID-123-xyz"
    assert answer["answer"] == {"processKey": "A37D448C1ACCA02FABA745522558326C"}
    assert conversions.provider_state(conversion) == ("logged", "logged at the provider")


@responses.activate
def test_infobip_s_404_is_kept_as_it_said_it_never_as_success(
    infobip_message, django_capture_on_commit_callbacks
):
    responses.post(
        f"{BASE}/ct/1/log/end/MESSAGE-ID-123-xyz", json=load("error_not_found.json"), status=404
    )

    conversion = record(infobip_message, django_capture_on_commit_callbacks, value=3)

    answer = conversion.provider_answer
    assert answer["state"] == "failed"
    assert answer["code"] == "NOT_FOUND"
    assert "does not know message MESSAGE-ID-123-xyz" in answer["error"]
    assert "NOT_FOUND" in answer["answer"]
    state, words = conversions.provider_state(conversion)
    assert state == "failed" and words.startswith("refused by the provider: ")
    # The conversion itself is kept, with its value.
    assert conversion.value == Decimal(3)
    assert len(responses.calls) == 1


@responses.activate
def test_a_provider_that_does_not_answer_is_tried_again_then_marked_failed(
    infobip_message, django_capture_on_commit_callbacks
):
    responses.post(f"{BASE}/ct/1/log/end/MESSAGE-ID-123-xyz", status=503, body="down")

    conversion = record(infobip_message, django_capture_on_commit_callbacks)

    # Tasks run at once in the tests: every try is made.
    assert len(responses.calls) == conversions.PROVIDER_TRIES
    answer = conversion.provider_answer
    assert answer["state"] == "failed"
    assert answer["attempt"] == conversions.PROVIDER_TRIES
    assert answer["code"] == "503"


@responses.activate
def test_a_transient_failure_then_success_ends_logged(
    infobip_message, django_capture_on_commit_callbacks
):
    url = f"{BASE}/ct/1/log/end/MESSAGE-ID-123-xyz"
    responses.post(url, status=503, body="down")
    responses.post(url, json=load("conversion_response.json"))

    conversion = record(infobip_message, django_capture_on_commit_callbacks)

    assert len(responses.calls) == 2
    assert conversion.provider_answer["state"] == "logged"
    assert conversion.provider_answer["attempt"] == 2


@responses.activate
def test_nothing_is_reported_where_the_account_does_not_track_conversions(
    infobip, infobip_message, django_capture_on_commit_callbacks
):
    infobip.options = {"conversion_tracking": "false"}
    infobip.save()
    conversion = record(infobip_message, django_capture_on_commit_callbacks)
    assert len(responses.calls) == 0
    assert conversion.provider_answer == {}

    # The provider's click tracking tracks conversions too.
    Campaign.objects.filter(pk=infobip_message.campaign_id).update(click_tracking=True)
    responses.post(f"{BASE}/ct/1/log/end/MESSAGE-ID-123-xyz", json=load("conversion_response.json"))
    conversion = record(infobip_message, django_capture_on_commit_callbacks)
    assert conversion.provider_answer["state"] == "logged"


@responses.activate
def test_a_message_without_the_providers_id_is_not_reported(
    infobip_message, django_capture_on_commit_callbacks
):
    Message.objects.filter(pk=infobip_message.pk).update(provider_message_id="")
    infobip_message.refresh_from_db()
    conversion = record(infobip_message, django_capture_on_commit_callbacks)
    assert len(responses.calls) == 0
    assert conversion.provider_answer == {}


# -- the pixel -----------------------------------------------------------------------------


def pixel(client, code, **query):
    return client.get(f"/c/{code}.gif", query)


def test_the_pixel_records_a_conversion_and_answers_a_transparent_gif(launched):
    code = code_of(launched, "+4915112345601")
    response = pixel(Client(), code, value="49.90", currency="EUR", ref="ORDER-1001")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert "no-store" in response["Cache-Control"]
    assert response.content == GIF and response.content.startswith(b"GIF89a")
    conversion = Conversion.objects.get()
    assert conversion.source == Conversion.Source.PIXEL
    assert conversion.value == Decimal("49.90")
    assert conversion.external_id == "ORDER-1001"
    assert conversion.message.phone == "+4915112345601"

    # Reloading the thank-you page records nothing more.
    pixel(Client(), code, value="49.90", currency="EUR", ref="ORDER-1001")
    assert Conversion.objects.count() == 1


def test_the_pixel_tells_nothing_about_unknown_codes_or_bad_values(launched):
    client = Client()
    known = pixel(client, code_of(launched, "+4915112345601"), value="-3")
    unknown = pixel(client, "ZZZZZZZZ", value="5")
    odd = pixel(client, "not a code", value="5")
    for response in (known, unknown, odd):
        assert response.status_code == 200
        assert response.content == GIF
        assert response["Content-Type"] == "image/gif"
    assert sorted(known.headers) == sorted(unknown.headers)
    assert not Conversion.objects.exists()


def test_the_pixel_needs_no_sign_in_and_works_for_anyone(launched, outsider, manager):
    code = code_of(launched, "+4915112345602")
    assert pixel(Client(enforce_csrf_checks=True), code).status_code == 200
    for user in (outsider, manager, make_user("pat", "Analyst")):
        client = Client()
        client.force_login(user)
        assert pixel(client, code).status_code == 200
    assert Conversion.objects.filter(source="pixel").count() == 4
    # A HEAD request (a crawler checking the image) records nothing.
    assert Client().head(f"/c/{code}.gif").status_code == 200
    assert Conversion.objects.count() == 4
    assert Client().post(f"/c/{code}.gif").status_code in (403, 405)
    assert Conversion.objects.count() == 4


@responses.activate
def test_the_campaign_page_says_how_many_the_provider_refused(
    infobip_message, manager_client, django_capture_on_commit_callbacks
):
    responses.post(
        f"{BASE}/ct/1/log/end/MESSAGE-ID-123-xyz", json=load("error_not_found.json"), status=404
    )
    record(infobip_message, django_capture_on_commit_callbacks, value=3)
    campaign = infobip_message.campaign
    Campaign.objects.filter(pk=campaign.pk).update(launched_at=campaign.created_at)

    page = manager_client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    note = page.split('id="conversions-refused"')[1].split("</p>")[0]
    assert "1 conversion could not be logged at Infobip" in note

    message = manager_client.get(
        reverse("campaigns:message", args=[infobip_message.pk])
    ).content.decode()
    cell = message.split('data-provider-state="failed"')[1].split("</td>")[0]
    assert "refused by the provider" in cell and "does not know message" in cell
