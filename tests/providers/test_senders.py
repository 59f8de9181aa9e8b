"""Sender IDs are checked against the documented rules of every account
they are registered with: when they are created, and in the composer."""

import pytest
from django.urls import reverse

from campaigns import compose
from campaigns.models import Approval, Campaign, SenderID
from tests.providers.fakes.engine import make_account, make_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(db):
    return {
        "infobip": make_account("infobip", "https://api.infobip.com", credentials={"api_key": "k"}),
        "infopromo_v3": make_account(
            "infopromo_v3", "https://sms.infopromo.digital/", credentials={"api_token": "t"}
        ),
        "sendsms": make_account(
            "sendsms",
            "https://sendsms.example/API/v2/index.php",
            credentials={"api_key": "k"},
            options={"from_number": "12025550143"},
        ),
    }


def request_sender(client, value, *accounts):
    return client.post(
        reverse("campaigns:senders"),
        {"value": value, "accounts": [a.pk for a in accounts], "countries_text": "", "note": ""},
    )


# What the issue saw refused at send time, per provider: True when allowed.
RULES = {
    "infobip": {"Shop-24": False, "Shop_24": False, "Shop.de": False, "Shop-Now": False},
    "infopromo_v3": {"Shop-24": False, "Shop_24": False, "Shop.de": False, "Shop-Now": False},
    "sendsms": {"Shop-24": True, "Shop_24": True, "Shop.de": False, "Shop-Now": True},
}


@pytest.mark.parametrize(
    ("kind", "value"), [(kind, value) for kind, rules in RULES.items() for value in rules]
)
def test_a_sender_is_checked_against_its_accounts_when_it_is_requested(
    manager_client, accounts, kind, value
):
    account = accounts[kind]

    response = request_sender(manager_client, value, account)

    allowed = RULES[kind][value]
    assert SenderID.objects.filter(value=value).exists() is allowed
    if allowed:
        assert response.status_code == 302
    else:
        page = response.content.decode()
        assert f"{account}: " in page
        assert "letters" in page or "may use only" in page


def test_every_account_it_is_registered_with_must_allow_it(manager_client, accounts):
    response = request_sender(manager_client, "Shop-Now", accounts["sendsms"], accounts["infobip"])

    page = response.content.decode()
    assert not SenderID.objects.filter(value="Shop-Now").exists()
    assert f"{accounts['infobip']}: An Infobip sender may use only letters" in page
    assert f"{accounts['sendsms']}:" not in page
    assert request_sender(manager_client, "ShopNow", *accounts.values()).status_code == 302


def test_the_form_says_each_providers_rule_and_where_one_allows_more(manager_client):
    page = manager_client.get(reverse("campaigns:senders")).content.decode()

    assert "Infobip: 3 to 11 letters and digits, or a number of 3 to 14 digits." in page
    assert "Infopromo: a phone number with its country code, or up to 11 letters" in page
    assert "the provider cuts a longer mask after 11 characters" in page


def test_the_composer_checks_the_sender_against_the_campaigns_account(accounts):
    # Registered nowhere, so nothing checked it when it was requested.
    sender = SenderID.objects.create(value="Shop-Now", status=Approval.APPROVED)
    campaign = Campaign.objects.create(
        name="Spring", text="20% off today.", sender=sender, account=accounts["infobip"]
    )
    campaign.lists.add(make_list("Customers", {"+4915112345601": "Anna"}))

    errors = compose.check(campaign).errors

    assert "An Infobip sender may use only letters A–Z, a–z and digits 0–9." in errors
    campaign.account = accounts["sendsms"]
    assert compose.check(campaign).errors == []
