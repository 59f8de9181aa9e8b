"""The short way a provider callback takes through the site: none of the
middleware of people's pages, the same URLs as the URLconf gives the view,
the account from a cache that an edit clears, and where the time goes
counted only when asked for."""

import json
from pathlib import Path

import pytest
from django.db import connection
from django.urls import Resolver404, resolve
from django.utils import timezone

from campaigns.models import Campaign, Message
from providers import timing, webhooks
from providers.middleware import WebhookShortcutMiddleware
from providers.models import ProviderAccount, WebhookInbox
from providers.status import Status

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.django_db


@pytest.fixture
def infobip(db):
    return ProviderAccount.objects.create(
        name="Infobip", kind="infobip", base_url="https://api.example.com"
    )


@pytest.fixture
def stored_only(monkeypatch):
    """Callbacks are stored and their applier queued, but it never runs."""
    from django.core.cache import cache

    from campaigns import tasks
    from campaigns.reports import DRAIN_FLAG

    queued = []
    monkeypatch.setattr(tasks.apply_webhooks, "apply_async", lambda **kw: queued.append(kw))
    yield queued
    cache.delete(DRAIN_FLAG)


def body() -> bytes:
    return (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()


def path_of(account, event="") -> str:
    return account.webhook_url(event).replace("http://127.0.0.1:8000", "")


def post(client, account, data=None, **extra):
    return client.post(
        path_of(account), data=data or body(), content_type="application/json", **extra
    )


# -- no page middleware ------------------------------------------------------------------

# Middleware a callback never needs: (class, the method that does its work).
PAGE_MIDDLEWARE = [
    ("django.contrib.sessions.middleware.SessionMiddleware", "process_request"),
    ("django.middleware.common.CommonMiddleware", "process_request"),
    ("django.middleware.csrf.CsrfViewMiddleware", "process_request"),
    ("django.contrib.auth.middleware.AuthenticationMiddleware", "process_request"),
    ("django.contrib.auth.middleware.LoginRequiredMiddleware", "process_view"),
    ("smsportal.middleware.RoleRequiredMiddleware", "__call__"),
    ("django.contrib.messages.middleware.MessageMiddleware", "process_request"),
    ("django.middleware.clickjacking.XFrameOptionsMiddleware", "process_response"),
    ("django_htmx.middleware.HtmxMiddleware", "__call__"),
    ("smsportal.timezones.UserTimeZoneMiddleware", "__call__"),
    ("csp.middleware.CSPMiddleware", "process_response"),
    ("axes.middleware.AxesMiddleware", "__call__"),
]


@pytest.fixture
def page_middleware_calls(monkeypatch, settings):
    """The names of the page middleware that ran, in order."""
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


def test_a_callback_runs_none_of_the_page_middleware(client, infobip, page_middleware_calls):
    response = post(client, infobip)

    assert response.status_code == 200
    assert page_middleware_calls == []
    # Nothing a browser session or page would carry either.
    assert not response.cookies
    assert "Content-Security-Policy" not in response
    # What every answer carries still does.
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_page_still_runs_them_all(admin_client, page_middleware_calls):
    admin_client.get("/")
    assert {name for name, _ in PAGE_MIDDLEWARE} <= set(page_middleware_calls)


@pytest.mark.parametrize(
    "path",
    [
        "/hooks/abc/",
        "/hooks/abc/inbound/",
        "/hooks/abc/in-bound_2/",
        "/hooks/abc",
        "/hooks/",
        "/hooks//",
        "/hooks/abc/in.bound/",
        "/hooks/a/b/c/",
        "/hooksabc/",
        "/hook/abc/",
        "/providers/1/",
        "/",
    ],
)
def test_the_shortcut_takes_exactly_the_urls_of_the_webhook_view(path):
    shortcut = WebhookShortcutMiddleware(lambda request: None)
    try:
        match = resolve(path)
        routed = match.func is webhooks.webhook
    except Resolver404:
        match, routed = None, False
    taken = shortcut.match(path)
    assert (taken is not None) == routed, path
    if routed:
        assert taken == match.kwargs


def test_another_address_under_hooks_gets_the_usual_answer(client, infobip):
    # No trailing slash: the site redirects as for any page.
    response = client.get(path_of(infobip).rstrip("/"))
    assert response.status_code == 301
    assert response["Location"] == path_of(infobip)


def test_a_callback_to_an_unknown_host_is_refused(client, infobip):
    response = post(client, infobip, HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert not WebhookInbox.objects.exists()


def test_an_event_path_reaches_the_view_with_its_event(client, db, stored_only):
    account = ProviderAccount.objects.create(
        name="Infobip in", kind="infobip", base_url="https://api.example.com"
    )
    inbound = {"results": [{"messageId": "in-1", "from": "4915112345678", "text": "Hello"}]}
    response = client.post(
        path_of(account, "inbound"), data=json.dumps(inbound), content_type="application/json"
    )
    assert response.status_code == 200
    assert WebhookInbox.objects.get().event == "inbound"


# -- the account cache -----------------------------------------------------------------


def test_the_account_is_looked_up_once_for_a_burst(client, infobip, stored_only):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def account_lookups():
        with CaptureQueriesContext(connection) as queries:
            assert post(client, infobip).status_code == 200
        table = ProviderAccount._meta.db_table
        return sum(table in query["sql"] for query in queries.captured_queries)

    assert account_lookups() == 1
    assert account_lookups() == 0
    assert account_lookups() == 0
    assert WebhookInbox.objects.count() == 3


def test_disabling_an_account_takes_effect_at_once(client, infobip, stored_only):
    assert post(client, infobip).status_code == 200
    infobip.enabled = False
    infobip.save()
    assert post(client, infobip).status_code == 404
    assert WebhookInbox.objects.count() == 1


def test_a_new_secret_takes_effect_at_once(client, infobip, stored_only):
    old = path_of(infobip)
    assert post(client, infobip).status_code == 200
    infobip.webhook_secret = "a-new-secret-" + "x" * 30
    infobip.save()
    assert client.post(old, data=body(), content_type="application/json").status_code == 404
    assert post(client, infobip).status_code == 200


def test_new_basic_credentials_take_effect_at_once(client, infobip, stored_only):
    assert post(client, infobip).status_code == 200
    infobip.options = {"webhook_username": "hook", "webhook_password": "s3cret"}
    infobip.save()
    assert post(client, infobip).status_code == 401


def test_a_deleted_account_takes_no_more_callbacks(client, infobip, stored_only):
    url = path_of(infobip)
    assert post(client, infobip).status_code == 200
    infobip.delete()
    assert client.post(url, data=body(), content_type="application/json").status_code == 404


def test_a_change_made_by_another_process_is_seen_within_the_cache_time(
    client, infobip, stored_only, monkeypatch
):
    assert post(client, infobip).status_code == 200
    # Another process disabled it: no signal reaches this one.
    ProviderAccount.objects.filter(pk=infobip.pk).update(enabled=False)
    later = webhooks.time.monotonic() + webhooks.ACCOUNT_TTL + 1

    class Clock:
        @staticmethod
        def monotonic():
            return later

    monkeypatch.setattr(webhooks, "time", Clock)
    assert post(client, infobip).status_code == 404


# -- where the time goes ------------------------------------------------------------------


def test_nothing_is_counted_unless_asked_for(client, infobip, stored_only):
    assert timing.mark is timing._noop
    before = timing.snapshot()["requests"]
    assert post(client, infobip).status_code == 200
    assert timing.snapshot()["requests"] == before


def test_each_stage_of_a_callback_is_counted_when_asked_for(client, infobip, stored_only, tmp_path):
    timing.enable(str(tmp_path))
    try:
        before = timing.snapshot()
        assert post(client, infobip).status_code == 200
        client.get("/healthz")  # not a callback: not counted
        after = timing.snapshot()
    finally:
        timing.disable()
    assert after["requests"] - before["requests"] == 1
    for stage in timing.STAGES:
        spent = after["stages"][stage][1] - before["stages"][stage][1]
        assert spent > 0, stage
    assert timing.mark is timing._noop


# -- the answer comes before the work ------------------------------------------------------


def test_a_callback_is_stored_and_answered_before_anything_is_applied(
    client, infobip, sender, stored_only
):
    campaign = Campaign.objects.create(
        name="c", text="x", sender=sender, account=infobip, state="running"
    )
    for report in json.loads(body())["results"]:
        Message.objects.create(
            campaign=campaign,
            phone="+" + report["to"],
            account=infobip,
            provider_message_id=report["messageId"],
            status=Status.ACCEPTED,
            submitted_at=timezone.now(),
        )
    assert post(client, infobip).status_code == 200
    assert WebhookInbox.objects.count() == 1
    assert set(Message.objects.values_list("status", flat=True)) == {Status.ACCEPTED}


def _lz4_available() -> bool:
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        return False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL default_toast_compression = lz4")
    except Exception:
        return False
    return True


def test_stored_callbacks_are_compressed_with_lz4_where_the_server_has_it():
    from django.db import connection

    if not _lz4_available():
        pytest.skip("this PostgreSQL has no lz4: the inbox keeps the default")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, attcompression FROM pg_attribute "
            "WHERE attrelid = 'providers_webhookinbox'::regclass "
            "AND attname IN ('body', 'parsed') ORDER BY attname"
        )
        assert cursor.fetchall() == [("body", "l"), ("parsed", "l")]


on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements of PostgreSQL"
)


@on_postgresql
def test_the_insert_of_a_callback_is_planned_once_per_connection(client, infobip, stored_only):
    for _ in range(3):
        assert post(client, infobip).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s",
            ["INSERT INTO %webhookinbox%"],
        )
        assert len(cursor.fetchall()) == 1
    assert WebhookInbox.objects.count() == 3


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_behind_a_pooler_a_callback_is_stored_without_preparing(
    client, infobip, stored_only, monkeypatch
):
    """A pooler that hands each transaction another server connection
    knows no statement prepared on the one before: the callback is stored
    all the same, and from then on without preparing."""
    from smsportal import prepared

    monkeypatch.setitem(prepared.STATE, "on", True)
    assert post(client, infobip).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as another server connection would be
    assert post(client, infobip).status_code == 200
    assert prepared.STATE["on"] is False
    assert post(client, infobip).status_code == 200
    assert WebhookInbox.objects.count() == 3
    assert WebhookInbox.objects.filter(reports=len(json.loads(body())["results"])).count() == 3
