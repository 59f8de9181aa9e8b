"""The segment builder in a real browser: conditions added and removed,
tests that fit each field, attribute names taken from the contacts, and a
live count before anything is saved; on a laptop and on a phone."""

import pytest
from playwright.sync_api import expect

from contacts import services as contact_services
from contacts.models import Segment
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(db):
    shop = contact_services.list_create(name="Shop")
    rows = [
        {"phone": f"+49151123456{i:02d}", "first_name": f"Kundin {i}",
         "attributes": {"city": "Berlin" if i % 2 else "Hamburg", "tier": "gold" if i < 3 else ""}}
        for i in range(10)
    ] + [{"phone": f"+336123456{i:02d}", "first_name": f"Client {i}",
          "attributes": {"city": "Paris"}} for i in range(4)]  # fmt: skip
    for row in rows:
        row["attributes"] = {k: v for k, v in row["attributes"].items() if v}
    contact_services.list_add_contacts(contact_list=shop, rows=rows)
    return shop


def live_count(page):
    return page.locator("#segment-count [data-count=live]")


@pytest.mark.parametrize("width", [1366, 390])
def test_a_segment_is_built_with_a_live_count(page, shot, manager, people, width):
    page.set_viewport_size({"width": width, "height": 900})
    login(page, "mona", PASSWORD)
    page.goto("/lists/segments/new/")
    page.fill("#id_name", f"Berlin gold {width}")

    # The first row asks about the country; the count follows the typing.
    expect(page.locator("#id_cond-0-field")).to_have_value("country")
    page.fill("#id_cond-0-value", "DE")
    expect(live_count(page)).to_have_text("10")
    expect(page.locator("#segment-count")).to_contain_text("Kundin 9")

    # A second condition, about an attribute: its own tests, and the
    # attribute names the contacts have.
    page.click("button:has-text('Add a condition')")
    expect(page.locator("#conditions .condition")).to_have_count(2)
    page.select_option("#id_cond-1-field", "attribute")
    ops = page.locator("#id_cond-1-op option")
    expect(ops).to_have_text(["equals", "does not equal", "contains", "is set", "is not set"])
    expect(page.locator("#id_cond-1-key option")).to_have_text(
        ["Choose an attribute…", "city", "tier"]
    )
    page.select_option("#id_cond-1-key", "city")
    expect(page.locator("#segment-count [data-incomplete]")).to_have_text(
        "Condition 2 is left out until it has a value."
    )
    page.fill("#id_cond-1-value", "Berlin")
    expect(live_count(page)).to_have_text("5")

    # "is set" needs no value: the box goes.
    page.select_option("#id_cond-1-op", "is_set")
    expect(page.locator("#id_cond-1-value")).to_have_count(0)
    expect(live_count(page)).to_have_text("10")
    page.select_option("#id_cond-1-op", "equals")
    page.fill("#id_cond-1-value", "Berlin")
    expect(live_count(page)).to_have_text("5")

    # Consent is picked from its three states, not typed.
    page.click("button:has-text('Add a condition')")
    page.select_option("#id_cond-2-field", "consent")
    expect(page.locator("#id_cond-2-value option")).to_have_text(
        ["opted in", "unknown", "opted out"]
    )
    page.select_option("#id_cond-2-value", "unknown")
    expect(live_count(page)).to_have_text("5")
    shot(page, f"segment-builder-{width}")

    # Remove the country: Berlin is only in Germany anyway.
    page.click("#conditions [data-condition='1'] .condition-remove")
    expect(page.locator("#conditions .condition")).to_have_count(2)
    expect(page.locator("#id_cond-0-field")).to_have_value("attribute")
    expect(live_count(page)).to_have_text("5")
    page.select_option("#id_match", "any")
    expect(live_count(page)).to_have_text("14")
    page.select_option("#id_match", "all")
    expect(live_count(page)).to_have_text("5")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.click("button:has-text('Save segment')")
    expect(page.locator("[data-count=segment-size]")).to_have_text("5")
    segment = Segment.objects.get(name=f"Berlin gold {width}")
    assert segment.conditions == [
        {"field": "attribute", "op": "equals", "key": "city", "value": "Berlin"},
        {"field": "consent", "op": "is", "key": "", "value": "unknown"},
    ]
    shot(page, f"segment-saved-{width}")


def test_an_existing_segment_opens_in_the_builder_with_its_count(page, manager, people):
    segment = Segment.objects.create(
        name="Parisians",
        conditions=[{"field": "attribute", "op": "equals", "key": "city", "value": "Paris"}],
    )
    login(page, "mona", PASSWORD)
    page.goto(f"/lists/segments/{segment.pk}/edit/")
    expect(page.locator("#id_cond-0-key")).to_have_value("city")
    expect(page.locator("#id_cond-0-value")).to_have_value("Paris")
    expect(live_count(page)).to_have_text("4")
