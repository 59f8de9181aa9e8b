"""Provider account pages: only the chosen backend's fields, secrets never
shown back, the rate card typed or uploaded, and Admin only."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def account_data(**extra):
    data = {
        "kind": "infobip",
        "name": "Infobip EU",
        "base_url": "",
        "throughput": "20",
        "currency": "EUR",
        "default_price": "0.05",
        "enabled": "on",
        "rate_card": "DE 0.075\nFR 0.068",
        "cred_api_key": "secret-api-key-123456",
    }
    data.update(extra)
    return data


def test_it_shows_only_the_chosen_backends_fields(admin_client):
    infobip = admin_client.get(reverse("providers:create") + "?kind=infobip").content.decode()
    sendsms = admin_client.get(reverse("providers:create") + "?kind=sendsms").content.decode()

    assert 'name="cred_api_key"' in infobip
    assert 'name="opt_from_number"' not in infobip
    assert 'name="opt_from_number"' in sendsms
    assert "New Infobip account" in infobip


def test_it_stores_credentials_encrypted_and_never_shows_them(admin_client):
    response = admin_client.post(reverse("providers:create") + "?kind=infobip", account_data())
    account = ProviderAccount.objects.get(name="Infobip EU")
    assert response.status_code == 302
    assert account.credentials == {"api_key": "secret-api-key-123456"}
    assert "secret-api-key" not in account.credentials_encrypted

    page = admin_client.get(reverse("providers:edit", args=[account.pk])).content.decode()
    assert "secret-api-key-123456" not in page
    assert "••••••••3456" in page
    assert "Stored (••••••••3456); leave empty to keep it." in page

    # Saving without retyping the secret keeps it.
    admin_client.post(reverse("providers:edit", args=[account.pk]), account_data(cred_api_key=""))
    account.refresh_from_db()
    assert account.credentials == {"api_key": "secret-api-key-123456"}


def test_it_replaces_the_rate_card_from_a_csv_file(admin_client, sandbox):
    upload = SimpleUploadedFile(
        "rates.csv", b"country;price\nGB;0.04\nUS;0.01\n", content_type="text/csv"
    )
    data = account_data(kind="sandbox", name="Sandbox", cred_api_key="", rate_card_file=upload)
    response = admin_client.post(reverse("providers:edit", args=[sandbox.pk]), data)

    assert response.status_code == 302
    assert dict(sandbox.rates.values_list("country", "price")) == {
        "GB": Decimal("0.04"),
        "US": Decimal("0.01"),
    }


def test_a_bad_rate_card_row_is_named_and_nothing_is_lost(admin_client, sandbox):
    upload = SimpleUploadedFile("rates.csv", b"country,price\nGB,0.04\nXX,0.01\n")
    data = account_data(kind="sandbox", name="Sandbox", cred_api_key="", rate_card_file=upload)
    response = admin_client.post(reverse("providers:edit", args=[sandbox.pk]), data)
    page = response.content.decode()

    assert response.status_code == 400
    assert "Row 3: XX is not a country code." in page
    assert sorted(sandbox.rates.values_list("country", flat=True)) == ["DE", "FR"]


def test_a_bad_typed_rate_is_explained(admin_client, sandbox):
    data = account_data(kind="sandbox", name="Sandbox", cred_api_key="", rate_card="DE cheap")
    page = admin_client.post(reverse("providers:edit", args=[sandbox.pk]), data).content.decode()
    assert 'id="id_rate_card_error"' in page
    assert "Line 1: cheap is not a price." in page


def test_check_connection_answers_in_place(admin_client, sandbox):
    response = admin_client.post(
        reverse("providers:check", args=[sandbox.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert 'class="text-success"' in response.content.decode()


def test_a_manager_sees_accounts_but_cannot_edit_them(client, manager, sandbox):
    client.force_login(manager)
    page = client.get(reverse("providers:accounts")).content.decode()
    assert "Sandbox" in page
    assert reverse("providers:edit", args=[sandbox.pk]) not in page
    assert client.get(reverse("providers:edit", args=[sandbox.pk])).status_code == 403
    assert client.post(reverse("providers:edit", args=[sandbox.pk]), {}).status_code == 403


def test_the_account_list_costs_the_same_queries_for_one_account_or_many(admin_client, sandbox):
    def count():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse("providers:accounts")).status_code == 200
        return len(captured)

    one = count()
    for n in range(10):
        ProviderAccount.objects.create(name=f"A{n}", kind="sandbox", fallback=sandbox)
    assert count() == one
