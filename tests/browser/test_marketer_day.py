"""A marketer's day in a real browser, at 1366 px and on a 390 px phone:
an import that shows how its first rows will be read, a launch into a
closed window or quiet hours that says what it waits for, a sender an Admin
approves, a composer that warns about UCS-2 before it costs money, both
costs of a campaign, rates that never round a failure away, number searches
as people type them, and a campaign page whose evidence updates live.

Every figure a page shows is checked against the database."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns import compose, selectors
from campaigns.models import Approval, Campaign, CampaignCounter, DeliveryWindow, Message, SenderID
from contacts import services as contact_services
from contacts.models import Contact
from providers.status import Status
from smsportal.templatetags.ui import format_money
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = pytest.mark.parametrize("width", [1366, 390], ids=["1366px", "390px"])


def shown(e164: str):
    """A number as a page may show it: E.164, or grouped with spaces."""
    return re.compile(r"\s?".join(re.escape(ch) for ch in e164))


def at(page, width):
    page.set_viewport_size({"width": width, "height": 900})


def fits(page, locator):
    """The element is on screen at this width, and is what a click at its
    centre reaches (nothing clips or covers it)."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    reached = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y)?.closest('button, a')?.textContent.trim()",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert reached == locator.inner_text().strip()


# ------------------------------------------------------------------- 1 import


