"""The short link redirect: a 302 to the stored address with the click
recorded (the agent's class; link previews and HEAD requests apart, never
counted), a plain 404 for anything else, no cookie, the short host of its
own, and none of the pages' middleware on the way."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import engagement, links
from campaigns.models import Click, Message, ShortLink, Variant
from providers.status import Status
from smsportal import prepared
from tests.providers.test_webhook_path import PAGE_MIDDLEWARE

pytestmark = pytest.mark.django_db
postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's one statement and prepared ones"
)

SHOP = "https://shop.example/autumn?u=C001#top"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


@pytest.fixture
def message(draft):
    return Message.objects.create(
        campaign=draft,
        account=draft.account,
        phone="+4915112345601",
        country="DE",
        text="Autumn sale: …",
        status=Status.DELIVERED,
        submitted_at=timezone.now(),
        sent_at=timezone.now(),
        done_at=timezone.now(),
    )


@pytest.fixture
def link(message):
    return ShortLink.objects.create(
        code="Ab3dE5fG", message=message, campaign=message.campaign, url=SHOP
    )


def test_a_tap_is_a_302_to_the_stored_address_and_a_click(client, link, message):
    response = client.get("/l/Ab3dE5fG", HTTP_USER_AGENT=IPHONE)

    assert response.status_code == 302
    assert response["Location"] == SHOP
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    assert not response.cookies and "Set-Cookie" not in response
    assert response.content == b""
    [click] = Click.objects.all()
    assert (click.link_id, click.message_id, click.campaign_id) == (
        link.pk,
        message.pk,
        message.campaign_id,
    )
    assert (click.source, click.agent, click.is_bot, click.variant_id) == (
        Click.Source.LINK,
        "mobile",
        False,
        None,
    )
    assert click.at is not None


def test_a_click_carries_the_message_s_variant(client, link, message):
    variant = Variant.objects.create(campaign=message.campaign, label="A", text="x")
    Message.objects.filter(pk=message.pk).update(variant=variant)
    client.get("/l/Ab3dE5fG", HTTP_USER_AGENT=DESKTOP)
    click = Click.objects.get()
    assert (click.variant_id, click.agent) == (variant.pk, "desktop")


@postgresql
def test_the_redirect_is_one_statement(client, link):
    """The look-up of the code and the INSERT of the click, together (a
    prepared statement of the connection)."""
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/l/Ab3dE5fG", HTTP_USER_AGENT=IPHONE)
        assert response.status_code == 302
        assert len(queries.captured_queries) == 1
    assert Click.objects.count() == 2


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_server_without_the_prepared_statement_is_asked_plainly(client, link, monkeypatch):
    """Behind a pooler that hands each transaction another server
    connection, the statement prepared on one is unknown to the next: the
    redirect asks without preparing from then on, and loses no click."""
    monkeypatch.setitem(prepared.STATE, "on", True)
    assert client.get("/l/Ab3dE5fG", HTTP_USER_AGENT=IPHONE).status_code == 302
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as another server connection would be
    response = client.get("/l/Ab3dE5fG", HTTP_USER_AGENT=IPHONE)
    assert (response.status_code, response["Location"]) == (302, SHOP)
    assert prepared.STATE["on"] is False
    assert client.get("/l/Ab3dE5fG", HTTP_USER_AGENT=IPHONE).status_code == 302
    assert Click.objects.count() == 3


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("facebookexternalhit/1.1 Facebot Twitterbot/1.0", "preview"),  # iMessage
        ("WhatsApp/2.24.6.77 A", "preview"),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "preview"),
        ("TelegramBot (like TwitterBot)", "preview"),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "preview"),
        ("meta-externalagent/1.1", "preview"),
        ("Twitterbot/1.0", "preview"),
        (
            "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
            "preview",
        ),
        ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "preview"),
        ("Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", "preview"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) MicrosoftPreview/2.0", "preview"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "preview"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "preview"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like "
            "Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
            "preview",
        ),
        ("curl/8.5.0", "preview"),
        ("python-requests/2.32.3", "preview"),
        ("SomeCrawler/3.1", "preview"),
        ("", "preview"),
    ],
)
def test_link_previews_are_recorded_apart_and_still_sent_on(client, link, agent, expected):
    response = client.get("/l/Ab3dE5fG", HTTP_USER_AGENT=agent)
    assert (response.status_code, response["Location"]) == (302, SHOP)
    click = Click.objects.get()
    assert (click.agent, click.is_bot) == (expected, True)


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (IPHONE, "mobile"),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Mobile Safari/537.36",
            "mobile",
        ),
        # A phone whose maker's name ends in "bot" is still a phone.
        (
            "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Mobile Safari/537.36",
            "mobile",
        ),
        # In-app browsers are people.
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/460.0.0.36.107]",
            "mobile",
        ),
        (DESKTOP, "desktop"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.4 Safari/605.1.15",
            "desktop",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "desktop"),
        ("SomeTV/1.0", "other"),
    ],
)
def test_people_s_clicks_are_classed_by_device(client, link, agent, expected):
    client.get("/l/Ab3dE5fG", HTTP_USER_AGENT=agent)
    click = Click.objects.get()
    assert (click.agent, click.is_bot) == (expected, False)


def test_a_head_request_is_a_preview_too(client, link):
    response = client.head("/l/Ab3dE5fG", HTTP_USER_AGENT=IPHONE)
    assert (response.status_code, response["Location"]) == (302, SHOP)
    click = Click.objects.get()
    assert (click.agent, click.is_bot) == ("head", True)


def test_previews_are_never_counted_as_clicks(client, link, message):
    client.head("/l/Ab3dE5fG", HTTP_USER_AGENT=IPHONE)
    client.get("/l/Ab3dE5fG", HTTP_USER_AGENT="WhatsApp/2.24.6.77 A")
    client.get("/l/Ab3dE5fG", HTTP_USER_AGENT=IPHONE)
    client.get("/l/Ab3dE5fG", HTTP_USER_AGENT=IPHONE)

    figures = engagement.campaign_figures(message.campaign)
    assert (figures.clicks, figures.unique_clicks, figures.previews) == (2, 1, 2)
    assert Click.objects.filter(is_bot=False).count() == 2


@pytest.mark.parametrize(
    "path",
    [
        "/l/Zz9Yy8Xx",  # a code no link has
        "/l/Ab3dE5f",  # too short
        "/l/Ab3dE5fGh",  # too long
        "/l/Ab3dE5fG/",
        "/l/Ab3dE-fG",
        "/l/",
        "/l/..%2F..%2Fadmin",
    ],
)
def test_anything_but_a_known_code_is_a_plain_404(client, link, path):
    response = client.get(path, HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    assert "<title>Link not found</title>" in page and "This link does not work" in page
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies
    assert not Click.objects.exists()


def test_only_get_and_head_are_answered(client, link):
    response = client.post("/l/Ab3dE5fG")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert not Click.objects.exists()


def test_a_stored_address_that_is_not_http_is_never_redirected_to(client, link):
    ShortLink.objects.filter(pk=link.pk).update(url="javascript:alert(1)")
    response = client.get("/l/Ab3dE5fG", HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 404
    assert "Location" not in response


def test_a_host_that_is_not_allowed_is_refused(client, link):
    response = client.get("/l/Ab3dE5fG", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert not Click.objects.exists()


# -- where the redirect answers --------------------------------------------------------------


@pytest.fixture
def short_host(settings):
    settings.SHORT_LINK_BASE_URL = "https://s.example.com/"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "s.example.com", "sms.example.com"]
    settings.PUBLIC_BASE_URL = "https://sms.example.com"


def test_a_short_host_of_its_own_answers_at_its_root(client, link, short_host):
    assert links.short_url("Ab3dE5fG") == "https://s.example.com/Ab3dE5fG"
    response = client.get("/Ab3dE5fG", HTTP_HOST="s.example.com", HTTP_USER_AGENT=IPHONE)
    assert (response.status_code, response["Location"]) == (302, SHOP)
    assert not response.cookies
    unknown = client.get("/Zz9Yy8Xx", HTTP_HOST="s.example.com")
    assert unknown.status_code == 404 and b"This link does not work" in unknown.content
    # /l/ answers there and on the site too.
    assert client.get("/l/Ab3dE5fG", HTTP_HOST="s.example.com").status_code == 302
    assert client.get("/l/Ab3dE5fG", HTTP_HOST="sms.example.com").status_code == 302
    assert Click.objects.count() == 3


def test_the_site_s_own_root_is_left_to_its_pages(client, link, short_host):
    # On the site's host a code-like path is the site's (it has no such page).
    response = client.get("/Ab3dE5fG", HTTP_HOST="sms.example.com")
    assert response.status_code == 404
    assert b"This link does not work" not in response.content
    assert not Click.objects.exists()


def test_a_short_link_on_the_site_s_own_root_leaves_other_paths_to_the_pages(
    client, link, settings
):
    settings.SHORT_LINK_BASE_URL = "http://testserver/"
    settings.PUBLIC_BASE_URL = "http://testserver"
    assert client.get("/Ab3dE5fG").status_code == 302
    # "messages" is eight letters too: still the message log (sign-in first).
    response = client.get("/messages")
    assert response.status_code == 301 and response["Location"] == "/messages/"
    assert Click.objects.count() == 1


def test_a_base_with_a_path_answers_under_it(client, link, settings):
    settings.SHORT_LINK_BASE_URL = "http://testserver/go/"
    response = client.get("/go/Ab3dE5fG", HTTP_USER_AGENT=IPHONE)
    assert (response.status_code, response["Location"]) == (302, SHOP)
    assert client.get("/go/Zz9Yy8Xx").status_code == 404


# -- the lean path ---------------------------------------------------------------------------


@pytest.fixture
def page_middleware_calls(monkeypatch, settings):
    from django.utils.module_loading import import_string

    ran = []
    for dotted, method in PAGE_MIDDLEWARE:
        assert dotted in settings.MIDDLEWARE, dotted
        cls = import_string(dotted)
        original = getattr(cls, method)

        def spy(self, *args, _original=original, _name=dotted, **kwargs):
            ran.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, method, spy)
    return ran


def test_a_tap_runs_none_of_the_page_middleware(client, link, page_middleware_calls):
    assert client.get("/l/Ab3dE5fG", HTTP_USER_AGENT=IPHONE).status_code == 302
    assert client.get("/l/Zz9Yy8Xx").status_code == 404
    assert page_middleware_calls == []


def test_the_short_link_middleware_comes_before_the_sessions(settings):
    middleware = settings.MIDDLEWARE
    ours = middleware.index("campaigns.middleware.ShortLinkMiddleware")
    assert ours < middleware.index("django.contrib.sessions.middleware.SessionMiddleware")
    assert ours > middleware.index("django.middleware.security.SecurityMiddleware")


# -- the setting -----------------------------------------------------------------------------


def settings_with(**env) -> subprocess.CompletedProcess:
    code = (
        "import smsportal.settings as s; "
        "print(s.SHORT_LINK_BASE_URL); print(','.join(s.ALLOWED_HOSTS))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "DEBUG": "true", "ALLOWED_HOSTS": "sms.example.com", **env},
        cwd=Path(__file__).resolve().parents[2],
    )


def test_the_short_host_is_allowed_without_being_listed():
    done = settings_with(
        SHORT_LINK_BASE_URL="https://s.example.com", PUBLIC_BASE_URL="https://sms.example.com"
    )
    base, hosts = done.stdout.split()
    assert base == "https://s.example.com/"
    assert hosts.split(",") == ["sms.example.com", "s.example.com"]
    done = settings_with(SHORT_LINK_BASE_URL="", PUBLIC_BASE_URL="https://sms.example.com")
    assert done.stdout.split() == ["https://sms.example.com/l/", "sms.example.com"]


@pytest.mark.parametrize(
    "value", ["javascript:alert(1)", "s.example.com", "https://s.example.com/a b/", "ftp://s/"]
)
def test_a_short_link_base_that_is_not_an_http_address_is_refused_at_start(value):
    done = settings_with(SHORT_LINK_BASE_URL=value)
    assert done.returncode != 0
    assert "SHORT_LINK_BASE_URL" in done.stderr and "ImproperlyConfigured" in done.stderr
