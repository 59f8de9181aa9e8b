"""Who may read the API, and with what: token owner, analyst, manager,
anonymous, outsider, revoked token; the rate limit; errors in JSON."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from smsportal import tokens
from smsportal.models import APIToken
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

URL = "/api/v1/campaigns/"


def bearer(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_it_answers_a_token_with_its_owners_view(api, sent):
    response = api.get(URL)
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["results"]] == ["Spring sale"]


def test_it_records_when_a_token_was_last_used(api, analyst_token):
    assert APIToken.objects.get().last_used_at is None
    api.get(URL)
    assert APIToken.objects.get().last_used_at is not None


def test_it_refuses_anonymous_requests_with_a_json_401():
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert "WWW-Authenticate" in response
    assert response.json()["message"]


def test_it_refuses_a_revoked_token(analyst, analyst_token):
    token = APIToken.objects.get()
    tokens.token_revoke(token=token, user=analyst)
    response = bearer(analyst_token).get(URL)
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_it_refuses_a_made_up_token(db):
    response = bearer("smsp_notarealtokenatall").get(URL)
    assert response.status_code == 401


def test_it_refuses_the_token_of_a_deactivated_user(analyst, analyst_token):
    analyst.is_active = False
    analyst.save()
    assert bearer(analyst_token).get(URL).status_code == 401


def test_it_refuses_a_token_whose_owner_lost_their_role(analyst, analyst_token):
    analyst.groups.clear()
    response = bearer(analyst_token).get(URL)
    assert response.status_code == 403
    assert "no role" in response.json()["message"]


def test_a_manager_reads_through_a_session(manager, sent):
    client = APIClient()
    client.force_login(manager)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == sent.pk


def test_an_admin_reads_with_a_token(admin_user, sent):
    raw = tokens.token_create(user=admin_user, name="BI")[1]
    assert bearer(raw).get(URL).status_code == 200


def test_a_manager_cannot_create_a_token(manager):
    with pytest.raises(tokens.PermissionDenied):
        tokens.token_create(user=manager, name="Mine")
    assert not APIToken.objects.exists()


def test_an_outsider_cannot_create_a_token(outsider):
    with pytest.raises(tokens.PermissionDenied):
        tokens.token_create(user=outsider, name="Mine")


def test_it_stores_only_a_hash_of_the_token(analyst):
    token, raw = tokens.token_create(user=analyst, name="Sheets")
    stored = APIToken.objects.get(pk=token.pk)
    assert raw not in {stored.key_hash, stored.prefix, stored.name}
    assert stored.key_hash == tokens.hash_token(raw)
    assert raw.startswith(stored.prefix)


def test_it_refuses_a_second_active_token_with_the_same_name(analyst):
    tokens.token_create(user=analyst, name="Sheets")
    with pytest.raises(tokens.ValidationError):
        tokens.token_create(user=analyst, name="sheets")


def test_only_the_owner_or_an_admin_revokes_a_token(analyst, admin_user):
    token, _ = tokens.token_create(user=analyst, name="Sheets")
    other = make_user("ana2", "Analyst")
    with pytest.raises(tokens.PermissionDenied):
        tokens.token_revoke(token=token, user=other)
    tokens.token_revoke(token=token, user=admin_user)
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == admin_user


def test_it_rate_limits_each_token_with_a_clear_429(settings, analyst, admin_user):
    settings.API_RATE_LIMIT = "2/minute"
    first = bearer(tokens.token_create(user=analyst, name="A")[1])
    assert first.get(URL).status_code == 200
    assert first.get(URL).status_code == 200
    response = first.get(URL)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "2/minute per token" in response.json()["message"]
    # Another token has its own allowance.
    other = bearer(tokens.token_create(user=admin_user, name="B")[1])
    assert other.get(URL).status_code == 200


def test_it_answers_unknown_api_addresses_in_json(api):
    response = api.get("/api/v1/nowhere/")
    assert response.status_code == 404
    assert "/api/v1/nowhere/" in response.json()["message"]


def test_it_offers_no_write_methods(api, sent):
    response = api.post(URL, {"name": "x"}, format="json")
    assert response.status_code == 405
    assert response.json()["message"]
    response = api.delete(f"{URL}{sent.pk}/")
    assert response.status_code == 405


def test_an_unknown_format_is_a_406_naming_the_formats(api, sent):
    response = api.get(f"{URL}{sent.pk}/?format=xml")
    assert response.status_code == 406
    assert "json" in response.json()["message"]


def test_a_session_user_without_a_role_is_refused(outsider):
    client = APIClient()
    client.force_login(outsider)
    assert client.get(URL).status_code == 403


def test_the_schema_needs_a_token_too(api):
    assert APIClient().get(reverse("api:schema")).status_code == 401
    response = api.get(reverse("api:schema") + "?format=json")
    assert response.status_code == 200
    assert "/api/v1/messages/" in response.json()["paths"]


def test_last_used_is_written_at_most_once_a_minute(api, analyst_token):
    api.get(URL)
    earlier = timezone.now() - dt.timedelta(seconds=10)
    APIToken.objects.update(last_used_at=earlier)
    api.get(URL)
    assert APIToken.objects.get().last_used_at == earlier
