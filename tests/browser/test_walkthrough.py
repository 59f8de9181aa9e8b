"""A first day with smsportal, from an empty database, in a real browser,
as the README's "A first campaign" tells it: the dashboard's first steps,
the Sandbox account, a sender ID requested and approved, a file of national
numbers imported with its country chosen, a segment built with a live
count, a composer that warns about an emoji, a launch into a closed
delivery window that says it waits for it, pause and resume, the window
opened, and the campaign's report with the estimated and the actual cost."""

import csv
import datetime as dt
import io
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PEOPLE = """Mobile;First name;City
0151 12345601;Anna;Berlin
0151 12345602;Ben;Berlin
0151 12345603;Clara;Hamburg
0170 1234567;Dieter;Berlin
12;Broken;Berlin
"""


def closed_window_hours(now: dt.datetime) -> tuple[str, str]:
    """An hour of the day some hours from now (UTC): closed now, all week."""
    start = (now + dt.timedelta(hours=3)).replace(minute=0)
    end = start + dt.timedelta(hours=1)
    return f"{start:%H:%M}", f"{end:%H:%M}"


def test_a_first_campaign_from_an_empty_database(page, shot, admin_user, tmp_path, settings):
    settings.CONTACT_IMPORT_DIR = str(tmp_path / "imports")
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, "alice", PASSWORD)

    # The dashboard lists the first steps, none done.
    steps = page.locator("#first-steps .step")
    expect(steps).to_have_count(4)
    expect(page.locator("#first-steps .step.is-done")).to_have_count(0)
    shot(page, "walkthrough-01-first-steps")

    # 1. A provider account: the Sandbox, with a price for Germany.
    page.locator("[data-step=account]").get_by_role("link").click()
    page.click("text=Add the Sandbox account")
    page.fill("#id_name", "Sandbox")
    page.fill("#id_rate_card", "DE 0.075")
    page.click("button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text("Saved provider account “Sandbox”")

    # 2. A sender ID, requested and approved.
    page.click("nav >> text=Sender IDs")
    page.fill("#id_value", "Shop")
    page.check("#id_accounts input[type=checkbox] >> nth=0")
    page.click("button:has-text('Request')")
    expect(page.locator(".flash-success")).to_contain_text("Sender ID Shop requested")
    page.locator("#senders").get_by_role("button", name="Approve").click()
    expect(page.locator("#senders")).to_contain_text("Approved")
    page.click("nav >> text=Dashboard")
    expect(page.locator("#first-steps .step.is-done")).to_have_count(2)

    # 3. Contacts: a file of national numbers, imported as German ones.
    source = tmp_path / "people.csv"
    source.write_text(PEOPLE, encoding="utf-8")
    page.click("nav >> text=Contacts & lists")
    page.click("text=Import a file")
    page.set_input_files("#id_file", str(source))
    page.fill("#id_new_list_name", "Customers")
    page.click("button:has-text('Upload')")
    expect(page.locator("#id_col_0")).to_have_value("phone")
    page.select_option("#id_col_1", "first_name")
    page.select_option("#id_default_country", "DE")
    shot(page, "walkthrough-02-import-mapping")
    page.click("text=Start import")
    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-state", "completed", timeout=30_000)
    expect(progress.locator("[data-count=added]")).to_have_text("4")
    expect(progress.locator("[data-count=errors]")).to_have_text("1")
    shot(page, "walkthrough-03-import-done")

    # 4. A segment, counted while it is built.
    page.click("nav >> text=Contacts & lists")
    page.click("text=Segments")
    page.click("text=New segment")
    page.fill("#id_name", "Berliners")
    page.fill("#id_cond-0-value", "DE")
    expect(page.locator("#segment-count [data-count=live]")).to_have_text("4")
    page.click("button:has-text('Add a condition')")
    page.select_option("#id_cond-1-field", "attribute")
    page.select_option("#id_cond-1-key", "city")
    page.fill("#id_cond-1-value", "Berlin")
    expect(page.locator("#segment-count [data-count=live]")).to_have_text("3")
    shot(page, "walkthrough-04-segment")
    page.click("button:has-text('Save segment')")
    expect(page.locator("[data-count=segment-size]")).to_have_text("3")

    # A delivery window that is closed now.
    start, end = closed_window_hours(timezone.now().astimezone(dt.UTC))
    page.click("nav >> text=Delivery windows")
    page.fill("#id_name", "Later today")
    for day in range(7):
        page.check(f"#id_days_{day}")
    page.fill("#id_start_time", start)
    page.fill("#id_end_time", end)
    page.fill("#id_time_zone", "UTC")
    page.click("button:has-text('Save')")
    expect(page.locator("#windows")).to_contain_text("Later today")

    # 5. The composer: an emoji makes it UCS-2, and a check says so.
    page.click("nav >> text=Campaigns")
    page.click("text=New campaign")
    page.fill("#id_name", "Spring sale")
    page.fill("#id_text", "Hi {{ first_name }}, our spring sale starts today 🌷")
    page.select_option("#id_account", label="Sandbox")
    page.select_option("#id_sender", label="Shop")
    page.check("#id_segments input[type=checkbox] >> nth=0")
    page.select_option("#id_window", label="Later today")
    preview = page.locator("#composer-preview")
    expect(preview.locator("[data-preview=audience]")).to_contain_text("3 recipient(s)")
    checks = preview.locator("[data-preview=checks]")
    expect(checks).to_contain_text("UCS-2")
    expect(checks).to_contain_text("🌷")
    shot(page, "walkthrough-05-composer")

    # 6. Launched into the closed window: the page says what it waits for.
    page.click("button:has-text('Save and launch')")
    expect(page.locator("h1")).to_have_text("Spring sale")
    expect(page.locator("body")).to_contain_text(
        re.compile("waiting for the delivery window", re.IGNORECASE)
    )
    expect(page.locator("body")).to_contain_text(f"{start}")
    shot(page, "walkthrough-06-waiting")

    # 7. Pause and resume.
    page.click("button:has-text('Pause')")
    expect(page.locator(".page-subtitle .badge")).to_have_text("Paused")
    page.click("button:has-text('Resume')")
    expect(page.locator(".page-subtitle .badge")).to_have_text("Running")
    expect(page.locator("body")).to_contain_text(
        re.compile("waiting for the delivery window", re.IGNORECASE)
    )
    campaign = Campaign.objects.get(name="Spring sale")

    # 8. The window opens (widened to the whole day): the messages go.
    page.click("nav >> text=Delivery windows")
    page.locator("#windows tr[data-window='Later today']").get_by_role("link").click()
    page.fill("#id_start_time", "00:00")
    page.fill("#id_end_time", "23:59")
    page.click("button:has-text('Save')")
    page.goto(f"/campaigns/{campaign.pk}/")
    expect(page.locator(".page-subtitle .badge")).to_have_text("Completed", timeout=15_000)
    expect(page.locator("#progress [data-status=delivered]")).to_have_text("3")

    # 9. The report: the estimate and what it cost, side by side.
    estimated = page.locator("#estimated-cost")
    actual = page.locator("#actual-cost")
    expect(estimated).to_have_text("0.225 EUR")
    expect(actual).to_have_text("0.225 EUR")
    shot(page, "walkthrough-07-report")
    with page.expect_download() as download:
        page.click("text=Report (CSV)")
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    total = next(r for r in rows if r["country"] == "all")
    assert (total["recipients"], total["delivered"]) == ("3", "3")
    assert (total["estimated_cost"], total["actual_cost"]) == ("0.22500", "0.22500")

    # Every first step is done: the list is gone from the dashboard.
    page.click("nav >> text=Dashboard")
    expect(page.locator("#first-steps")).to_have_count(0)
    shot(page, "walkthrough-08-dashboard")
