"""First steps and polish in a real browser: the dashboard's checklist on a
laptop and a phone, empty pages that name the next step, the vendored
icons, and numbers shown as people read them."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1366, 390])
def test_the_checklist_ticks_off_what_is_done(page, shot, manager, sandbox, width):
    page.set_viewport_size({"width": width, "height": 900})
    login(page, "mona", PASSWORD)
    steps = page.locator("#first-steps .step")
    expect(steps).to_have_count(4)
    expect(page.locator("#first-steps .step.is-done")).to_have_count(1)
    expect(page.locator("[data-step=account]")).to_have_class("step is-done")
    # A Campaign manager is shown what an Admin does, not sent there.
    expect(page.locator("[data-step=sender] a")).to_have_text("Go to sender IDs")
    expect(page.locator("[data-step=contacts] a")).to_have_text("Create a contact list")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"first-steps-{width}")
    page.locator("[data-step=contacts] a").click()
    expect(page.locator("h1")).to_have_text("Contacts & lists")


def test_empty_pages_name_the_next_step(page, shot, admin_user):
    login(page, "alice", PASSWORD)
    page.goto("/providers/")
    expect(page.locator(".empty")).to_contain_text("Start with the built-in Sandbox")
    expect(page.locator(".empty a")).to_have_text("Add the Sandbox account")
    page.goto("/lists/")
    expect(page.locator(".empty a")).to_have_text("Import a file")
    page.goto("/lists/segments/")
    expect(page.locator(".empty")).to_contain_text("picks contacts by country")
    shot(page, "empty-segments")
    page.click(".empty >> text=Build a segment")
    expect(page.locator("h1")).to_have_text("New segment")
    page.goto("/lists/suppressions/")
    expect(page.locator(".empty")).to_contain_text("STOP replies add them by themselves")
    page.goto("/windows/")
    expect(page.locator(".empty")).to_contain_text("Add one with the form")


def test_icons_come_from_the_vendored_sprite(page, manager):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    login(page, "mona", PASSWORD)
    icon = page.locator("nav a[aria-current] svg.icon use")
    href = icon.get_attribute("href")
    assert href.startswith("/static/vendor/icons.svg#")
    # Drawn: the symbol it names is there, and it has a size.
    box = page.locator("nav a[aria-current] svg.icon").bounding_box()
    assert box["width"] > 10 and box["height"] > 10
    response = page.request.get(href.split("#")[0])
    assert response.ok and f'id="{href.split("#")[1]}"' in response.text()
    # Nothing from outside the server.
    assert all(url.startswith(page.url.split("/accounts")[0]) for url in requests)


def test_numbers_read_as_people_write_them(page, manager, customers):
    login(page, "mona", PASSWORD)
    page.goto(f"/lists/{customers.pk}/")
    expect(page.locator("table")).to_contain_text("+49 1511 2345601")
    expect(page.locator("table")).to_contain_text("+33 6 12 34 99 99")
    link = page.locator("a[title='+4915112345601']")
    expect(link).to_have_text("+49 1511 2345601")
