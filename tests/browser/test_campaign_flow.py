"""A person's first campaign in a real browser: log in, make a list, add
contacts, compose, launch, watch it complete, read the log."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_runs_a_campaign_from_list_to_delivery(page, shot, manager, sandbox, sender):
    login(page, "mona", PASSWORD)
    expect(page.locator("h1")).to_have_text("Dashboard")
    shot(page, "dashboard")

    page.click("nav >> text=Contacts & lists")
    page.fill("#id_name", "Newsletter")
    page.click("text=Create list")
    expect(page.locator(".flash-success")).to_contain_text("List “Newsletter” created")
    page.fill("#id_numbers", "+4915112345601, Anna\n+33612345605, Lucas\n12345\n+4915112340000")
    page.click("text=Add to list")
    expect(page.locator(".form-errors")).to_contain_text("Line 3 (12345)")
    expect(page.locator("table")).to_contain_text("+49 1511 2345601")
    shot(page, "list")

    page.click("nav >> text=Campaigns")
    page.click("text=New campaign")
    page.fill("#id_name", "Autumn")
    page.fill("#id_text", 'Hi {{ first_name|default:"there" }}, autumn sale!')
    page.select_option("#id_account", label="Sandbox")
    page.select_option("#id_sender", label="Shop")
    page.check("#id_lists input[type=checkbox] >> nth=0")
    page.click("text=Save draft")
    expect(page.locator(".preview")).to_contain_text("3 recipient(s)")
    expect(page.locator(".preview")).to_contain_text("Hi Anna, autumn sale!")
    expect(page.locator("body")).to_contain_text("Ready to launch.")
    shot(page, "campaign-draft")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Launch')")
    expect(page.locator(".flash-success")).to_contain_text("Launched")
    expect(page.locator("#progress")).to_contain_text("3 of 3")
    expect(page.locator("#progress [data-status=delivered]")).to_have_text("2")
    expect(page.locator("#progress [data-status=undelivered]")).to_have_text("1")
    shot(page, "campaign-running")

    page.click("text=All messages →")
    expect(page.locator("#results tbody tr")).to_have_count(3)
    page.fill("input[name=phone]", "+3361")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator("#results")).to_contain_text("+33 6 12 34 56 05")
    shot(page, "message-log")
    page.click("#results >> text=+33 6 12 34 56 05")
    expect(page.locator("h1")).to_contain_text("+33 6 12 34 56 05")
    expect(page.locator("body")).to_contain_text("Delivery report")
    shot(page, "message")

    # The dashboard sums what went out today from the counters.
    page.click("nav >> text=Dashboard")
    expect(page.locator("[data-stat=today-sent]")).to_have_text("3")
    expect(page.locator("[data-stat=month-rate]")).to_have_text("66.7%")
    expect(page.locator("#cost-by-provider")).to_contain_text("Sandbox")
    expect(page.locator("canvas[data-chart]")).to_have_count(4)
    # One provider is a whole ring, drawn without the white line between
    # slices (which would show as a notch at its top).
    page.wait_for_function(
        """() => [...document.querySelectorAll('canvas[data-chart]')]
          .some(canvas => window.Chart && window.Chart.getChart(canvas))"""
    )
    ring = page.evaluate(
        """() => [...document.querySelectorAll('canvas[data-chart]')]
          .map(canvas => window.Chart.getChart(canvas))
          .filter(chart => chart && chart.config.type === 'doughnut')
          .map(chart => [chart.data.datasets[0].data.length, chart.data.datasets[0].borderWidth])"""
    )
    assert ring == [[1, 0]]
    shot(page, "dashboard-after-campaign")


def test_an_analyst_sees_but_cannot_launch(page, analyst, draft):
    login(page, "andy", PASSWORD)
    page.goto(f"/campaigns/{draft.pk}/")
    expect(page.locator("h1")).to_have_text("Spring sale")
    expect(page.locator("button:has-text('Launch')")).to_have_count(0)
    expect(page.locator("text=Send test")).to_have_count(0)


def test_bad_input_is_explained_where_it_happened(page, manager, sandbox, sender):
    login(page, "mona", PASSWORD)
    page.goto("/campaigns/new/")
    page.click("text=Save draft")
    expect(page.locator(".form-errors")).to_be_visible()
    expect(page.locator("#id_name_error")).to_have_text("This field is required.")
    page.goto("/senders/")
    page.fill("#id_value", "THIS-IS-TOO-LONG")
    page.click("button:has-text('Request')")
    expect(page.locator(".field-errors")).to_contain_text(re.compile("3 to 11 characters"))
