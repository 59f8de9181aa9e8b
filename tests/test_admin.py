"""The Django admin for Administrators: segments, imports and API tokens are
there (read only where an edit would break what they record), a launched
campaign is read only as on the pages, "rate card entries" is spelled
right, and a provider's options are fields, not raw JSON."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from contacts.models import ContactImport, Segment
from providers.models import ProviderAccount
from smsportal import tokens
from smsportal.models import APIToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    return client


def change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def test_segments_imports_and_tokens_are_in_the_admin(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    for name in ("Segments", "Contact imports", "API tokens"):
        assert f">{name}<" in page, name


def test_a_segments_conditions_are_shown_in_words_not_edited_as_json(admin_client, customers):
    segment = Segment.objects.create(
        name="Germans", conditions=[{"field": "country", "op": "in", "value": "DE"}]
    )
    page = admin_client.get(change_url(segment)).content.decode()
    assert "Country is one of DE" in page
    assert 'name="conditions"' not in page
    response = admin_client.post(
        change_url(segment), {"name": "Deutsche", "description": "", "match": "any"}
    )
    assert response.status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.match) == ("Deutsche", "any")
    assert segment.conditions == [{"field": "country", "op": "in", "value": "DE"}]


def test_an_import_is_read_only(admin_client, customers, admin_user):
    job = ContactImport.objects.create(
        contact_list=customers, original_name="people.csv", stored_name="x", file_format="csv"
    )
    page = admin_client.get(change_url(job)).content.decode()
    assert "people.csv" in page and 'name="_save"' not in page
    assert admin_client.post(change_url(job), {"original_name": "x"}).status_code == 403
    assert reverse("admin:contacts_contactimport_add") not in page


def test_a_token_is_read_and_revoked_never_edited(admin_client, admin_user):
    token, raw = tokens.token_create(user=admin_user, name="Finance")
    page = admin_client.get(change_url(token)).content.decode()
    assert "Finance" in page and 'name="_save"' not in page and raw not in page
    admin_client.post(
        reverse("admin:smsportal_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert APIToken.objects.get(pk=token.pk).revoked_at is not None


def test_a_launched_campaign_is_read_only_as_on_the_pages(admin_client, draft, manager):
    page = admin_client.get(change_url(draft)).content.decode()
    assert 'name="_save"' in page
    Campaign.objects.filter(pk=draft.pk).update(state=Campaign.State.COMPLETED)
    page = admin_client.get(change_url(draft)).content.decode()
    assert 'name="_save"' not in page and "Spring sale" in page
    assert admin_client.post(change_url(draft), {"name": "Changed"}).status_code == 403
    delete = reverse("admin:campaigns_campaign_delete", args=[draft.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Campaign.objects.get(pk=draft.pk).name == "Spring sale"
    changelist = admin_client.get(reverse("admin:campaigns_campaign_changelist"))
    assert 'value="delete_selected"' not in changelist.content.decode()


def test_rate_card_entries_are_spelled_right(admin_client, sandbox):
    page = admin_client.get(change_url(sandbox)).content.decode()
    assert "Rate card entries" in page and "entrys" not in page


def test_a_providers_options_are_fields_not_json(admin_client):
    account = ProviderAccount.objects.create(name="Bulk", kind="sendsms", options={})
    account.credentials = {"api_key": "k-1234567890abcd"}
    account.save()
    page = admin_client.get(change_url(account)).content.decode()
    assert 'name="opt_from_number"' in page and 'name="opt_enforce_campaign_check"' in page
    assert 'name="options"' not in page and "null" not in page.split('id="content-main"')[1]
    assert "k-1234567890abcd" not in page and "Stored (" in page
    data = {
        "name": "Bulk",
        "base_url": "",
        "throughput": 10,
        "currency": "EUR",
        "default_price": "0",
        "webhook_secret": account.webhook_secret,
        "enabled": "on",
        "opt_from_number": "12345",
        "opt_enforce_campaign_check": "true",
        "cred_api_key": "",
        "reply_stop": "",
        "reply_start": "",
        "reply_help": "",
        "rates-TOTAL_FORMS": "0",
        "rates-INITIAL_FORMS": "0",
    }
    response = admin_client.post(change_url(account), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    account.refresh_from_db()
    assert account.options["from_number"] == "12345"
    assert account.options["enforce_campaign_check"] == "true"
    # An empty secret keeps the stored one.
    assert account.credentials == {"api_key": "k-1234567890abcd"}
