"""The API tokens page and the documentation page."""

import pytest
from django.urls import reverse

from smsportal.models import APIToken, AuditLogEntry
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

TOKENS = reverse("api_tokens:index")


def test_an_analyst_creates_a_token_and_sees_it_once(client, analyst):
    client.force_login(analyst)
    response = client.post(TOKENS, {"name": "Finance dashboard"})
    page = response.content.decode()
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = APIToken.objects.get(user=analyst)
    raw = page.split('id="new-token" class="mono" type="text" value="')[1].split('"')[0]
    assert raw.startswith(token.prefix) and len(raw) > 40
    assert AuditLogEntry.objects.filter(action="api_token.create").exists()
    # Never again: the list shows the prefix only.
    again = client.get(TOKENS).content.decode()
    assert raw not in again
    assert token.prefix in again and "Finance dashboard" in again
    assert client.get("/api/v1/lists/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_a_token_needs_a_name(client, analyst):
    client.force_login(analyst)
    response = client.post(TOKENS, {"name": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not APIToken.objects.exists()


def test_a_duplicate_name_is_refused_on_the_page(client, analyst):
    client.force_login(analyst)
    client.post(TOKENS, {"name": "Sheets"})
    response = client.post(TOKENS, {"name": "Sheets"})
    assert response.status_code == 400
    assert "already have an active token" in response.content.decode()
    assert APIToken.objects.count() == 1


def test_a_manager_sees_the_page_but_cannot_create(client, manager):
    client.force_login(manager)
    page = client.get(TOKENS).content.decode()
    assert "Only Admins and Analysts create API tokens" in page
    assert client.post(TOKENS, {"name": "Mine"}).status_code == 403
    assert not APIToken.objects.exists()


def test_the_nav_links_the_page_for_analysts_and_admins_only(client, analyst, manager):
    client.force_login(analyst)
    assert f'href="{TOKENS}"' in client.get(reverse("home")).content.decode()
    client.force_login(manager)
    assert f'href="{TOKENS}"' not in client.get(reverse("home")).content.decode()


def test_a_user_revokes_their_token(client, analyst):
    client.force_login(analyst)
    client.post(TOKENS, {"name": "Sheets"})
    token = APIToken.objects.get()
    response = client.post(reverse("api_tokens:revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in client.get(TOKENS).content.decode()


def test_nobody_revokes_someone_elses_token_but_an_admin(client, analyst, admin_user):
    client.force_login(analyst)
    client.post(TOKENS, {"name": "Sheets"})
    token = APIToken.objects.get()

    other = make_user("ana2", "Analyst")
    client.force_login(other)
    assert client.post(reverse("api_tokens:revoke", args=[token.pk])).status_code == 404
    client.force_login(admin_user)
    assert "andy" in client.get(TOKENS).content.decode()
    client.post(reverse("api_tokens:revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_by == admin_user


def test_the_tokens_page_needs_a_login(client):
    response = client.get(TOKENS)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_the_docs_page_lists_every_endpoint_and_its_parameters(client, manager):
    client.force_login(manager)
    page = client.get(reverse("api:docs")).content.decode()
    for path in (
        "/api/v1/campaigns/",
        "/api/v1/messages/",
        "/api/v1/contacts/",
        "/api/v1/lists/{id}/contacts/",
        "/api/v1/suppressions/",
        "/api/v1/reports/cost/",
        "/api/v1/reports/delivery/",
    ):
        assert f"<code>{path}</code>" in page
    assert "phone_prefix" in page and "created_after" in page
    assert "`provider_message_id`" in page
    # Served from here: no CDN, no inline script or style.
    assert "cdn" not in page.lower() and "<script>" not in page and "style=" not in page


@pytest.mark.parametrize(
    ("limit", "said"),
    [
        ("600/minute", "600 requests a minute"),
        ("1/second", "1 request a second"),
        ("5000/hour", "5,000 requests an hour"),
        ("20000/day", "20,000 requests a day"),
    ],
)
def test_both_pages_say_the_rate_limit_in_words(client, analyst, settings, limit, said):
    settings.API_RATE_LIMIT = limit
    client.force_login(analyst)
    tokens_page = client.get(TOKENS).content.decode()
    docs_page = client.get(reverse("api:docs")).content.decode()
    assert f"Limit per token: {said} (a whole CSV export counts as one)." in tokens_page
    assert f"<dd>{said} per token.</dd>" in docs_page
