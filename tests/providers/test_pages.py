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


def test_help_texts_show_angle_brackets_as_written(admin_client):
    infobip = admin_client.get(reverse("providers:create") + "?kind=infobip").content.decode()
    assert "Sent as “Authorization: App &lt;key&gt;”." in infobip


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


# -- options are choices, credentials follow the authentication type ------------------


def test_infobip_options_are_choices_from_the_backends_own_lists(admin_client):
    from providers.backends.infobip.auth import AUTH_TYPES
    from providers.backends.infobip.backend import NOTIFY_CONTENT_TYPES

    page = admin_client.get(reverse("providers:create") + "?kind=infobip").content.decode()

    assert '<select name="opt_auth_type"' in page
    assert '<select name="opt_notify_content_type"' in page
    for value in (*AUTH_TYPES, *NOTIFY_CONTENT_TYPES):
        assert f'<option value="{value}"' in page
    assert AUTH_TYPES == ("app_key", "basic", "bearer", "ibsso", "oauth2")
    assert NOTIFY_CONTENT_TYPES == ("application/json", "application/xml")
    # The authentication type comes before the credentials it shows.
    assert page.index('name="opt_auth_type"') < page.index('name="cred_api_key"')


@pytest.mark.parametrize(
    ("field", "value"),
    [("opt_auth_type", "api_key"), ("opt_notify_content_type", "XML"), ("opt_auth_type", "App")],
)
def test_a_value_the_backend_would_refuse_is_refused_by_the_form(admin_client, field, value):
    response = admin_client.post(
        reverse("providers:create") + "?kind=infobip", account_data(**{field: value})
    )

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not ProviderAccount.objects.exists()


def test_each_credential_field_says_which_authentication_it_belongs_to(admin_client):
    page = admin_client.get(reverse("providers:create") + "?kind=infobip").content.decode()

    expected = {
        "cred_api_key": "app_key",
        "cred_username": "basic",
        "cred_password": "basic",
        "cred_token": "bearer ibsso",
        "cred_client_id": "oauth2",
        "cred_client_secret": "oauth2",
    }
    for name, values in expected.items():
        tag = page[page.rindex("<input", 0, page.index(f'name="{name}"')) :]
        tag = tag[: tag.index(">")]
        assert 'data-only-when="opt_auth_type"' in tag
        assert f'data-only-when-values="{values}"' in tag
    # The script that shows only the chosen type's fields is ours, loaded
    # from static (the CSP allows no inline script).
    assert '<script src="/static/js/provider-account.js" defer></script>' in page


def test_the_chosen_authentication_needs_its_own_credentials(admin_client):
    data = account_data(opt_auth_type="basic", cred_api_key="", cred_username="")

    response = admin_client.post(reverse("providers:create") + "?kind=infobip", data)

    page = response.content.decode()
    assert response.status_code == 400
    assert page.count("Required for “Basic (username and password)”.") == 2
    assert not ProviderAccount.objects.exists()

    data.update(cred_username="shop-api", cred_password="pa55-word")
    response = admin_client.post(reverse("providers:create") + "?kind=infobip", data)
    assert response.status_code == 302
    account = ProviderAccount.objects.get()
    assert account.options["auth_type"] == "basic"
    assert account.credentials == {"username": "shop-api", "password": "pa55-word"}
    assert account.backend().headers()["Authorization"].startswith("Basic ")


def test_what_was_typed_is_kept_when_the_form_comes_back_with_an_error(admin_client):
    data = account_data(
        opt_auth_type="oauth2",
        cred_api_key="",
        cred_client_id="client-7",
        cred_client_secret="s3cret-typed-now",
        opt_notify_content_type="application/xml",
        throughput="",
    )

    response = admin_client.post(reverse("providers:create") + "?kind=infobip", data)

    page = response.content.decode()
    assert response.status_code == 400
    assert 'value="client-7"' in page
    assert 'value="s3cret-typed-now"' in page
    assert '<option value="oauth2" selected>' in page
    assert '<option value="application/xml" selected>' in page
    assert "DE 0.075" in page


def test_a_stored_secret_is_never_shown_back_even_after_an_error(admin_client):
    admin_client.post(reverse("providers:create") + "?kind=infobip", account_data())
    account = ProviderAccount.objects.get()

    response = admin_client.post(
        reverse("providers:edit", args=[account.pk]), account_data(cred_api_key="", throughput="")
    )

    assert response.status_code == 400
    assert "secret-api-key-123456" not in response.content.decode()


