"""POST /api/v1/conversions/, the API's one write: a token with the
"record conversions" permission only (never a session), 201 with the
conversion, 200 with the first one for a repeated reference, 404 for an
unknown code, 400 for bad input; and the tokens page that gives the
permission."""

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns import services as campaign_services
from campaigns.models import Conversion, ShortLink
from smsportal import tokens
from smsportal.models import APIToken, AuditLogEntry

from .test_schema import validator

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversions/"


@pytest.fixture
def launched(draft, manager, django_capture_on_commit_callbacks):
    draft.text = "Hi {{ first_name|default:'there' }}: https://shop.example.com/sale"
    draft.save()
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.campaign_launch(campaign=draft, user=manager)
    return draft


@pytest.fixture
def code(launched):
    return ShortLink.objects.get(message__phone="+4915112345601").code


@pytest.fixture
def shop_token(admin_user):
    return tokens.token_create(user=admin_user, name="Shop", can_record_conversions=True)[1]


def bearer(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_token_that_may_records_a_conversion(shop_token, code, launched):
    response = bearer(shop_token).post(
        URL,
        {"code": code, "value": 49.9, "currency": "eur", "external_id": "ORDER-1001"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    conversion = Conversion.objects.get()
    assert body["id"] == conversion.pk
    assert body["code"] == code
    assert body["campaign"] == launched.pk
    assert body["message"] == conversion.message_id
    assert body["value"] == "49.90000"
    assert body["currency"] == "EUR"
    assert body["external_id"] == "ORDER-1001"
    assert body["source"] == "api"
    assert body["provider"] is None  # the sandbox logs no conversions
    assert conversion.message.phone == "+4915112345601"


def test_the_same_reference_again_answers_200_with_the_first(shop_token, code):
    client = bearer(shop_token)
    first = client.post(URL, {"code": code, "value": 10, "external_id": "A-1"}, format="json")
    again = client.post(URL, {"code": code, "value": 99, "external_id": "A-1"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Conversion.objects.get().value == Decimal(10)


def test_the_answers_are_what_the_schema_defines(shop_token, code, api):
    schema = api.get("/api/schema/?format=json").json()
    client = bearer(shop_token)
    created = client.post(URL, {"code": code, "external_id": "A-1"}, format="json")
    again = client.post(URL, {"code": code, "external_id": "A-1"}, format="json")
    unknown = client.post(URL, {"code": "ZZZZZZZZ"}, format="json")
    bad = client.post(URL, {"code": code, "value": -1}, format="json")
    for response, status in ((created, "201"), (again, "200"), (unknown, "404"), (bad, "400")):
        assert str(response.status_code) == status
        check = validator(schema, URL, status, method="post")
        assert list(check.iter_errors(response.json())) == [], status


def test_an_unknown_code_is_a_404(shop_token, launched):
    response = bearer(shop_token).post(URL, {"code": "ZZZZZZZZ", "value": 5}, format="json")
    assert response.status_code == 404
    assert "No short link has the code “ZZZZZZZZ”" in response.json()["message"]
    assert not Conversion.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"value": 5}, "code", "required"),
        ({"code": "ab/cd"}, "code", "letters and digits"),
        ({"value": -1}, "value", "cannot be negative"),
        ({"value": "lots"}, "value", "as a number"),
        ({"value": 10**12}, "value", "at most 12 digits"),
        ({"currency": "EURO"}, "currency", "ISO 4217"),
        ({"currency": "XYZ"}, "currency", "ISO 4217"),
        ({"currency": 978}, "currency", "ISO 4217"),
        ({"external_id": "x" * 101}, "external_id", "100"),
        ({"external_id": "line\nbreak"}, "external_id", "one line"),
        ({"valeu": 5}, "valeu", "Not a field here"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(shop_token, code, body, field, words):
    if field != "code":
        body = {"code": code, **body}
    response = bearer(shop_token).post(URL, body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert words in " ".join(errors[field]), errors
    assert field in response.json()["message"]
    assert not Conversion.objects.exists()


def test_a_reference_with_half_a_utf16_pair_is_a_400(shop_token, code):
    """JSON's \\ud800 on its own reads as half of a pair, which no database
    keeps as text: refused with the field named, nothing recorded."""
    body = '{"code": "' + code + '", "external_id": "ORDER-\\ud800"}'
    response = bearer(shop_token).post(URL, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "Surrogate characters are not allowed" in " ".join(
        response.json()["errors"]["external_id"]
    )
    assert not Conversion.objects.exists()


def test_a_body_that_is_not_json_is_refused(shop_token, code):
    client = bearer(shop_token)
    assert client.post(URL, {"code": code}).status_code == 415  # a form
    response = client.post(URL, "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert not Conversion.objects.exists()


def test_a_token_without_the_permission_is_refused_with_a_403(analyst_token, code):
    response = bearer(analyst_token).post(URL, {"code": code, "value": 5}, format="json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert "may not record conversions" in response.json()["message"]
    assert not Conversion.objects.exists()


def test_a_signed_in_session_cannot_record_conversions(admin_user, code):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(URL, {"code": code, "value": 5}, format="json")
    assert response.status_code == 401
    assert "a signed-in session cannot record them" in response.json()["message"]
    # Without any credentials, the same.
    assert APIClient().post(URL, {"code": code}, format="json").status_code == 401
    assert not Conversion.objects.exists()


def test_a_token_whose_owner_lost_their_role_is_refused(admin_user, shop_token, code):
    admin_user.groups.clear()
    response = bearer(shop_token).post(URL, {"code": code}, format="json")
    assert response.status_code == 403
    assert not Conversion.objects.exists()


def test_a_revoked_token_is_refused(admin_user, shop_token, code):
    tokens.token_revoke(token=APIToken.objects.get(), user=admin_user)
    assert bearer(shop_token).post(URL, {"code": code}, format="json").status_code == 401


def test_conversions_are_written_only(shop_token, code):
    client = bearer(shop_token)
    for method in ("get", "put", "patch", "delete"):
        assert getattr(client, method)(URL).status_code == 405, method


def test_every_other_endpoint_stays_read_only_even_for_that_token(shop_token, launched):
    client = bearer(shop_token)
    schema = client.get("/api/schema/?format=json").json()
    writes = [
        (path, method)
        for path, methods in schema["paths"].items()
        for method in methods
        if method not in ("get", "head", "options")
    ]
    assert writes == [(URL, "post")]
    for path in ("/api/v1/campaigns/", "/api/v1/messages/", "/api/v1/clicks/"):
        for method in ("post", "put", "patch", "delete"):
            assert getattr(client, method)(path, {}, format="json").status_code == 405


# -- the tokens page ----------------------------------------------------------------------

TOKENS = reverse("api_tokens:index")


def test_an_admin_creates_a_token_that_may_record_conversions(client, admin_user):
    client.force_login(admin_user)
    page = client.get(TOKENS).content.decode()
    assert "May record conversions" in page

    response = client.post(TOKENS, {"name": "Shop", "can_record_conversions": "on"})
    page = response.content.decode()
    assert response.status_code == 200
    token = APIToken.objects.get()
    assert token.can_record_conversions
    assert 'id="conversion-example"' in page and "/api/v1/conversions/" in page
    assert f'data-token-may="{token.pk}">read, and record conversions<' in page
    entry = AuditLogEntry.objects.get(action="api_token.create")
    assert entry.details == {"can_record_conversions": True}

    client.post(TOKENS, {"name": "Dashboard"})
    plain = APIToken.objects.get(name="Dashboard")
    assert not plain.can_record_conversions
    assert f'data-token-may="{plain.pk}">read<' in client.get(TOKENS).content.decode()


def test_an_analyst_cannot_give_a_token_the_permission(client, analyst):
    client.force_login(analyst)
    assert "May record conversions" not in client.get(TOKENS).content.decode()
    # Posted all the same, it is not a field for them: the token reads only.
    client.post(TOKENS, {"name": "Sheets", "can_record_conversions": "on"})
    assert not APIToken.objects.get().can_record_conversions
    with pytest.raises(tokens.PermissionDenied):
        tokens.token_create(user=analyst, name="Shop", can_record_conversions=True)


def test_the_docs_page_describes_the_write_and_the_clicks(client, analyst):
    client.force_login(analyst)
    page = client.get(reverse("api:docs")).content.decode()
    assert "/api/v1/conversions/" in page and "/api/v1/clicks/" in page
    assert "Record a conversion" in page
    assert 'data-body="conversions_create"' in page
    assert "one of 180 values" in page
    assert "/c/aB3dE7fG.gif" in page