@WIDTHS
def test_the_import_shows_how_its_first_rows_will_be_read(
    page, shot, manager, tmp_path, settings, width
):
    settings.CONTACT_IMPORT_DIR = str(tmp_path / "imports")
    settings.DEFAULT_COUNTRY = "DE"
    source = tmp_path / "fair.csv"
    source.write_text(
        "Mobile;First name;City;Shoe size\n"
        "0151 20000001;Anna;Berlin;38\n"
        "+33 6 12 34 56 78;Lucas;Paris;44\n"
        "12345;Broken;Bonn;40\n"
        "0176 10033621;Ida;Köln;39\n",
        encoding="utf-8",
    )
    at(page, width)
    login(page, "mona", PASSWORD)
    page.goto("/lists/imports/new/")
    page.set_input_files("#id_file", str(source))
    page.fill("#id_new_list_name", "Fair")
    page.click("button:has-text('Upload')")

    # The site's country is chosen; the extra columns become attributes.
    expect(page.locator("#id_default_country")).to_have_value("DE")
    expect(page.locator("#id_col_0")).to_have_value("phone")
    expect(page.locator("#id_col_1")).to_have_value("first_name")
    expect(page.locator("#id_col_2")).to_have_value("attr:city")
    expect(page.locator("#id_col_3")).to_have_value("attr:shoe_size")

    rows = page.locator("#preview-rows tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0).locator("[data-preview=e164]")).to_have_text("+4915120000001")
    expect(rows.nth(1).locator("[data-preview=e164]")).to_have_text("+33612345678")
    expect(rows.nth(1)).to_contain_text("FR")
    expect(rows.nth(2).locator("[data-preview=reason]")).to_contain_text("phone number")
    shot(page, f"import-preview-{width}")

    # Without a country the national numbers would be rejected: said before starting.
    page.select_option("#id_default_country", "")
    expect(rows.nth(0).locator("[data-preview=reason]")).to_contain_text("no country")
    expect(rows.nth(1).locator("[data-preview=e164]")).to_have_text("+33612345678")
    page.select_option("#id_default_country", "DE")
    expect(rows.nth(3).locator("[data-preview=e164]")).to_have_text("+4917610033621")

    page.click("text=Start import")
    expect(page.locator("#import-progress")).to_have_attribute("data-state", "completed")
    shown = ["+4915120000001", "+33612345678", "+4917610033621"]
    stored = Contact.objects.filter(phone__in=shown)
    assert sorted(stored.values_list("phone", flat=True)) == sorted(shown)
    assert stored.get(phone="+4915120000001").attributes == {"city": "Berlin", "shoe_size": "38"}
    assert stored.get(phone="+4915120000001").country == "DE"


# ------------------------------------------------------------- 2 waiting states


def closed_window(name="Later today"):
    """A window (UTC, every day) that opens two hours from now and closes
    an hour after that."""
    now = timezone.now().astimezone(dt.UTC)
    start = (now + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    end = (now + dt.timedelta(hours=3)).time().replace(second=0, microsecond=0)
    return DeliveryWindow.objects.create(
        name=name, days=list(range(7)), start_time=start, end_time=end, time_zone="UTC"
    )


def held(campaign) -> int:
    return Message.objects.filter(
        campaign=campaign, status=Status.PENDING, not_before__gt=timezone.now()
    ).count()


@WIDTHS
def test_a_launch_into_a_closed_window_says_what_it_waits_for_everywhere(
    page, shot, manager, draft, width
):
    window = closed_window()
    draft.window = window
    draft.save()
    at(page, width)
    login(page, "mona", PASSWORD)
    page.goto(f"/campaigns/{draft.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Launch')")

    opens = f"{window.start_time:%H:%M}"
    flash = page.locator(".flash-success")
    expect(flash).to_contain_text("Launched. Waiting for the delivery window")
    expect(flash).not_to_contain_text("sending it now")
    waiting = page.locator("#waiting [data-waiting=window]")
    expect(waiting).to_contain_text(re.compile(rf"opens (\w{{3}} )?{opens} UTC"))
    n = held(draft)
    assert n == 4
    expect(waiting).to_contain_text(f"{n} messages waiting")
    shot(page, f"campaign-waiting-window-{width}")

    page.goto("/campaigns/")
    row = page.locator(f"tr[data-campaign='{draft.pk}']")
    expect(row.locator("[data-waiting=window]")).to_contain_text(f"{n} messages waiting")
    shot(page, f"campaigns-waiting-{width}")
    page.goto("/")
    active = page.locator(f"#active tr[data-campaign='{draft.pk}']")
    expect(active.locator("[data-waiting=window]")).to_contain_text(
        re.compile(rf"opens (\w{{3}} )?{opens} UTC")
    )
    shot(page, f"dashboard-waiting-{width}")

    # Paused: the reason, and what is left.
    page.goto(f"/campaigns/{draft.pk}/")
    page.click("button:has-text('Pause')")
    paused = page.locator("#waiting [data-waiting=paused]")
    expect(paused).to_contain_text("Paused by mona")
    left = Message.objects.filter(campaign=draft, status=Status.PENDING).count()
    expect(paused).to_contain_text(f"{left} messages not yet sent")
    page.click("button:has-text('Resume')")
    expect(page.locator("#waiting [data-waiting=window]")).to_contain_text(
        f"{held(draft)} messages waiting"
    )


@WIDTHS
def test_quiet_hours_hold_a_launch_and_the_page_says_until_when(
    page, shot, manager, draft, settings, width
):
    berlin = timezone.now().astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    settings.QUIET_HOURS_ENABLED = True
    settings.QUIET_HOURS_START = f"{(berlin - dt.timedelta(hours=1)):%H}:00"
    settings.QUIET_HOURS_END = f"{(berlin + dt.timedelta(hours=2)):%H}:00"
    at(page, width)
    login(page, "mona", PASSWORD)
    page.goto(f"/campaigns/{draft.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Launch')")
    quiet = page.locator("#waiting [data-waiting=quiet]")
    expect(quiet).to_contain_text(
        f"{settings.QUIET_HOURS_START}–{settings.QUIET_HOURS_END} in the recipient's time"
    )
    n = held(draft)
    assert n == 4  # three in Germany, one in France: the same hour
    expect(quiet).to_contain_text(f"{n} messages waiting")
    shot(page, f"campaign-waiting-quiet-{width}")


# ------------------------------------------------------------ 3 sender approval


@pytest.mark.parametrize("width", [1366, 1920, 390], ids=["1366px", "1920px", "390px"])
def test_an_admin_approves_a_sender_at_any_width(page, shot, admin_user, sandbox, width):
    for value in ("Promo", "ShopNews", "Deals"):
        sender = SenderID(value=value, note="asked by marketing")
        sender.clean()
        sender.save()
        sender.accounts.add(sandbox)
    at(page, width)
    login(page, "alice", PASSWORD)
    page.goto("/senders/")
    row = page.locator("#senders tr[data-sender=ShopNews]")
    approve = row.locator("button:has-text('Approve')")
    reject = row.locator("button:has-text('Reject')")
    fits(page, approve)
    fits(page, reject)
    # Nothing of the table hides to the side: every column in view.
    assert page.evaluate(
        "(wrap => wrap.scrollWidth <= wrap.clientWidth)"
        "(document.querySelector('#sender-list .table-wrap'))"
    )
    shot(page, f"senders-{width}")
    approve.click()
    expect(page.locator(".flash-success")).to_contain_text("ShopNews approved")
    assert SenderID.objects.get(value="ShopNews").status == Approval.APPROVED
    expect(page.locator("[data-pending]")).to_have_text("2 waiting for approval")
    # Approved reads green, as delivered does; waiting stays grey.
    approved = page.locator("#senders tr[data-sender=ShopNews] .badge")
    expect(approved).to_have_text("Approved")
    expect(approved).to_have_css("background-color", "rgb(227, 244, 232)")
    waiting = page.locator("#senders tr[data-sender=Promo] .badge")
    expect(waiting).to_have_css("background-color", "rgb(238, 240, 243)")


# -------------------------------------------------------------------- 4 composer


@WIDTHS
def test_the_composer_warns_about_ucs2_and_shows_parts_per_recipient(
    page, shot, manager, sandbox, sender, customers, width
):
    contact_services.list_add_contacts(
        contact_list=customers,
        rows=[{"phone": "+4915112345603", "first_name": "Maximiliane-Josephine"}],
    )
    at(page, width)
    login(page, "mona", PASSWORD)
    page.goto("/campaigns/new/")
    page.fill("#id_name", "Łódź")
    page.select_option("#id_account", label="Sandbox")
    page.select_option("#id_sender", label="Shop")
    page.check("#id_lists input[type=checkbox] >> nth=0")
    text = (
        'Hi {{ first_name|default:"there" }}, Łódź opens today 🎉 with 20% off all shoes and bags!'
    )
    page.fill("#id_text", text)
    preview = page.locator("#composer-preview")
    checks = preview.locator("[data-preview=checks]")
    expect(checks).to_contain_text("as UCS-2")
    expect(checks).not_to_contain_text("Ready to launch")

    # What the page says is what the audience's rendered texts give.
    draft = Campaign(text=text, account=sandbox, sender=sender)
    figures = compose.preview_draft(draft, lists=[customers], exclude_lists=[])
    assert figures.ucs2.characters == ["Ł", "ó", "ź", "🎉"]
    assert figures.ucs2.recipients == 5
    money = format_money(figures.ucs2.estimated_cost - figures.ucs2.gsm7_cost, "EUR")
    expect(checks).to_contain_text(f"“Ł”, “ó”, “ź”, “🎉”: about {money}".split(":")[0])
    expect(checks).to_contain_text(f"({money} more)")
    expect(checks).to_contain_text("“Ł” → “L”")
    expect(checks).to_contain_text("remove “🎉”")
    assert [n for _, n in figures.parts] and sum(n for _, n in figures.parts) == 5
    assert figures.parts_range == "1–2"
    expect(preview.locator("[data-preview=segments]")).to_contain_text("1–2")
    by_count = preview.locator("[data-preview=parts-by-count] li")
    expect(by_count).to_have_count(len(figures.parts))
    for parts, n in figures.parts:
        label = f"{parts} part{'s' if parts != 1 else ''} {n} recipient{'s' if n != 1 else ''}"
        expect(preview.locator("[data-preview=parts-by-count]")).to_contain_text(label)
    shot(page, f"composer-ucs2-{width}")

    # The GSM-7 option takes Ł, ó and ź to their look-alikes; the emoji stays.
    page.check("#id_keep_gsm7")
    expect(preview.locator("[data-preview=sample]").first).to_contain_text("Lodz opens today")
    expect(checks).to_contain_text("because of “🎉”")
    expect(checks).not_to_contain_text("“Ł”")

    # The preview refuses what the save refuses.
    page.fill("#id_text", "x" * 1700)
    expect(checks).to_contain_text("at most 1,600 characters; this one has 1,700")
    expect(preview.locator("button[value=launch]")).to_be_disabled()
    page.click("text=Save draft")
    expect(page.locator("#id_text_error")).to_contain_text(
        "at most 1,600 characters; this one has 1,700"
    )
    assert not Campaign.objects.exists()


# ------------------------------------------------------ 5 and 6 costs and rates


@WIDTHS
def test_a_campaign_shows_its_estimate_and_its_actual_cost(
    page, shot, manager, draft, django_capture_on_commit_callbacks, width
):
    at(page, width)
    login(page, "mona", PASSWORD)
    page.goto(f"/campaigns/{draft.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Launch')")
    expect(page.locator(".badge-completed").first).to_be_visible()
    draft.refresh_from_db()
    counts = selectors.campaign_counts([draft.pk])[draft.pk]
    estimate = format_money(draft.launch_estimate, "EUR")
    actual = format_money(counts.actual_cost, "EUR")
    expect(page.locator("#estimated-cost")).to_have_text(estimate)
    expect(page.locator("#actual-cost")).to_have_text(actual)
    # Two of three outcomes delivered (the French number is rejected, one
    # German undelivered): one decimal, and the chart by the minute.
    rate = f"{100 * counts.get(Status.DELIVERED) / counts.finished:.1f}%"
    expect(page.locator("[data-rate=delivery]")).to_have_text(rate)
    expect(page.locator("#charts")).to_have_attribute("data-unit", "minute")
    shot(page, f"campaign-costs-{width}")

    page.goto("/campaigns/")
    row = page.locator(f"tr[data-campaign='{draft.pk}']")
    expect(row.locator("[data-figure=estimate]")).to_have_text(estimate)
    expect(row.locator("[data-figure=actual]")).to_have_text(actual)
    shot(page, f"campaigns-costs-{width}")


@WIDTHS
def test_a_rate_with_one_failure_is_never_100_percent(page, shot, manager, draft, sandbox, width):
    today = timezone.now().date()
    for status, n in ((Status.DELIVERED, 2999), (Status.UNDELIVERED, 1)):
        CampaignCounter.objects.create(
            campaign=draft, account=sandbox, country="DE", day=today, status=status, count=n
        )
    at(page, width)
    login(page, "mona", PASSWORD)
    expect(page.locator("[data-stat=month-rate]")).to_have_text(">99.9%")
    shot(page, f"dashboard-rate-{width}")
    page.goto(f"/campaigns/{draft.pk}/")
    expect(page.locator("[data-rate=delivery]")).to_have_text(">99.9%")


# -------------------------------------------------------------- 7 number search


@WIDTHS
def test_searches_find_a_national_number_as_typed(page, shot, manager, draft, settings, width):
    settings.DEFAULT_COUNTRY = "DE"
    contact_services.list_add_contacts(
        contact_list=draft.lists.get(), rows=[{"phone": "+4917610033621", "first_name": "Ida"}]
    )
    for i, phone in enumerate(("+4917610033621", "+4915112345601")):
        Message.objects.create(
            campaign=draft, phone=phone, country="DE", account=draft.account, text=f"Hi {i}"
        )
    at(page, width)
    login(page, "mona", PASSWORD)
    page.goto("/messages/")
    for typed in ("0176 10033621", "+49 176 10033621", "0176 1003"):
        page.fill("input[name=phone]", typed)
        expect(page.locator("#results tbody tr")).to_have_count(1)
        expect(page.locator("#results")).to_contain_text(shown("+4917610033621"))
    shot(page, f"message-log-national-{width}")

    for typed in ("0176 10033621", "+49 176 10033621"):
        page.goto("/lists/contacts/")
        page.fill("#q", typed)
        page.click("button:has-text('Search')")
        expect(page.locator("#results tbody tr")).to_have_count(1)
        expect(page.locator("#results")).to_contain_text("Ida")


# ------------------------------------------------------------------ 8 evidence


def berlin_window(name, start_hours, end_hours):
    """A window every day in each recipient's zone, from ``start_hours``
    to ``end_hours`` after the time it is in Berlin now."""
    now = timezone.now().astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    return {
        "name": name,
        "days": list(range(7)),
        "start_time": (now + dt.timedelta(hours=start_hours)).time().replace(microsecond=0),
        "end_time": (now + dt.timedelta(hours=end_hours)).time().replace(microsecond=0),
        "recipient_local": True,
        "time_zone": "Europe/Berlin",
    }


@WIDTHS
def test_payloads_read_as_json_and_the_campaign_page_updates_live(
    page, shot, manager, draft, width
):
    from campaigns import tasks

    # Paul lives twelve hours away: a window open in Berlin is shut for him.
    paul = Contact.objects.get(phone="+4915112340000")
    paul.attributes = {"time_zone": "Etc/GMT+11"}
    paul.save()
    window = DeliveryWindow.objects.create(**berlin_window("Evening", 2, 3))
    draft.window = window
    draft.save()
    at(page, width)
    login(page, "mona", PASSWORD)
    page.goto(f"/campaigns/{draft.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Launch')")
    waiting = page.locator("#waiting [data-waiting=window]")
    expect(waiting).to_contain_text(f"at {window.start_time:%H:%M} in each recipient's zone")
    expect(waiting).to_contain_text("4 messages waiting")
    expect(page.locator("#latest")).to_contain_text("None sent yet")
    expect(page.locator("#errors")).to_contain_text("No errors.")
    page.evaluate("window.stillTheSamePage = true")

    # The window opens in Berlin and Paris; the workers send while the page
    # stays open, and Paul's message waits for his morning.
    opened = {k: v for k, v in berlin_window("Evening", -1, 1).items() if k.endswith("_time")}
    DeliveryWindow.objects.filter(pk=window.pk).update(**opened)
    Message.objects.filter(campaign=draft).update(not_before=None)
    tasks.dispatch_campaign(draft.pk)
    draft.refresh_from_db()
    assert draft.state == Campaign.State.RUNNING
    errors = page.locator("#errors")
    expect(errors.locator(".badge-rejected")).to_be_visible()
    latest = page.locator("#latest tbody tr")
    sent = Message.objects.filter(campaign=draft).exclude(status=Status.PENDING)
    expect(latest).to_have_count(sent.count())
    expect(page.locator("#latest")).not_to_contain_text("Pending")
    newest = sent.order_by("-done_at", "-id").first()
    expect(latest.first).to_contain_text(shown(newest.phone))
    expect(waiting).to_contain_text("1 message waiting")
    # The heading names the window as it is now, not as it was at launch.
    hours = f"{opened['start_time']:%H:%M}–{opened['end_time']:%H:%M}"
    expect(page.locator("#campaign-subtitle")).to_contain_text(f"window Mon–Sun {hours}")
    assert page.evaluate("window.stillTheSamePage === true")  # updated in place
    shot(page, f"campaign-live-{width}")

    rejected = Message.objects.get(campaign=draft, status=Status.REJECTED)
    page.goto(f"/messages/{rejected.pk}/")
    payload = page.locator("pre.payload").last
    expect(payload).to_be_visible()
    text = payload.inner_text()
    assert re.search(r'^\{\n  "', text), text
    assert "{'" not in text
    shot(page, f"message-payload-{width}")
