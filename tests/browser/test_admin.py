"""The Django admin in a real browser: segments shown in words, a launched
campaign read only, a provider's options as fields. Screenshots of each."""

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign
from contacts.models import Segment
from providers.models import ProviderAccount
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def superuser(admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    return admin_user


def test_an_administrator_works_in_the_django_admin(page, shot, superuser, draft, sandbox):
    Segment.objects.create(
        name="Germans",
        conditions=[
            {"field": "country", "op": "in", "value": "DE"},
            {"field": "consent", "op": "is", "value": "opted_in"},
        ],
    )
    Campaign.objects.filter(pk=draft.pk).update(state=Campaign.State.COMPLETED)
    account = ProviderAccount.objects.create(name="Bulk", kind="sendsms")
    account.credentials = {"api_key": "k-1234567890abcd"}
    account.save()
    login(page, "alice", PASSWORD)
    page.click("nav >> text=Admin")
    for name in ("Segments", "Contact imports", "API tokens"):
        expect(page.locator("#content-main")).to_contain_text(name)
    shot(page, "admin-index")

    page.click("#content-main >> text=Segments")
    page.click("text=Germans")
    expect(page.locator(".field-conditions_in_words")).to_contain_text("Country is one of DE")
    expect(page.locator(".field-conditions_in_words")).to_contain_text("Consent is opted in")
    shot(page, "admin-segment")

    page.goto(f"/admin/campaigns/campaign/{draft.pk}/change/")
    expect(page.locator("h1")).to_contain_text("View campaign")
    expect(page.locator("input[name=_save]")).to_have_count(0)
    shot(page, "admin-campaign-completed")

    page.goto(f"/admin/providers/provideraccount/{sandbox.pk}/change/")
    expect(page.locator("#content-main")).to_contain_text("Rate card entries")
    page.goto(f"/admin/providers/provideraccount/{account.pk}/change/")
    expect(page.locator("#id_opt_enforce_campaign_check")).to_be_visible()
    expect(page.locator("#id_options")).to_have_count(0)
    page.fill("#id_opt_from_number", "12345")
    shot(page, "admin-provider-options")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    account.refresh_from_db()
    assert account.options["from_number"] == "12345"
    assert account.credentials == {"api_key": "k-1234567890abcd"}
