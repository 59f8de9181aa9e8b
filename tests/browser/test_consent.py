"""A contact's consent on its page: a STOP reply's history row, then a
Campaign manager recording consent given at the shop; at desktop and phone
widths."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from campaigns.inbound import ingest_inbound
from contacts.models import Consent, ConsentEvent, Contact, Suppression
from providers.base import InboundSms
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_contact_page_shows_consent_history_and_records_consent(
    page, shot, live_server, manager, sandbox, settings
):
    settings.KEYWORD_REPLY_STOP = ""
    anna = Contact.objects.create(phone="+4915112345601", first_name="Anna", country="DE")
    ingest_inbound(
        sandbox,
        [InboundSms(provider_message_id="in-1", sender="4915112345601", recipient="", text="Stop")],
    )
    inbound_event = ConsentEvent.objects.get(contact=anna)

    login(page, "mona", PASSWORD)
    page.goto(live_server.url + reverse("contacts:contact", args=[anna.pk]))
    consent = page.locator("#consent")
    expect(consent.locator("[data-consent]")).to_have_text("Opted out")
    expect(consent.locator("tbody tr")).to_have_count(1)
    expect(consent.locator("tbody tr").first).to_contain_text("Keyword reply")
    expect(consent.locator("tbody tr").first).to_contain_text(inbound_event.detail)
    shot(page, "contact-consent")

    # Later, Anna signs the form at the shop and asks to hear from us again.
    Suppression.objects.filter(phone=anna.phone).delete()
    page.select_option("#consent-state", Consent.OPTED_IN)
    page.fill("#consent-note", "Signed form at the Berlin shop")
    page.click("#consent button:has-text('Record consent')")
    expect(page.locator(".flash-success")).to_contain_text("Consent recorded: Opted in.")
    expect(consent.locator("[data-consent]")).to_have_text("Opted in")
    rows = consent.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Signed form at the Berlin shop")
    expect(rows.first).to_contain_text("mona")
    anna.refresh_from_db()
    assert anna.consent == Consent.OPTED_IN
    assert ConsentEvent.objects.filter(contact=anna).count() == 2

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a phone"
    shot(page, "contact-consent-phone")
