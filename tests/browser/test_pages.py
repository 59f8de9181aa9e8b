"""The other pages a person uses, in a real browser: provider accounts,
DLT templates, delivery windows, the message log's filters, the audit log
and inbound messages. Each main page is saved as a screenshot."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Message
from providers.models import InboundMessage, ProviderAccount
from providers.status import Status
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_adds_a_provider_account_with_only_its_fields(page, shot, admin_user, sandbox):
    login(page, "alice", PASSWORD)
    page.click("nav >> text=Provider accounts")
    expect(page.locator("#accounts")).to_contain_text("Sandbox")
    shot(page, "provider-accounts")
    page.click("#accounts >> text=Check connection")
    expect(page.locator(f"#check-{sandbox.pk} .text-success")).to_be_visible()

    page.select_option("select[name=kind]", "sendsms")
    page.click("button:has-text('Add account')")
    expect(page.locator("h1")).to_have_text("New x-api-key sendsms provider account")
    expect(page.locator("#id_cred_api_key")).to_be_visible()
    expect(page.locator("#id_opt_from_number")).to_be_visible()
    page.fill("#id_name", "Bulk SMS")
    page.fill("#id_cred_api_key", "k-1234567890abcd")
    page.fill("#id_rate_card", "DE 0.07\nXX 1")
    page.click("button:has-text('Save')")
    expect(page.locator("#id_rate_card_error")).to_have_text("Line 2: XX is not a country code.")
    page.fill("#id_cred_api_key", "k-1234567890abcd")
    page.fill("#id_rate_card", "DE 0.07\nFR 0.06")
    page.click("button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text("Saved provider account “Bulk SMS”")
    expect(page.locator("#masked-credentials")).to_contain_text("••••••••abcd")
    expect(page.locator("body")).not_to_contain_text("k-1234567890abcd")
    shot(page, "provider-account")
    account = ProviderAccount.objects.get(name="Bulk SMS")
    assert account.credentials == {"api_key": "k-1234567890abcd"}
    assert account.rates.count() == 2


def test_a_dlt_template_is_registered_approved_and_tried(page, shot, admin_user, sender):
    login(page, "alice", PASSWORD)
    page.click("nav >> text=DLT templates")
    expect(page.locator(".empty")).to_contain_text("You only need them to send to India")
    expect(page.locator("#dlt-tester")).to_contain_text("Register a template first")
    expect(page.locator("#dlt-tester select")).to_have_count(0)
    page.fill("#id_name", "Offer")
    page.fill("#id_template_id", "1107160000000012345")
    page.fill("#id_principal_entity_id", "1101000000000001")
    page.select_option("#id_header", label="Shop")
    page.select_option("#id_category", "promotional")
    page.fill("#id_content", "Dear {#var#}, our sale starts today.")
    page.click("button:has-text('Register')")
    expect(page.locator(".flash-success")).to_contain_text("registered")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#dlt-templates >> button:has-text('Approve')")
    expect(page.locator("#dlt-templates")).to_contain_text("Approved")

    tester = page.locator("#dlt-tester")
    page.select_option("#dlt-tester select[name=template]", label="Offer (1107160000000012345)")
    page.fill("#dlt-tester textarea[name=text]", "Dear Ravi, our sale starts today.")
    expect(page.locator("#dlt-tester")).to_contain_text("Matches 1107160000000012345")
    page.fill("#dlt-tester textarea[name=text]", "Dear Ravi, our sale starts tomorrow.")
    expect(tester).to_contain_text("Does not match")
    shot(page, "dlt-templates")


def test_a_delivery_window_is_summarised_as_it_is_typed(page, shot, manager):
    login(page, "mona", PASSWORD)
    page.click("nav >> text=Delivery windows")
    page.fill("#id_name", "Office hours")
    for day in range(5):
        page.check(f"#id_days_{day}")
    page.fill("#id_start_time", "09:00")
    page.fill("#id_end_time", "18:00")
    page.check("#id_recipient_local")
    expect(page.locator("#window-summary")).to_contain_text("Mon–Fri 09:00–18:00 recipient's time")
    page.click("button:has-text('Save')")
    expect(page.locator("#windows")).to_contain_text("Mon–Fri 09:00–18:00 recipient's time")
    shot(page, "windows")


def test_the_message_log_filters_as_the_user_chooses(page, shot, manager, draft):
    now = timezone.now()
    for i, status in enumerate([Status.DELIVERED, Status.DELIVERED, Status.REJECTED]):
        Message.objects.create(
            campaign=draft,
            account=draft.account,
            phone=f"+491511234500{i}",
            status=status,
            submitted_at=now,
        )
    login(page, "mona", PASSWORD)
    page.click("nav >> text=Message log")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(3)
    page.select_option("#id_status", "rejected")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"status=rejected"))
    page.select_option("#id_status", "")
    expect(rows).to_have_count(3)
    page.fill("#id_phone", "abc")
    expect(page.locator("#results .form-errors")).to_contain_text("Search by number uses digits")
    page.fill("#id_phone", "+4915112345001")
    expect(rows).to_have_count(1)
    shot(page, "message-log-filtered")


def test_the_audit_log_and_inbound_pages(page, shot, manager, draft, sandbox):
    InboundMessage.objects.create(
        account=sandbox,
        sender="+4915112345601",
        text="STOP",
        keyword="STOP",
        opted_out=True,
        received_at=timezone.now(),
    )
    login(page, "mona", PASSWORD)
    page.click("nav >> text=Inbound messages")
    expect(page.locator("#results")).to_contain_text("+49 1511 2345601")
    expect(page.locator("#results")).to_contain_text("suppressed")
    shot(page, "inbound")

    page.goto(f"/campaigns/{draft.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Cancel campaign')")
    expect(page.locator(".flash-success")).to_contain_text("Cancelled")
    page.click("nav >> text=Audit log")
    expect(page.locator("#results")).to_contain_text("campaign.cancel")
    expect(page.locator("#results")).to_contain_text("mona")
    shot(page, "audit-log")


def test_a_first_time_user_is_shown_the_next_step(page, shot, manager):
    login(page, "mona", PASSWORD)
    expect(page.locator(".onboarding")).to_contain_text("Create a contact list")
    shot(page, "dashboard-first-time")
    page.click("nav >> text=Campaigns")
    page.click(".empty >> text=Create a campaign")
    expect(page.locator(".flash-warning")).to_contain_text("There is no contact list yet")
