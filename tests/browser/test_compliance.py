"""The composer in a real browser with the site's rules on: it shows how many
recipients quiet hours hold and when they get the message, how many the
frequency cap skips, and the missing opt-out instruction, which one click
appends. The figures are then compared with what launch did."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign, Message
from contacts import services as contact_services
from providers.status import Status
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = dt.datetime(2026, 3, 10, 5, 30, tzinfo=dt.UTC)  # 06:30 in Berlin, 08:30 in Moscow


@pytest.fixture
def rules_on(settings, monkeypatch):
    settings.QUIET_HOURS_ENABLED = True
    settings.FREQUENCY_CAP_ENABLED = True
    settings.FREQUENCY_CAP_MESSAGES = 2
    settings.FREQUENCY_CAP_DAYS = 7
    settings.OPT_OUT_CHECK = True
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def had_two_messages(draft, phone):
    for days in (1, 2):
        earlier = Campaign.objects.create(
            name=f"Earlier {days}",
            text="Earlier",
            sender=draft.sender,
            account=draft.account,
            state=Campaign.State.COMPLETED,
        )
        message = Message.objects.create(
            campaign=earlier,
            phone=phone,
            account=draft.account,
            status=Status.DELIVERED,
            submitted_at=NOW - dt.timedelta(days=days),
        )
        Message.objects.filter(pk=message.pk).update(created_at=NOW - dt.timedelta(days=days))


def test_the_composer_shows_quiet_hours_the_cap_and_the_opt_out_check(
    page, shot, rules_on, manager, draft, customers
):
    contact_services.list_add_contacts(
        contact_list=customers,
        rows=[
            {"phone": "+79161234567", "first_name": "Ivan"},
            {"phone": "+79161234568", "attributes": {"time_zone": "Europe/Moscow"}},
        ],
    )
    had_two_messages(draft, "+4915112345601")
    login(page, "mona", PASSWORD)
    page.goto(f"/campaigns/{draft.pk}/edit/")
    preview = page.locator("#composer-preview")

    expect(preview.locator("[data-preview=audience]")).to_have_text("5 recipient(s)")
    expect(preview.locator("[data-preview=over-cap]")).to_have_text(
        "1 already had 2 in 7 days: skipped at launch"
    )
    # Berlin and Paris (3) are at 06:30; +7 916… is in every zone of Russia
    # and Kazakhstan, 07:30 in one of them; its neighbour keeps Moscow's.
    expect(preview.locator("[data-preview=quiet-count]")).to_have_text("4")
    expect(preview.locator("[data-preview=quiet]")).to_contain_text(
        "4 in them now (21:00–08:00 their time); sent Tue 06:00–07:00 UTC"
    )
    expect(preview.locator("[data-preview=checks]")).to_contain_text(
        "The message does not say how to opt out"
    )
    expect(preview.locator("[data-preview=opt-out-change]")).to_have_text(
        "With it: still 1 part, about 0.318 EUR: no extra cost."
    )
    page.set_viewport_size({"width": 1366, "height": 1024})
    shot(page, "composer-compliance")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "composer-compliance-narrow")
    page.set_viewport_size({"width": 1366, "height": 1024})

    page.click("button:has-text('Append “Reply STOP to opt out”')")
    expect(page.locator("#id_text")).to_have_value(
        'Hi {{ first_name|default:"there" }}, 20% off today. Reply STOP to opt out'
    )
    expect(preview.locator("[data-preview=opt-out]")).to_have_count(0)
    expect(preview.locator("[data-preview=checks]")).to_have_text("Ready to launch.")

    shown_quiet = int(preview.locator("[data-preview=quiet-count]").inner_text())
    shown_capped = int(preview.locator("[data-preview=over-cap]").inner_text().split()[0])
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Save and launch')")
    expect(page.locator(".flash-success")).to_contain_text("Launched")

    messages = Message.objects.filter(campaign=draft)
    assert messages.filter(status=Status.PENDING, not_before__gt=NOW).count() == shown_quiet
    assert messages.filter(skip_reason="frequency_cap").count() == shown_capped
    assert messages.get(phone="+79161234568").status != Status.PENDING
    expect(page.locator("#progress")).to_contain_text("Over the frequency cap")


def test_only_an_admin_sees_the_control_that_lifts_quiet_hours(
    page, shot, rules_on, admin_user, manager, draft
):
    login(page, "mona", PASSWORD)
    page.goto(f"/campaigns/{draft.pk}/edit/")
    expect(page.locator("#composer-preview [data-preview=quiet-count]")).to_have_text("4")
    expect(page.locator("#id_quiet_hours_lifted")).to_have_count(0)

    page.context.clear_cookies()
    login(page, "alice", PASSWORD)
    page.goto(f"/campaigns/{draft.pk}/edit/")
    page.check("#id_quiet_hours_lifted")
    page.fill("#id_quiet_hours_reason", "Flood warning for the area")
    preview = page.locator("#composer-preview")
    expect(preview.locator("[data-preview=quiet]")).to_have_text(
        "lifted by an Admin: Flood warning for the area"
    )
    shot(page, "composer-quiet-hours-lifted")
    page.click("button:has-text('Save draft')")
    expect(page.locator(".flash-success")).to_contain_text("Saved")
    expect(page.locator("#audit")).to_contain_text("Quiet hours lifted")
    expect(page.locator("#audit")).to_contain_text("reason: Flood warning for the area")
