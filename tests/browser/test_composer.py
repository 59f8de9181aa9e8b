"""The composer in a real browser: the preview follows the typing, a test
goes out, the launch asks with audience and cost, progress runs to the end;
a scheduled campaign is paused and resumed."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_preview_updates_while_typing_then_the_campaign_goes_out(
    page, shot, manager, sandbox, sender, customers
):
    login(page, "mona", PASSWORD)
    page.goto("/campaigns/new/")
    preview = page.locator("#composer-preview")
    expect(preview).to_contain_text("Choose a provider account and a sender ID")

    page.fill("#id_name", "Weekend")
    page.select_option("#id_account", label="Sandbox")
    page.select_option("#id_sender", label="Shop")
    page.check("#id_lists input[type=checkbox] >> nth=0")
    page.locator("#id_text").press_sequentially("Hi {{ first_name }}, sale!")
    expect(preview.locator("[data-preview=audience]")).to_have_text("4 recipient(s)")
    expect(preview.locator("[data-preview=sample]").first).to_have_text("Hi Anna, sale!")
    expect(preview.locator("[data-preview=encoding]")).to_have_text("GSM-7")
    expect(preview).to_contain_text("Ready to launch.")

    # A curly quote makes it UCS-2; the preview offers the GSM-7 saving.
    page.locator("#id_text").press_sequentially(" Don’t miss it")
    expect(preview.locator("[data-preview=encoding]")).to_have_text("UCS-2")
    expect(preview.locator("[data-preview=gsm7]")).to_be_visible()
    page.check("#id_keep_gsm7")
    expect(preview.locator("[data-preview=encoding]")).to_have_text("GSM-7")
    expect(preview.locator("[data-preview=sample]").first).to_contain_text("Don't miss it")
    shot(page, "composer")

    page.fill("#id_test-phone", "+4915112345601")
    page.click("button:has-text('Send test')")
    expect(page.locator(".flash-success")).to_contain_text("Test sent to +4915112345601")
    expect(page.locator("h1")).to_contain_text("Edit “Weekend”")

    questions = []

    def accept(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.click("button:has-text('Save and launch')")
    expect(page.locator(".flash-success")).to_contain_text("Launched")
    assert questions and questions[0].startswith("Send to 4 recipient(s) for about 0.293 EUR")
    expect(page.locator("#progress")).to_contain_text("4 of 4")
    expect(page.locator("#progress [data-status=delivered]")).to_have_text("2")
    expect(page.locator("#errors")).to_contain_text("Undelivered")
    expect(page.locator("#audit")).to_contain_text("Launched")
    shot(page, "campaign-completed")


def test_a_launch_the_user_declines_sends_nothing(page, manager, draft):
    login(page, "mona", PASSWORD)
    page.goto(f"/campaigns/{draft.pk}/edit/")
    expect(page.locator("#composer-preview")).to_contain_text("Ready to launch.")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button:has-text('Save and launch')")
    page.wait_for_timeout(300)
    draft.refresh_from_db()
    assert draft.state == Campaign.State.DRAFT


def test_a_scheduled_campaign_is_paused_and_resumed(page, shot, manager, draft):
    draft.scheduled_at = timezone.now() + dt.timedelta(days=2)
    draft.save()
    login(page, "mona", PASSWORD)
    page.goto(f"/campaigns/{draft.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Schedule')")
    expect(page.locator(".flash-success")).to_contain_text("Scheduled for")
    expect(page.locator(".page-subtitle .badge")).to_have_text("Scheduled")

    page.click("button:has-text('Pause')")
    expect(page.locator(".flash-success")).to_have_text("Paused.")
    expect(page.locator(".page-subtitle .badge")).to_have_text("Paused")
    shot(page, "campaign-paused")
    page.click("button:has-text('Resume')")
    expect(page.locator(".flash-success")).to_have_text("Resumed.")
    expect(page.locator(".page-subtitle .badge")).to_have_text("Scheduled")
    expect(page.locator("#audit")).to_contain_text("Paused")
    expect(page.locator("#audit")).to_contain_text("Resumed")
