"""A reporting user in a real browser: create a token, read the docs page,
pull a month of messages as CSV and the cost report as JSON with it, then
revoke it."""

import csv
import io

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect

from campaigns import services as campaign_services
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_analyst_creates_a_token_and_pulls_reports_with_it(
    page, shot, live_server, analyst, draft, manager, settings
):
    settings.API_RATE_LIMIT = "1000/minute"
    campaign_services.campaign_launch(campaign=draft, user=manager)

    login(page, "andy", PASSWORD)
    page.click("nav >> text=API tokens")
    expect(page.locator("h1")).to_have_text("API tokens")
    page.fill("#id_name", "Finance dashboard")
    page.click("text=Create token")
    token = page.input_value("#new-token")
    assert token.startswith("smsp_")
    expect(page.locator("table")).to_contain_text("Finance dashboard")
    shot(page, "api-tokens")

    page.click("text=Read the API documentation")
    expect(page.locator("h1")).to_have_text("smsportal reporting API")
    expect(page.locator("#messages_list")).to_contain_text("phone_prefix")
    shot(page, "api-docs")

    # What the README's curl examples do.
    auth = {"Authorization": f"Bearer {token}"}
    month = timezone.now().strftime("%Y-%m-01")
    response = requests.get(
        f"{live_server.url}/api/v1/messages/",
        params={"format": "csv", "created_after": month},
        headers=auth,
        timeout=10,
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["phone"] for r in rows) == [
        "'+33612349999",
        "'+4915112340000",
        "'+4915112345601",
        "'+4915112345602",
    ]
    report = requests.get(
        f"{live_server.url}/api/v1/reports/cost/?group_by=account", headers=auth, timeout=10
    ).json()
    assert report["results"][0]["currency"] == "EUR"
    assert report["results"][0]["messages"] == 4

    # The token is never shown again; revoking it locks the tools out.
    page.goto("/api-tokens/")
    expect(page.locator("#new-token")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Revoke')")
    expect(page.locator(".flash-success")).to_contain_text("Revoked “Finance dashboard”")
    response = requests.get(f"{live_server.url}/api/v1/lists/", headers=auth, timeout=10)
    assert response.status_code == 401
