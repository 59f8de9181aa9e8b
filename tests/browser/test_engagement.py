"""After delivery, in a real browser: recipients tap their short links (the
real redirect; a chat app fetches a preview), a shop records orders (the
API with a token that may, and the pixel), and a marketer reads the
campaign page's clicks and conversions and a message's clicks, at 1366 px
and on a 390 px phone."""

import pytest
import requests
from playwright.sync_api import expect

from campaigns import services as campaign_services
from campaigns.models import Message, ShortLink
from smsportal import tokens
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
WHATSAPP = "WhatsApp/2.23.20.0 A"
ANNA, SECOND = "+4915112345601", "+4915112345602"


@pytest.fixture
def engaged(draft, manager, admin_user, live_server):
    """The draft with a link, sent; Anna taps hers twice (and WhatsApp
    previews it), the second recipient once; the shop records two orders
    through the API and one through the pixel."""
    draft.text = "Hi {{ first_name|default:'there' }}, 20% off today: https://shop.example.com/sale"
    draft.save()
    campaign_services.campaign_launch(campaign=draft, user=manager)

    def code(phone):
        return ShortLink.objects.get(message__phone=phone).code

    def tap(phone, agent=IPHONE):
        response = requests.get(
            f"{live_server.url}/l/{code(phone)}",
            headers={"User-Agent": agent},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "https://shop.example.com/sale"

    tap(ANNA)
    tap(ANNA, WHATSAPP)
    tap(ANNA)
    tap(SECOND)

    raw = tokens.token_create(user=admin_user, name="Shop", can_record_conversions=True)[1]
    for phone, value, ref in ((ANNA, 49.9, "ORDER-1001"), (SECOND, 20, "ORDER-1002")):
        response = requests.post(
            f"{live_server.url}/api/v1/conversions/",
            json={"code": code(phone), "value": value, "currency": "EUR", "external_id": ref},
            headers={"Authorization": f"Bearer {raw}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
    pixel = requests.get(
        f"{live_server.url}/c/{code(ANNA)}.gif",
        params={"value": "15", "currency": "USD", "ref": "ORDER-1003"},
        timeout=10,
    )
    assert pixel.headers["Content-Type"] == "image/gif"
    return draft


@pytest.mark.parametrize("width", [1366, 390])
def test_the_campaign_page_shows_clicks_and_conversions(page, shot, engaged, width):
    page.set_viewport_size({"width": width, "height": 900})
    login(page, "mona", PASSWORD)
    page.goto(f"/campaigns/{engaged.pk}/")

    section = page.locator("#engagement")
    expect(section.locator("h2")).to_have_text("Clicks and conversions")
    expect(section.locator("[data-figure=unique_clicks]")).to_have_text("2")
    expect(section).to_contain_text("3 clicks in all")
    expect(section.locator("[data-figure=click_rate]")).to_have_text("100.0%")
    expect(section.locator("[data-figure=previews]")).to_have_text("1")
    expect(section.locator("[data-figure=conversions]")).to_have_text("3")
    expect(section.locator("[data-figure=revenue]")).to_have_text("69.90 EUR")
    expect(section.locator("#other-currencies")).to_contain_text("15.00 USD")
    expect(section.locator("[data-figure=return_on_spend]")).to_contain_text("×")
    expect(section.locator("canvas")).to_be_visible()
    # Nothing is wider than the screen.
    width_used = page.evaluate("document.documentElement.scrollWidth")
    assert width_used <= width, f"the page is {width_used} px wide"
    shot(page, f"campaign-engagement-{width}")


@pytest.mark.parametrize("width", [1366, 390])
def test_a_message_page_lists_its_clicks_and_conversions(page, shot, engaged, width):
    page.set_viewport_size({"width": width, "height": 900})
    anna = Message.objects.get(campaign=engaged, phone=ANNA)
    login(page, "mona", PASSWORD)
    page.goto("/messages/")
    expect(page.locator(f"[data-clicks='{anna.pk}']")).to_have_text("2")
    page.click("#results >> text=+49 1511 2345601")
    expect(page.locator("h1")).to_contain_text("+49 1511 2345601")

    clicks = page.locator("#clicks tbody tr")
    expect(clicks).to_have_count(3)
    expect(page.locator("#clicks tr[data-bot=true]")).to_contain_text("preview, not a click")
    expect(page.locator("#short-links")).to_contain_text(ShortLink.objects.get(message=anna).code)
    conversions = page.locator("#conversions")
    expect(conversions).to_contain_text("49.90 EUR")
    expect(conversions).to_contain_text("ORDER-1001")
    expect(conversions).to_contain_text("15.00 USD")
    expect(conversions).to_contain_text("Pixel")
    width_used = page.evaluate("document.documentElement.scrollWidth")
    assert width_used <= width, f"the page is {width_used} px wide"
    shot(page, f"message-engagement-{width}")
