"""Every main page on a phone (390 px) and a laptop (1366 px): nothing is
wider than the screen (on a phone each table row is a card), the links
fold behind a menu button on the phone, and the composer says where its
preview is. Screenshots of each page at both widths."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns import services as campaign_services
from campaigns.models import Approval, DeliveryWindow, DLTTemplate, Message, SenderID
from contacts.models import Segment
from providers.models import InboundMessage
from smsportal import tokens
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def workspace(admin_user, manager, draft, customers, sandbox, sender):
    """A bit of everything, so every page has rows to lay out."""
    campaign_services.campaign_launch(campaign=draft, user=manager)
    DeliveryWindow.objects.create(
        name="Office hours", days=[0, 1, 2, 3, 4], start_time="09:00", end_time="18:00"
    )
    SenderID.objects.create(value="Pending1", status=Approval.PENDING).accounts.add(sandbox)
    DLTTemplate.objects.create(
        name="Offer",
        template_id="1107160000000012345",
        principal_entity_id="1101000000000001",
        header=sender,
        category="promotional",
        content="Dear {#var#}, our sale starts today.",
    )
    Segment.objects.create(
        name="Germans", conditions=[{"field": "country", "op": "in", "value": "DE"}]
    )
    InboundMessage.objects.create(
        account=sandbox,
        sender="+4915112345601",
        text="STOP please, and a rather long reply to see how the table copes",
        keyword="STOP",
        opted_out=True,
        received_at=timezone.now(),
    )
    tokens.token_create(user=admin_user, name="Finance dashboard")
    return draft


PAGES = {
    "dashboard": "/",
    "lists": "/lists/",
    "list": "/lists/{list}/",
    "contacts": "/lists/contacts/?q=151",
    "contact": "/lists/contacts/{contact}/",
    "segments": "/lists/segments/",
    "segment": "/lists/segments/{segment}/",
    "segment-new": "/lists/segments/new/",
    "suppressions": "/lists/suppressions/",
    "import-new": "/lists/imports/new/",
    "campaigns": "/campaigns/",
    "campaign": "/campaigns/{campaign}/",
    "composer": "/campaigns/new/",
    "messages": "/messages/",
    "message": "/messages/{message}/",
    "senders": "/senders/",
    "dlt": "/dlt/",
    "windows": "/windows/",
    "accounts": "/providers/",
    "account": "/providers/{account}/",
    "inbound": "/inbound/",
    "audit": "/audit/",
    "tokens": "/api-tokens/",
    "users": "/users/",
    "contact-edit": "/lists/contacts/{contact}/edit/",
    "window-edit": "/windows/{window}/edit/",
}


# The first column heading of each table that reaches past the right edge
# of its card (a table outside a box, cut off), or whose box scrolls
# sideways (unless ``scrolls`` allows it, on a laptop).
SIDEWAYS_TABLES = """(scrolls) => [...document.querySelectorAll('table')]
  .filter(table => {
    const box = table.closest('.table-wrap');
    if (box) return !scrolls && box.scrollWidth > box.clientWidth + 1;
    const card = table.closest('.card') || document.body;
    return table.getBoundingClientRect().right > card.getBoundingClientRect().right + 1;
  })
  .map(table => (table.querySelector('th') || table).textContent.trim().slice(0, 40))"""


def urls(workspace, customers, sandbox):
    contact = customers.contacts.order_by("id").first()
    ids = {
        "list": customers.pk,
        "contact": contact.pk,
        "segment": Segment.objects.get().pk,
        "campaign": workspace.pk,
        "message": Message.objects.filter(campaign=workspace).order_by("id").first().pk,
        "account": sandbox.pk,
        "window": DeliveryWindow.objects.get().pk,
    }
    return {name: path.format(**ids) for name, path in PAGES.items()}


@pytest.mark.parametrize("width", [390, 1366])
def test_no_page_is_wider_than_the_screen(page, shot, workspace, customers, sandbox, width):
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
    login(page, "alice", PASSWORD)
    wide = []
    for name, url in urls(workspace, customers, sandbox).items():
        response = page.goto(url)
        if not response.ok:
            wide.append(f"{name} ({url}): answered {response.status}")
            continue
        page.wait_for_load_state("networkidle")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            wide.append(f"{name} ({url}): {scroll} px")
        # On a phone a list is a column of cards: nothing of a row is off
        # to the side of its table. At no width is a table cut off.
        sideways = page.evaluate(SIDEWAYS_TABLES, width >= 500)
        if sideways:
            wide.append(f"{name} ({url}): tables cut off or scrolling sideways: {sideways}")
        shot(page, f"{'phone' if width < 500 else 'laptop'}-{name}")
    assert wide == [], "wider than the screen, or broken:\n" + "\n".join(wide)


def test_a_campaigns_audit_trail_fits_a_phone(page, shot, workspace):
    """On a phone each entry of a campaign's audit trail is a card of
    labelled lines: its details are on the screen, not scrolled off to the
    side of the table."""
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "alice", PASSWORD)
    page.goto(f"/campaigns/{workspace.pk}/")
    entry = page.locator("#audit tbody tr", has_text="Launched")
    expect(entry.locator("td[data-label='Who']")).to_have_text("mona")
    details = entry.locator("td[data-label='Details']")
    expect(details).to_be_visible()
    box = details.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    wrap = page.locator("#audit .table-wrap")
    assert wrap.evaluate("element => element.scrollWidth <= element.clientWidth")
    entry.scroll_into_view_if_needed()
    shot(page, "phone-campaign-audit-trail")


def test_the_phone_menu_opens_and_closes(page, shot, manager):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "mona", PASSWORD)
    toggle = page.locator(".nav-toggle")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#main-nav")).to_be_hidden()
    header = page.locator(".sidebar").bounding_box()
    assert header["height"] < 70, "the closed menu is one bar"
    shot(page, "phone-menu-closed")

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#main-nav")).to_be_visible()
    expect(page.locator(".sidebar-user")).to_contain_text("mona")
    shot(page, "phone-menu-open")
    page.keyboard.press("Escape")
    expect(page.locator("#main-nav")).to_be_hidden()
    expect(toggle).to_be_focused()

    toggle.click()
    page.click("#main-nav >> text=Campaigns")
    expect(page.locator("h1")).to_have_text("Campaigns")
    expect(page.locator("#main-nav")).to_be_hidden()

    # On a laptop the links are always there and the button is not.
    page.set_viewport_size({"width": 1366, "height": 900})
    expect(toggle).to_be_hidden()
    expect(page.locator("#main-nav")).to_be_visible()


def test_the_composer_says_where_its_preview_is(page, manager, sandbox, sender, customers):
    login(page, "mona", PASSWORD)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/campaigns/new/")
    subtitle = page.locator(".page-subtitle")
    expect(subtitle).to_have_text(
        "The preview on the right follows what you type. Save a draft at any time; "
        "nothing is sent until you launch.",
        use_inner_text=True,
    )
    page.set_viewport_size({"width": 390, "height": 844})
    expect(subtitle).to_contain_text(
        "The preview below follows what you type.", use_inner_text=True
    )
    preview = page.locator("#composer-preview").bounding_box()
    form = page.locator("#composer").bounding_box()
    assert preview["y"] > form["y"] + form["height"] - 1, "the preview is below the form"
