"""The provider account form in a real browser: Infobip's credential fields
follow the chosen authentication type, and what was typed survives an
error."""

import pytest
from playwright.sync_api import expect

from providers.models import ProviderAccount
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_only_the_chosen_authentications_credentials_are_shown(page, shot, admin_user):
    login(page, "alice", PASSWORD)
    page.goto("/providers/new/?kind=infobip")
    expect(page.locator("h1")).to_have_text("New Infobip account")

    # API key by default: its field only.
    expect(page.locator("#id_cred_api_key")).to_be_visible()
    for hidden in ("username", "password", "token", "client_id", "client_secret"):
        expect(page.locator(f"#id_cred_{hidden}")).to_be_hidden()

    page.select_option("#id_opt_auth_type", "basic")
    expect(page.locator("#id_cred_username")).to_be_visible()
    expect(page.locator("#id_cred_password")).to_be_visible()
    expect(page.locator("#id_cred_api_key")).to_be_hidden()

    page.select_option("#id_opt_auth_type", "ibsso")
    expect(page.locator("#id_cred_token")).to_be_visible()
    expect(page.locator("#id_cred_username")).to_be_hidden()

    # Basic, with a password but no username: the error keeps what was typed.
    page.select_option("#id_opt_auth_type", "basic")
    page.fill("#id_name", "Infobip EU")
    page.fill("#id_cred_password", "pa55-word")
    page.select_option("#id_opt_notify_content_type", "application/xml")
    page.click("button:has-text('Save')")
    expect(page.locator("#id_cred_username_error")).to_contain_text("Required for “Basic")
    expect(page.locator("#id_opt_auth_type")).to_have_value("basic")
    expect(page.locator("#id_cred_password")).to_have_value("pa55-word")
    expect(page.locator("#id_opt_notify_content_type")).to_have_value("application/xml")
    expect(page.locator("#id_cred_api_key")).to_be_hidden()
    shot(page, "provider-account-infobip")

    page.fill("#id_cred_username", "shop-api")
    page.click("button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text("Saved provider account “Infobip EU”")
    account = ProviderAccount.objects.get(name="Infobip EU")
    assert account.options["auth_type"] == "basic"
    assert account.options["notify_content_type"] == "application/xml"
    assert account.credentials == {"username": "shop-api", "password": "pa55-word"}


def test_the_composer_checks_the_text_with_infobip(page, manager):
    from campaigns.models import Campaign
    from tests.providers.fakes import serve
    from tests.providers.fakes.engine import make_account, make_list, make_sender
    from tests.providers.fakes.infobip import make_handler

    handler = make_handler(api_key="k")
    with serve(handler) as base_url:
        account = make_account("infobip", base_url, credentials={"api_key": "k"})
        campaign = Campaign.objects.create(
            name="Spring", text="Hello", sender=make_sender("Shop", account), account=account
        )
        campaign.lists.add(make_list("Customers", {"+4915112345601": "Anna"}))
        login(page, "mona", PASSWORD)
        page.goto(f"/campaigns/{campaign.pk}/edit/")
        page.fill("#id_text", "Spring sale: " + "20% off in store and online today. " * 5)
        expect(page.locator("[data-preview=segments]")).to_have_text("2")

        page.click("button:has-text('Check with Infobip')")

        expect(page.locator("#provider-preview")).to_contain_text("Infobip: 2 parts")
        expect(page.locator("#provider-preview")).to_contain_text("smsportal counts 2")
    [call] = [c for c in handler.calls if c["path"] == "/sms/1/preview"]
    assert call["body"]["text"].startswith("Spring sale: 20% off")