def test_the_readme_provider_table_matches_the_forms():
    from pathlib import Path

    from providers.registry import backend_class

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = {
        line.split("|")[1].strip(): line
        for line in readme.splitlines()
        if line.startswith("| ") and line.count("|") >= 5
    }
    row_of = {
        "infopromo_v3": rows["Infopromo API v3"],
        "infopromo_http": rows["Infopromo HTTP API"],
        "infobip": rows["Infobip"],
        "sendsms": rows["sendsms (x-api-key)"],
        "voipcomms": rows["voip-communications.net"],
    }
    for kind, row in row_of.items():
        backend = backend_class(kind)
        for f in backend.credential_fields:
            assert f"`{f.name}`" in row, (kind, f.name)
        own = backend.option_fields
        if kind == "infopromo_http":  # "as v3, plus http_method"
            own = [f for f in own if f.name == "http_method"]
        for f in own:
            assert f"`{f.name}`" in row, (kind, f.name)
            for value, _ in f.choices:
                assert f"`{value}`" in row, (kind, f.name, value)


def _check(admin_client, account) -> str:
    response = admin_client.post(
        reverse("providers:check", args=[account.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    return response.content.decode()


def test_check_connection_gives_the_providers_status_and_words(admin_client):
    from tests.providers.fakes import serve
    from tests.providers.fakes import voipcomms as voipcomms_fake
    from tests.providers.fakes.engine import make_account
    from tests.providers.fakes.infobip import make_handler

    with serve(make_handler(api_key="right")) as base_url:
        account = make_account("infobip", base_url, credentials={"api_key": "wrong"})
        answer = _check(admin_client, account)
    assert 'class="text-danger"' in answer
    assert "HTTP 401" in answer and "Invalid login details" in answer

    with serve(voipcomms_fake.handler("key", "right")) as base_url:
        account = make_account(
            "voipcomms",
            base_url + voipcomms_fake.PREFIX,
            credentials={"api_key": "key", "api_password": "wrong"},
        )
        answer = _check(admin_client, account)
    assert "refused our credentials (HTTP 401)" in answer
    assert "The provider says: Invalid credentials" in answer


def test_check_connection_says_why_it_could_not_connect(admin_client):
    from tests.providers.fakes import refused_url
    from tests.providers.fakes.engine import make_account

    account = make_account("infobip", refused_url(), credentials={"api_key": "k"})

    answer = _check(admin_client, account)

    assert 'class="text-danger"' in answer
    assert "Could not connect to Infobip." in answer
    assert "Connection refused" in answer


# -- webhook URLs a provider can reach ---------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "is_set", "says"),
    [
        ("http://127.0.0.1:8000", True, "127.0.0.1 is this machine (loopback)"),
        ("http://localhost:9000", True, "localhost is this machine (loopback)"),
        ("http://[::1]:8000", True, "::1 is this machine (loopback)"),
        ("http://0.0.0.0:8000", False, "0.0.0.0 is no address"),
        ("http://192.168.1.20:8000", True, "192.168.1.20 is a private network address"),
        ("http://93.184.216.34:8000", False, "PUBLIC_BASE_URL is not set"),
    ],
)
def test_the_account_page_warns_when_providers_cannot_reach_the_webhook(
    admin_client, sandbox, settings, base_url, is_set, says
):
    settings.PUBLIC_BASE_URL, settings.PUBLIC_BASE_URL_SET = base_url, is_set

    page = admin_client.get(reverse("providers:edit", args=[sandbox.pk])).content.decode()

    assert 'id="webhook-warning"' in page
    assert says in page
    assert f'value="{base_url}/hooks/' in page


def test_no_warning_for_a_public_address_that_was_set(admin_client, sandbox, settings):
    settings.PUBLIC_BASE_URL, settings.PUBLIC_BASE_URL_SET = "https://sms.example.com", True

    page = admin_client.get(reverse("providers:edit", args=[sandbox.pk])).content.decode()

    assert 'id="webhook-warning"' not in page
    assert 'value="https://sms.example.com/hooks/' in page


@pytest.mark.parametrize(
    ("run_addr", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("192.168.1.20:9000", "http://192.168.1.20:9000"),
        ("8001", "http://127.0.0.1:8001"),
        ("", "http://127.0.0.1:8000"),
    ],
)
def test_webhook_urls_default_to_the_address_the_server_listens_on(run_addr, url):
    from smsportal.settings import listening_url

    assert listening_url(run_addr) == url


def test_make_run_builds_webhook_urls_from_its_own_address(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    environment = {k: v for k, v in os.environ.items() if k != "PUBLIC_BASE_URL"}
    environment.update(RUN_ADDR="192.168.1.20:9000", DJANGO_SETTINGS_MODULE="smsportal.settings")
    code = "from django.conf import settings; print(settings.PUBLIC_BASE_URL)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if (root / ".env").exists() and "PUBLIC_BASE_URL" in (root / ".env").read_text():
        pytest.skip("this checkout's .env sets PUBLIC_BASE_URL")
    assert out == "http://192.168.1.20:9000"
