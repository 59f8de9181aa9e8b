"""Playwright driving Debian's Chromium (never a downloaded browser) against
the live test server. Screenshots of each main page go to
test-artifacts/screenshots/."""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make around it are still plain synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed: run through `make test`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def country_names():
    """The country dropdowns' names take phonenumbers many seconds to load
    the first time; load them before a page waits on them."""
    from smsportal.phones import country_choices

    return country_choices()


@pytest.fixture
def page(browser, live_server, country_names):
    # Reduced motion, which the pages honour: charts are drawn at once, so
    # a screenshot shows them whole rather than halfway through growing.
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        base_url=live_server.url,
        reduced_motion="reduce",
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shot():
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        # Not halfway through an htmx swap (faded) or a request. Polled from
        # here: a polling function in the page would be an eval, which the
        # Content Security Policy refuses.
        busy = "!!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
        for _ in range(50):
            if not page.evaluate(busy):
                break
            page.wait_for_timeout(100)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    return take


def login(page, username, password):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
