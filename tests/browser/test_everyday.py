"""Everyday actions in a real browser: copy a campaign as a new draft,
download the message log (as filtered) and a campaign's report, edit a
contact, edit and delete delivery windows, invite a user and set roles
without the Django admin, and money shown with its currency's decimals."""

import csv
import io

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from campaigns import services as campaign_services
from campaigns.models import Campaign, DeliveryWindow
from contacts.models import Contact
from smsportal import roles
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def read_csv(download) -> list[list[str]]:
    text = download.path().read_text(encoding="utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def sent(draft, manager):
    """The draft, launched through the sandbox (two delivered, one
    undelivered, one rejected)."""
    campaign_services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()
    return draft


def test_a_campaign_is_copied_as_a_new_draft(page, shot, sent, customers):
    login(page, "mona", PASSWORD)
    page.goto(f"/campaigns/{sent.pk}/")
    page.click("button:has-text('Copy as new draft')")
    expect(page.locator(".flash-success")).to_contain_text(
        "“Spring sale (copy)” is a new draft copied from “Spring sale”"
    )
    expect(page.locator("h1")).to_have_text("Edit “Spring sale (copy)”")
    expect(page.locator("#id_text")).to_have_value(sent.text)
    expect(page.locator("#id_lists input[type=checkbox]").first).to_be_checked()
    expect(page.locator("#composer-preview")).to_contain_text("4 recipient(s)")
    shot(page, "campaign-copied")
    copy = Campaign.objects.get(name="Spring sale (copy)")
    assert copy.state == Campaign.State.DRAFT and copy.audience_count == 0
    assert list(copy.lists.all()) == [customers]
    assert Campaign.objects.get(pk=sent.pk).state != Campaign.State.DRAFT


@pytest.mark.parametrize("width", [1366, 390])
def test_the_message_log_and_a_report_download_as_csv(page, shot, sent, width):
    page.set_viewport_size({"width": width, "height": 900})
    login(page, "mona", PASSWORD)
    page.goto("/messages/")
    expect(page.locator("#export-messages")).to_have_text("Export all as CSV")
    page.select_option("#id_status", "delivered")
    expect(page.locator("#results tbody tr")).to_have_count(2)
    expect(page.locator("#export-messages")).to_have_text("Export these as CSV")
    shot(page, f"message-log-export-{width}")
    with page.expect_download() as download:
        page.click("#export-messages")
    rows = read_csv(download.value)
    header = rows[0]
    assert header[:6] == ["id", "campaign", "campaign_name", "is_test", "phone", "country"]
    assert [r[header.index("status")] for r in rows[1:]] == ["delivered", "delivered"]
    # Formula escaping, as the REST export does it: "+49…" would be a formula.
    assert {r[header.index("phone")] for r in rows[1:]} == {"'+4915112345601", "'+4915112345602"}
    assert {r[header.index("campaign_name")] for r in rows[1:]} == {"Spring sale"}

    page.goto(f"/campaigns/{sent.pk}/")
    with page.expect_download() as download:
        page.click("text=Report (CSV)")
    assert download.value.suggested_filename.startswith(f"campaign-{sent.pk}-Spring-sale-report")
    report = read_csv(download.value)
    columns = report[0]
    by_country = {r[0]: dict(zip(columns, r, strict=True)) for r in report[1:]}
    assert set(by_country) == {"DE", "FR", "all"}
    assert by_country["all"]["recipients"] == "4"
    assert by_country["DE"]["delivered"] == "2" and by_country["DE"]["undelivered"] == "1"
    assert by_country["FR"]["rejected"] == "1"
    assert by_country["all"]["estimated_cost"] == "0.29300"
    assert by_country["all"]["currency"] == "EUR"


def test_a_contact_is_edited(page, shot, manager, customers):
    anna = Contact.objects.get(phone="+4915112345601")
    anna.attributes = {"city": "Berlin", "tier": "gold"}
    anna.save()
    login(page, "mona", PASSWORD)
    page.goto(f"/lists/contacts/{anna.pk}/")
    expect(page.locator("h1")).to_have_text("+49 1511 2345601")
    page.click("text=Edit")
    expect(page.locator("h1")).to_have_text("Edit +49 1511 2345601")
    page.fill("#id_last_name", "Schmidt")
    page.select_option("#id_own_time_zone", "Europe/Vienna")
    rows = page.locator("#attributes tbody tr")
    expect(rows).to_have_count(4)  # two attributes, two empty rows to add one
    page.fill("#id_attr-0-value", "Hamburg")  # city (in name order)
    page.check("#id_attr-1-DELETE")  # tier
    page.fill("#id_attr-2-key", "Shoe size")
    page.fill("#id_attr-2-value", "38")
    shot(page, "contact-edit")
    page.click("button:has-text('Save contact')")
    expect(page.locator(".flash-success")).to_have_text("Contact saved.")
    expect(page.locator(".page-subtitle")).to_contain_text("Anna Schmidt")
    expect(page.locator(".kv")).to_contain_text("shoe_size")
    anna.refresh_from_db()
    assert anna.last_name == "Schmidt"
    assert anna.attributes == {"city": "Hamburg", "shoe_size": "38", "time_zone": "Europe/Vienna"}


def test_delivery_windows_are_edited_and_one_in_use_is_not_deleted(page, shot, draft):
    office = DeliveryWindow.objects.create(
        name="Office hours", days=[0, 1, 2, 3, 4], start_time="09:00", end_time="18:00"
    )
    DeliveryWindow.objects.create(name="Weekend", days=[5, 6], start_time="10:00", end_time="14:00")
    draft.window = office
    draft.save()
    login(page, "mona", PASSWORD)
    page.goto("/windows/")
    row = page.locator("#windows tr[data-window='Office hours']")
    expect(row).to_contain_text("1")
    row.locator("text=Edit").click()
    expect(page.locator("h1")).to_have_text("Edit “Office hours”")
    page.fill("#id_end_time", "17:00")
    expect(page.locator("#window-summary")).to_contain_text("Mon–Fri 09:00–17:00 UTC")
    shot(page, "window-edit")
    page.click("button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text("Mon–Fri 09:00–17:00 UTC")

    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#windows tr[data-window='Office hours'] button:has-text('Delete')").click()
    expect(page.locator(".flash-error")).to_contain_text(
        "“Office hours” is not deleted: 1 campaign uses it (“Spring sale”)"
    )
    page.locator("#windows tr[data-window='Weekend'] button:has-text('Delete')").click()
    expect(page.locator(".flash-success")).to_have_text("Delivery window “Weekend” deleted.")
    expect(page.locator("#windows tbody tr")).to_have_count(1)
    shot(page, "windows-after-delete")
    assert list(DeliveryWindow.objects.values_list("name", flat=True)) == ["Office hours"]


@pytest.mark.parametrize("width", [1366, 390])
def test_an_admin_invites_a_user_who_sets_a_password(page, browser, shot, admin_user, width):
    page.set_viewport_size({"width": width, "height": 900})
    login(page, "alice", PASSWORD)
    if width < 500:
        page.click(".nav-toggle")
    page.click("nav >> text=Users")
    expect(page.locator("#people")).to_contain_text("alice")
    page.fill("#id_username", "nora")
    page.fill("#id_first_name", "Nora")
    page.check(f"input[name=role][value='{roles.ANALYST}']")
    page.click("button:has-text('Invite and make a sign-in link')")
    link = page.locator("#sign-in-link").input_value()
    assert "/accounts/welcome/" in link
    expect(page.locator("#people tr[data-user=nora]")).to_contain_text("Invited")
    shot(page, f"users-invited-{width}")

    # Nora opens the link in her own browser, sets a password, is signed in.
    other = browser.new_context(viewport={"width": width, "height": 900})
    nora = other.new_page()
    nora.goto(link)
    expect(nora.locator("h1")).to_have_text("Welcome, Nora")
    nora.fill("#id_new_password1", "a long new passphrase 42")
    nora.fill("#id_new_password2", "a long new passphrase 42")
    shot(nora, f"welcome-{width}")
    nora.click("button:has-text('Set password and sign in')")
    expect(nora.locator("h1")).to_have_text("Dashboard")
    expect(nora.locator(".sidebar-user")).to_contain_text("Analyst", use_inner_text=False)
    # The link worked once.
    nora.goto(link)
    expect(nora.locator("h1")).to_have_text("This link no longer works")
    other.close()

    # The Admin makes her a Campaign manager.
    page.reload()
    row = page.locator("#people tr[data-user=nora]")
    expect(row).to_contain_text("Active")
    row.locator("select").select_option(roles.MANAGER)
    row.locator("button:has-text('Save')").click()
    expect(page.locator(".flash-success")).to_have_text("nora is now Campaign manager.")
    assert roles.role_of(User.objects.get(username="nora")) == roles.MANAGER
    assert page.evaluate("document.documentElement.scrollWidth") <= width
