"""Hostile input, and what it may not do.

A corpus of hostile values thrown at every form and filter: script tags,
formula cells, SQL-looking strings, null bytes, emoji, right-to-left text,
huge and empty values. Each gets a clear error or is stored and shown
safely; nothing answers 500, and nothing stored before changes.

Then what a provider or a user can send that would stall, starve or reach
inside: callbacks no worker could apply (refused at the door, or set aside
by the worker), bodies nested deep or too large, upload bombs and damaged
workbooks (with time and memory measured here), templates that would make
a backtracking matcher run for hours, base URLs pointing inside; and the
rules around them (exports, caching, secrets, password reset, tokens,
reports that never come, a worker that dies under `make run`)."""

import json
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, DeliveryWindow, Message, MessageEvent, SenderID
from contacts.models import Contact, ContactList, Suppression
from providers.models import FailedCallback, InboundMessage, ProviderAccount, WebhookInbox
from providers.status import Status

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
CORPUS = [
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    '=HYPERLINK("http://evil.example","x")',
    "+SUM(1+1)",
    "@cmd",
    "'; DROP TABLE contacts_contact; --",
    "1 OR 1=1",
    "nul\x00byte",
    "😀" * 40,
    "\u202etxet.exe",
    "مرحبا بالعالم",
    "x" * 5000,
    "",
    "   ",
    "\r\n\t",
]


def no_live_markup(html: str) -> bool:
    """What was typed is shown as text, never as markup."""
    return SCRIPT not in html and "<img src=x" not in html


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


FORMS = [
    ("contacts:lists", {"name": None, "description": None}),
    ("campaigns:senders", {"value": None, "note": None, "countries_text": None}),
    (
        "campaigns:windows",
        {
            "name": None,
            "days": ["0"],
            "start_time": "09:00",
            "end_time": "17:00",
            "time_zone": None,
        },
    ),
]


@pytest.mark.parametrize(("url_name", "fields"), FORMS, ids=[f[0] for f in FORMS])
def test_forms_answer_every_hostile_value_clearly(admin_client, url_name, fields):
    before = (ContactList.objects.count(), SenderID.objects.count(), DeliveryWindow.objects.count())
    for value in CORPUS:
        data = {k: (value if v is None else v) for k, v in fields.items()}
        response = admin_client.post(reverse(url_name), data)
        assert response.status_code in (200, 302, 400), (value[:20], response.status_code)
        page = admin_client.get(reverse(url_name)).content.decode()
        assert no_live_markup(page)
    # Null bytes and blank names are refused, not stored.
    # (Checked in Python: SQLite's LIKE stops at a null byte.)
    assert not any("\x00" in n for n in ContactList.objects.values_list("name", flat=True))
    assert not ContactList.objects.filter(name__regex=r"^\s*$").exists()
    assert before[0] <= ContactList.objects.count()


def test_pasted_contacts_with_hostile_names_are_stored_as_text(admin_client):
    contact_list = ContactList.objects.create(name="Target")
    lines = "\n".join(f"+491511234{n:04d}, {value[:90]}" for n, value in enumerate(CORPUS[:11]))
    response = admin_client.post(
        reverse("contacts:list", args=[contact_list.pk]), {"numbers": lines, "country": ""}
    )
    assert response.status_code in (200, 302, 400)
    page = admin_client.get(reverse("contacts:list", args=[contact_list.pk])).content.decode()
    assert no_live_markup(page)
    assert not any("\x00" in n for n in Contact.objects.values_list("first_name", flat=True))


def test_a_campaign_with_hostile_text_is_previewed_safely(admin_client, sandbox, sender, customers):
    for value in CORPUS:
        response = admin_client.post(
            reverse("campaigns:create"),
            {
                "name": value[:150] or "x",
                "text": value,
                "account": sandbox.pk,
                "sender": sender.pk,
                "lists": [customers.pk],
            },
        )
        assert response.status_code in (200, 302, 400), (value[:20], response.status_code)
    for campaign in Campaign.objects.all():
        page = admin_client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
        assert no_live_markup(page)
    assert not any("\x00" in t for t in Campaign.objects.values_list("text", flat=True))


@pytest.mark.parametrize(
    "url_name",
    ["campaigns:messages", "contacts:contacts", "audit", "inbound", "home", "campaigns:index"],
)
def test_filters_take_hostile_query_strings(admin_client, url_name):
    for value in CORPUS[:12]:
        for key in ("campaign", "status", "phone", "q", "after", "account", "date_from", "page"):
            response = admin_client.get(reverse(url_name), {key: value})
            assert response.status_code in (200, 400), (key, value[:20], response.status_code)
            assert no_live_markup(response.content.decode())


@pytest.mark.parametrize(
    "path",
    ["/api/v1/messages/", "/api/v1/contacts/", "/api/v1/campaigns/", "/api/v1/reports/cost/"],
)
def test_api_filters_take_hostile_values_with_a_json_error(admin_client, path):
    for value in CORPUS[:12]:
        for key in ("status", "campaign", "created_after", "phone_prefix", "country", "group_by"):
            response = admin_client.get(path, {key: value})
            assert response.status_code in (200, 400), (key, value[:20], response.status_code)
            if "\x00" not in value:  # refused before the API, as plain text
                assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("value", CORPUS)
def test_webhooks_refuse_hostile_bodies_without_crashing(client, sandbox, value):
    url = reverse("providers:webhook", args=[sandbox.webhook_secret])
    response = client.post(
        url, data=value.encode("utf-8", "surrogatepass"), content_type="application/json"
    )
    assert response.status_code in (200, 400)


# -- provider callbacks: refused at the door, or set aside by the worker ------------

FIXTURES = Path(__file__).parent / "providers" / "fixtures"


def stored_state():
    """Everything a callback could change."""
    return {
        "inbox": list(WebhookInbox.objects.values_list("id", flat=True)),
        "failed": FailedCallback.objects.count(),
        "events": MessageEvent.objects.count(),
        "messages": list(Message.objects.order_by("id").values_list("id", "status")),
        "inbound": InboundMessage.objects.count(),
        "suppressions": Suppression.objects.count(),
    }


def hook(client, account, body, content_type="application/json"):
    url = account.webhook_url().replace(settings.PUBLIC_BASE_URL, "")
    return client.post(url, data=body, content_type=content_type)


@pytest.fixture
def accepted(sandbox, sender):
    """Two messages sent through the sandbox, waiting for their reports."""
    campaign = Campaign.objects.create(
        name="c", text="x", sender=sender, account=sandbox, state="running"
    )
    return [
        Message.objects.create(
            campaign=campaign,
            phone=f"+49151123456{n:02d}",
            account=sandbox,
            provider_message_id=f"sbx-{n}",
            status=Status.ACCEPTED,
            submitted_at=timezone.now(),
        )
        for n in (1, 2)
    ]


def sandbox_report(**fields):
    return json.dumps({"reports": [{"id": "sbx-1", "status": "delivered", **fields}]})


POISON = {
    # Parsed as infinity: no JSON column can hold it.
    "infinite id": '{"reports":[{"id":1e999,"status":"delivered"}]}',
    "infinite value": '{"reports":[{"id":"sbx-1","status":"delivered","price":-1e999}]}',
    # A reference that reads as a number but is no message id.
    "ref beyond ids": sandbox_report(ref="99999999999999999999"),
    "ref superscript": sandbox_report(ref="²"),
    "ref arabic digits": sandbox_report(ref="١٢"),
    "ref 5,000 digits": sandbox_report(ref="7" * 5000),
    "ref 5,000-digit number": '{"reports":[{"id":"sbx-1","ref":'
    + "7" * 5000
    + ',"status":"delivered"}]}',
    # PostgreSQL keeps no null character in text or jsonb.
    "null character": '{"reports":[{"id":"sbx-1","status":"delivered","note":"a\\u0000b"}]}',
    "null in a key": '{"reports":[{"id":"sbx-1","status":"delivered","\\u0000":1}]}',
    "null in the id": '{"reports":[{"id":"sbx\\u0000","status":"delivered"}]}',
    # Half of a UTF-16 pair on its own (\ud800 reads as one): no UTF-8 form,
    # so neither text nor jsonb can hold it.
    "unpaired surrogate": '{"reports":[{"id":"sbx-1","status":"delivered","note":"a\\ud800b"}]}',
    "unpaired surrogate in a key": '{"reports":[{"id":"sbx-1","status":"delivered","\\udc00":1}]}',
    "unpaired surrogate in the id": '{"reports":[{"id":"sbx\\udfff","status":"delivered"}]}',
    "unpaired surrogate in the error": sandbox_report(error="E\ud800"),
    "id longer than its column": sandbox_report(id="x" * 201),
    "error is a number": sandbox_report(error=123),
    "error is null": sandbox_report(error=None),
    "status is a list": '{"reports":[{"id":"sbx-1","status":["delivered"]}]}',
}


@pytest.mark.parametrize("body", POISON.values(), ids=POISON.keys())
def test_a_callback_no_worker_could_apply_is_refused_and_stored_nowhere(
    client, sandbox, accepted, body
):
    before = stored_state()
    response = hook(client, sandbox, body)
    assert response.status_code == 400, response.content[:200]
    assert response["Content-Type"].startswith("text/plain")
    assert stored_state() == before


def test_a_long_numeric_infobip_message_id_is_refused_at_the_door(client, db):
    # Infobip's messageId doubles as our reference.
    infobip = ProviderAccount.objects.create(name="Infobip", kind="infobip")
    body = json.loads((FIXTURES / "infobip" / "delivery_reports.json").read_text())
    body["results"][0]["messageId"] = "9" * 25
    before = stored_state()
    assert hook(client, infobip, json.dumps(body)).status_code == 400
    assert stored_state() == before


def test_a_sound_callback_still_gets_through(client, sandbox, accepted):
    assert hook(client, sandbox, sandbox_report(error="")).status_code == 200
    accepted[0].refresh_from_db()
    assert accepted[0].status == Status.DELIVERED


def test_a_surrogate_pair_is_text_and_gets_through(client, sandbox, accepted):
    """Outside the basic plane, JSON writes a character as two escapes: a
    pair, which reads as the one character, is kept as it came."""
    body = '{"reports":[{"id":"sbx-1","status":"delivered","note":"ok \\ud83d\\ude00"}]}'
    assert hook(client, sandbox, body).status_code == 200
    accepted[0].refresh_from_db()
    assert accepted[0].status == Status.DELIVERED
    event = MessageEvent.objects.get(message=accepted[0], kind=MessageEvent.Kind.REPORT)
    assert event.payload["note"] == "ok \U0001f600"


@pytest.fixture
def every_kind(db):
    from providers.registry import BACKENDS

    return [
        ProviderAccount.objects.create(name=kind, kind=kind, base_url="https://api.example.com/")
        for kind in BACKENDS
    ]


DEEP = {
    "json 100k deep": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "json objects 100k deep": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json"),
    "json never closed": (b"[" * 100_000, "application/json"),
    "xml 50k deep": (b"<a>" * 50_000 + b"</a>" * 50_000, "application/xml"),
    "xml 50k deep, no type": (b"<results>" + b"<a>" * 50_000 + b"</a>" * 50_000, "text/plain"),
}


@pytest.mark.parametrize(("body", "content_type"), DEEP.values(), ids=DEEP.keys())
def test_deeply_nested_bodies_are_refused_on_every_webhook_before_parsing(
    client, every_kind, body, content_type
):
    before = stored_state()
    for account in every_kind:
        started = time.perf_counter()
        response = hook(client, account, body, content_type)
        assert response.status_code == 400, (account.kind, response.content[:200])
        assert time.perf_counter() - started < 0.5, account.kind
    assert stored_state() == before


def test_the_depth_count_is_exact_and_ignores_brackets_in_strings():
    from providers.screening import MAX_DEPTH, json_depth_exceeds

    assert not json_depth_exceeds(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, MAX_DEPTH)
    assert json_depth_exceeds(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), MAX_DEPTH)
    quoted = b'{"a": "' + b"[" * 1000 + b'\\"{{{", "b": [1, {"c": "]]]"}]}'
    assert not json_depth_exceeds(quoted, MAX_DEPTH)
    # Linear, even where a backtracking pattern would not be.
    hostile = b'"' + b'\\"' * 1_000_000
    started = time.perf_counter()
    json_depth_exceeds(hostile, MAX_DEPTH)
    json_depth_exceeds(b'"' * 2_000_000, MAX_DEPTH)
    assert time.perf_counter() - started < 0.5


def utf16(text: str) -> bytes:
    return text.encode("utf-16")


@pytest.mark.parametrize(
    "body",
    [
        utf16('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>'),
        '<!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>'.encode("utf-16-le"),
        '<!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>'.encode("utf-16-be"),
        b'<?xml version="1.0"?>\n<!DOCTYPE r SYSTEM "http://169.254.169.254/"><r/>',
    ],
    ids=["utf-16 with mark", "utf-16-le", "utf-16-be", "external"],
)
def test_xml_with_a_document_type_is_refused_in_any_encoding(client, db, body):
    infobip = ProviderAccount.objects.create(name="Infobip", kind="infobip")
    before = stored_state()
    response = hook(client, infobip, body, "application/xml")
    assert response.status_code == 400
    assert "document type" in response.content.decode()
    assert stored_state() == before


def test_utf16_xml_without_a_document_type_is_read(client, db):
    infobip = ProviderAccount.objects.create(name="Infobip", kind="infobip")
    text = (FIXTURES / "infobip" / "delivery_reports.xml").read_text()
    text = text.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    assert hook(client, infobip, text.encode("utf-16"), "application/xml").status_code == 200


@pytest.mark.parametrize("size", [2_621_441, 3_000_000, 4_000_000, 5_000_000, 6_000_000])
def test_bodies_above_the_limit_get_413_at_every_size(client, sandbox, accepted, size):
    body = b'{"reports": [' + b" " * (size - 15) + b"]}"
    assert len(body) == size
    before = stored_state()
    response = hook(client, sandbox, body)
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
    assert stored_state() == before


def test_a_body_at_the_limit_is_read(client, sandbox, accepted):
    from providers.webhooks import MAX_BODY

    report = sandbox_report(error="")
    body = report[:-1] + " " * (MAX_BODY - len(report)) + "}"
    assert len(body.encode()) == MAX_BODY
    assert hook(client, sandbox, body).status_code == 200


def test_a_callback_naming_60000_unknown_ids_records_one_summary_event(client, sandbox, accepted):
    reports = [{"id": f"u{n}", "status": "delivered"} for n in range(60_000)]
    body = json.dumps({"reports": reports}, separators=(",", ":"))
    assert hook(client, sandbox, body).status_code == 200
    summary = MessageEvent.objects.get()
    assert summary.message_id is None and summary.payload["unknown_reports"] == 60_000
    assert len(summary.payload["first_ids"]) == 20
    assert not WebhookInbox.objects.exists() and not FailedCallback.objects.exists()
    assert {m.status for m in Message.objects.all()} == {Status.ACCEPTED}


# -- the worker applying stored callbacks ------------------------------------------------


def store(account, body: str) -> WebhookInbox:
    """A callback as the webhook stores it, without the door's screening (as
    one stored before it, or one the screening does not know to refuse)."""
    return WebhookInbox.objects.create(
        account=account, method="POST", content_type="application/json", body=body.encode()
    )


def test_a_poison_callback_between_two_sound_ones_is_set_aside_and_both_are_applied(
    sandbox, accepted
):
    from campaigns.reports import apply_stored_webhooks

    store(sandbox, json.dumps({"reports": [{"id": "sbx-1", "status": "delivered"}]}))
    poison = store(sandbox, POISON["ref beyond ids"])
    store(sandbox, json.dumps({"reports": [{"id": "sbx-2", "status": "undelivered"}]}))

    assert apply_stored_webhooks() == 3
    statuses = dict(Message.objects.values_list("provider_message_id", "status"))
    assert statuses == {"sbx-1": Status.DELIVERED, "sbx-2": Status.UNDELIVERED}
    assert not WebhookInbox.objects.exists()
    failed = FailedCallback.objects.get()
    assert bytes(failed.body) == bytes(poison.body) and failed.account == sandbox
    assert "reference" in failed.error and failed.received_at == poison.received_at


@pytest.mark.parametrize(
    ("poison", "kept"),
    [
        (POISON["infinite id"], {"id": "inf"}),
        (POISON["null character"], {"note": "a\\x00b"}),
    ],
    ids=["infinity", "null character"],
)
def test_what_the_screening_let_through_is_kept_as_the_database_can_keep_it(
    sandbox, accepted, monkeypatch, poison, kept
):
    """A value neither text nor jsonb can hold, in a callback the screening
    did not refuse (one stored before it knew to, say), is kept in the
    history with the provider's words escaped, and the batch goes through:
    the status path keeps whatever a provider said."""
    from campaigns.reports import apply_stored_webhooks
    from providers import screening

    monkeypatch.setattr(screening, "check_result", lambda result: None)
    store(sandbox, json.dumps({"reports": [{"id": "sbx-1", "status": "delivered"}]}))
    store(sandbox, poison)
    store(sandbox, json.dumps({"reports": [{"id": "sbx-2", "status": "delivered"}]}))

    assert apply_stored_webhooks() == 3
    assert set(Message.objects.values_list("status", flat=True)) == {Status.DELIVERED}
    assert not WebhookInbox.objects.exists()
    assert not FailedCallback.objects.exists()
    payloads = [e.payload for e in MessageEvent.objects.filter(kind=MessageEvent.Kind.REPORT)]
    assert any(kept.items() <= payload.items() for payload in payloads), payloads


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a constraint added in the test")
def test_a_callback_failing_in_the_status_path_is_set_aside_not_retried_forever(sandbox, accepted):
    """Whatever the database refuses in the status path (here a constraint
    the test adds refuses one callback's history row): the batch is applied
    again one callback at a time, the failing one set aside, with the
    database's reason."""
    from campaigns.reports import apply_stored_webhooks

    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {MessageEvent._meta.db_table} ADD CONSTRAINT refuses_the_poison "
            "CHECK (provider_message_id <> 'sbx-poison')"
        )
    store(sandbox, json.dumps({"reports": [{"id": "sbx-1", "status": "delivered"}]}))
    poison = store(sandbox, json.dumps({"reports": [{"id": "sbx-poison", "status": "delivered"}]}))
    store(sandbox, json.dumps({"reports": [{"id": "sbx-2", "status": "delivered"}]}))

    assert apply_stored_webhooks() == 3
    assert set(Message.objects.values_list("status", flat=True)) == {Status.DELIVERED}
    assert not WebhookInbox.objects.exists()
    failed = FailedCallback.objects.get()
    assert bytes(failed.body) == bytes(poison.body)
    assert "refuses_the_poison" in failed.error
    # Applied or set aside, never stuck: a later callback goes through.
    store(sandbox, json.dumps({"reports": [{"id": "sbx-9", "status": "delivered"}]}))
    assert apply_stored_webhooks() == 1


def test_callbacks_set_aside_are_shown_to_admins_and_can_be_applied_again(
    client, admin_user, manager, sandbox, accepted
):
    from campaigns.reports import apply_stored_webhooks

    store(sandbox, json.dumps({"reports": [{"id": "sbx-1", "status": "delivered"}]}))
    store(sandbox, POISON["ref superscript"])
    apply_stored_webhooks()
    failed = FailedCallback.objects.get()

    client.force_login(admin_user)
    listing = client.get(reverse("admin:providers_failedcallback_changelist"))
    assert listing.status_code == 200 and "is not a message id" in listing.content.decode()
    page = client.get(reverse("admin:providers_failedcallback_change", args=[failed.pk]))
    assert page.status_code == 200 and "²" in page.content.decode()
    manager.is_staff = True
    manager.save()
    client.force_login(manager)
    assert client.get(reverse("admin:providers_failedcallback_changelist")).status_code == 403

    client.force_login(admin_user)
    response = client.post(
        reverse("admin:providers_failedcallback_changelist"),
        {"action": "apply_again", "_selected_action": [failed.pk]},
    )
    assert response.status_code == 302
    assert WebhookInbox.objects.count() == 1 and not FailedCallback.objects.exists()
    # Still refused when applied, so set aside again, with its error.
    apply_stored_webhooks()
    assert FailedCallback.objects.count() == 1
    assert not WebhookInbox.objects.exists()


# -- DLT template matching: linear, whatever the template and text ---------------------

ADVERSARIAL_TEMPLATES = {
    "seven vars then X": "{#var#}" * 7 + "X",
    "many vars then X": "{#var#}" * 280 + "X",
    "a between vars": "a{#var#}" * 250,
    "growing literals": "{#var#}".join("a" * n for n in range(1, 50)),
    "vars then a": "{#var#}" * 100 + "a" * 100,
}
LONGEST_TEXT = 2000  # the DLT test page's limit; campaigns stop at 1600


@pytest.mark.parametrize(
    "content", ADVERSARIAL_TEMPLATES.values(), ids=ADVERSARIAL_TEMPLATES.keys()
)
@pytest.mark.parametrize("text", ["a" * 70, "a" * LONGEST_TEXT, "ab" * (LONGEST_TEXT // 2)])
def test_dlt_matching_takes_milliseconds_for_adversarial_templates(content, text):
    from campaigns.compose import dlt_matches, dlt_pattern

    started = time.perf_counter()
    dlt_matches(content, text)
    dlt_pattern(content).matches(text + "X")
    assert time.perf_counter() - started < 0.1


def test_dlt_matching_agrees_with_the_regular_expression_it_replaces():
    """The old backtracking pattern as the oracle, on inputs small enough for it."""
    import random
    import re

    from campaigns.compose import dlt_matches

    rng = random.Random(17)
    for _ in range(3000):
        parts = ["".join(rng.choices("ab", k=rng.randint(0, 3))) for _ in range(rng.randint(1, 4))]
        content = "{#var#}".join(parts)
        text = "".join(rng.choices("ab\n", k=rng.randint(0, 70)))
        if rng.random() < 0.5:  # a text built from the template, to match often
            text = "".join(p + "b" * rng.randint(0, 32) for p in parts)[: rng.randint(0, 120)]
        pattern = "[\\s\\S]{0,30}".join(re.escape(p) for p in parts)
        assert dlt_matches(content, text) == bool(re.fullmatch(pattern, text)), (content, text)


def test_the_dlt_test_page_answers_an_adversarial_template_at_once(admin_client, sender):
    from campaigns.models import Approval, DLTTemplate

    template = DLTTemplate.objects.create(
        name="Hostile",
        template_id="1107160000000099999",
        principal_entity_id="1101000000000001",
        header=sender,
        category=DLTTemplate.Category.PROMOTIONAL,
        content="{#var#}" * 280 + "X",
        status=Approval.APPROVED,
    )
    started = time.perf_counter()
    response = admin_client.post(
        reverse("campaigns:dlt_test"), {"template": template.pk, "text": "a" * LONGEST_TEXT}
    )
    assert response.status_code == 200
    assert time.perf_counter() - started < 1.0


def test_the_composer_and_launch_check_an_adversarial_template_at_once(
    admin_client, sandbox, sender, customers
):
    from campaigns import compose
    from campaigns.models import Approval, DLTTemplate
    from contacts import services as contact_services

    contact_services.list_add_contacts(
        contact_list=customers,
        rows=[{"phone": f"+91981234{n:04d}", "first_name": "a" * 40} for n in range(50)],
    )
    template = DLTTemplate.objects.create(
        name="Hostile",
        template_id="1107160000000099999",
        principal_entity_id="1101000000000001",
        header=sender,
        category=DLTTemplate.Category.PROMOTIONAL,
        content="{#var#}" * 7 + "X",
        status=Approval.APPROVED,
    )
    data = {
        "name": "Hostile",
        "text": "{{ first_name }}" * 40,
        "account": sandbox.pk,
        "sender": sender.pk,
        "lists": [customers.pk],
        "dlt_template": template.pk,
    }
    started = time.perf_counter()
    page = admin_client.post(reverse("campaigns:preview"), data)
    assert page.status_code == 200
    assert "do not match the DLT template" in page.content.decode()
    assert time.perf_counter() - started < 2.0
    campaign = Campaign.objects.create(
        name="Hostile", text=data["text"], sender=sender, account=sandbox, dlt_template=template
    )
    campaign.lists.add(customers)
    started = time.perf_counter()
    assert compose.check(campaign).dlt_mismatches
    assert time.perf_counter() - started < 1.0


# -- uploads: bounded before they are read -------------------------------------------------

XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"/>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    ),
}
SHEET_START = (
    '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
    '2006/main"><sheetData>'
)
SHEET_END = "</sheetData></worksheet>"
HEADER_ROW = '<row r="1"><c r="A1" t="inlineStr"><is><t>Phone</t></is></c></row>'


def xlsx(path, sheet_chunks, *, shared=None, stored=False, extra=None):
    """An .xlsx written part by part, the sheet from an iterable of XML
    chunks (so a huge sheet never sits in memory here either)."""
    import zipfile

    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, text in {**XLSX_PARTS, **(extra or {})}.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            for chunk in sheet_chunks:
                sheet.write(chunk.encode() if isinstance(chunk, str) else chunk)
        if shared is not None:
            with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
                for chunk in shared:
                    part.write(chunk.encode() if isinstance(chunk, str) else chunk)
    return path


def wide_row(cells: int, cell='<c t="inlineStr"><is><t>1</t></is></c>'):
    yield SHEET_START + HEADER_ROW + '<row r="2">'
    block = cell * 1000
    for _ in range(cells // 1000):
        yield block
    yield "</row>" + SHEET_END


def many_rows(rows: int):
    """Rows without references (as some writers save them): each the same."""
    yield SHEET_START + HEADER_ROW
    block = "<row><c><v>4915112345601</v></c></row>" * 1000
    for _ in range(rows // 1000):
        yield block
    yield SHEET_END


def one_huge_cell(chars: int):
    yield '<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>Phone</t></si><si><t>'
    block = "x" * (1024 * 1024)
    for _ in range(chars // len(block)):
        yield block
    yield "</t></si></sst>"


HUGE_CELL_SHEET = [
    SHEET_START,
    '<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c></row>',
    SHEET_END,
]


def measured(call):
    """(result or exception, seconds, peak bytes allocated) of ``call``."""
    import tracemalloc

    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome = call()
    except Exception as exc:
        outcome = exc
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, seconds, peak


MB = 1024 * 1024


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    return {
        "5M cells in row 2": xlsx(folder / "wide.xlsx", wide_row(5_000_000)),
        "5M empty cells in row 2": xlsx(folder / "empty.xlsx", wide_row(5_000_000, "<c/>")),
        "one 300 MB cell": xlsx(
            folder / "cell.xlsx", HUGE_CELL_SHEET, shared=one_huge_cell(300 * MB)
        ),
        "2M rows": xlsx(folder / "rows.xlsx", many_rows(2_000_000)),
    }


@pytest.mark.parametrize(
    "name", ["5M cells in row 2", "5M empty cells in row 2", "one 300 MB cell", "2M rows"]
)
def test_an_xlsx_bomb_is_refused_before_it_is_unpacked(bombs, name):
    from contacts.imports import ImportFileError, inspect

    path = bombs[name]
    assert path.stat().st_size < 1 * MB
    outcome, seconds, peak = measured(lambda: inspect(path))
    assert isinstance(outcome, ImportFileError), outcome
    assert "times its size" in str(outcome)
    assert seconds < 0.5 and peak < 5 * MB


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("5M cells in row 2", "at most 200 columns are read"),
        ("5M empty cells in row 2", "more than 16,384 cells"),
        ("one 300 MB cell", "more than 32,767 characters"),
    ],
)
def test_past_the_archive_checks_reading_stops_at_the_first_cell_beyond_a_limit(
    bombs, settings, name, message
):
    """Even an archive that passes the checks (here, with them lifted) is read
    as a stream: a row or a cell beyond a limit stops it, memory flat."""
    from contacts.imports import ImportFileError, inspect

    settings.CONTACT_IMPORT_XLSX_MAX_RATIO = 10**9
    outcome, seconds, peak = measured(lambda: inspect(bombs[name]))
    assert isinstance(outcome, ImportFileError), outcome
    assert message in str(outcome)
    assert seconds < 5 and peak < 20 * MB


def test_a_sheet_beyond_the_row_limit_fails_its_import_and_imports_nothing(
    bombs, settings, tmp_path
):
    from contacts.imports import ImportFileError, run_import

    settings.CONTACT_IMPORT_XLSX_MAX_RATIO = 10**9
    settings.CONTACT_IMPORT_MAX_ROWS = 50_000
    target = ContactList.objects.create(name="Target")
    outcome, seconds, peak = measured(
        lambda: run_import(bombs["2M rows"], contact_list=target, mapping={0: "phone"}, processes=1)
    )
    assert isinstance(outcome, ImportFileError), outcome
    assert "more than 50,000 rows" in str(outcome)
    assert not Contact.objects.exists()
    assert seconds < 30 and peak < 50 * MB


def test_an_archive_unpacking_beyond_the_limit_is_refused_unopened(settings, tmp_path):
    from contacts.imports import ImportFileError, inspect

    settings.CONTACT_IMPORT_XLSX_MAX_UNPACKED = 2 * MB
    path = xlsx(tmp_path / "stored.xlsx", many_rows(100_000), stored=True)
    with pytest.raises(ImportFileError, match="at most 2 MB is read"):
        inspect(path)


def test_an_archive_of_many_parts_is_refused_before_its_directory_is_read(tmp_path):
    import zipfile

    from contacts.imports import ImportFileError, inspect

    path = tmp_path / "parts.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in XLSX_PARTS.items():
            archive.writestr(name, text)
        for n in range(20_000):
            archive.writestr(f"x/{n}", "")
    outcome, seconds, peak = measured(lambda: inspect(path))
    assert isinstance(outcome, ImportFileError) and "parts" in str(outcome)
    assert peak < 2 * MB


MALFORMED = {
    "truncated sheet": [SHEET_START, '<row r="1"><c r="A1" t="inlineStr"><is><t>Pho'],
    "not XML": ["this is not xml at all"],
    "bad cell reference": [SHEET_START, '<row r="1"><c r="1A"><v>1</v></c></row>', SHEET_END],
    "bad row number": [SHEET_START, '<row r="x"><c><v>1</v></c></row>', SHEET_END],
    "missing string": [SHEET_START, '<row r="1"><c t="s"><v>7</v></c></row>', SHEET_END],
    "entity bomb": [
        '<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        '<worksheet><sheetData><row r="1"><c t="inlineStr"><is><t>&b;</t></is></c></row>'
        "</sheetData></worksheet>"
    ],
}


@pytest.mark.parametrize("chunks", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_workbook_gets_a_clear_message_on_the_upload_page(
    admin_client, tmp_path, chunks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from contacts.models import ContactImport

    path = xlsx(tmp_path / "bad.xlsx", chunks)
    response = admin_client.post(
        reverse("contacts:import_new"),
        {
            "file": SimpleUploadedFile("bad.xlsx", path.read_bytes()),
            "contact_list": "",
            "new_list_name": "New",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "workbook" in page or "sheet" in page, page[-2000:]
    assert not ContactImport.objects.exists()
    assert not ContactList.objects.filter(name="New").exists()


def test_a_damaged_workbook_is_always_refused_with_a_message(tmp_path):
    """Bytes of the archive, or of the XML inside it, changed at random: the
    first look and the reading refuse the file with a message, or read it;
    never another error."""
    import io
    import random
    import zipfile

    import openpyxl

    from contacts.imports import ImportFileError, inspect
    from contacts.imports.reading import _xlsx_rows

    book = openpyxl.Workbook()
    book.active.append(["Phone", "Name"])
    for n in range(30):
        book.active.append([4915112345600 + n, f"N{n}"])
    buffer = io.BytesIO()
    book.save(buffer)
    good = buffer.getvalue()
    parts = {i.filename: zipfile.ZipFile(io.BytesIO(good)).read(i) for i in
             zipfile.ZipFile(io.BytesIO(good)).infolist()}  # fmt: skip
    rng = random.Random(17)
    path = tmp_path / "damaged.xlsx"
    for attempt in range(400):
        if attempt % 2:
            data = bytearray(good)
            for _ in range(rng.randint(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            path.write_bytes(bytes(data[: rng.randint(len(data) // 2, len(data))]))
        else:
            name = rng.choice(list(parts))
            xml = bytearray(parts[name])
            for _ in range(rng.randint(1, 10)):
                xml[rng.randrange(len(xml))] = rng.choice(b'<>/"=& x\x00\xff0123456789rcvts')
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
                for part, text in parts.items():
                    archive.writestr(part, bytes(xml) if part == name else text)
        for read in (lambda: inspect(path), lambda: list(_xlsx_rows(path))):
            try:
                read()
            except ImportFileError as exc:
                assert str(exc)


def test_the_workbook_reader_reads_what_spreadsheet_programs_write(tmp_path):
    """Prefixed namespaces, rich text, phonetic runs, shared and inline
    strings, cells without references, formulas' cached values."""
    from contacts.imports import inspect

    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    sheet = (
        f'<?xml version="1.0"?><x:worksheet xmlns:x="{main}"><x:sheetData>'
        '<x:row r="1"><x:c t="s"><x:v>0</x:v></x:c><x:c t="inlineStr"><x:is><x:r><x:t>Fir'
        "</x:t></x:r><x:r><x:t>st</x:t></x:r></x:is></x:c></x:row>"
        '<x:row r="3"><x:c r="A3"><x:v>4915112345601</x:v></x:c><x:c r="C3" t="str"><x:f>B1'
        "</x:f><x:v>Anna</x:v></x:c></x:row></x:sheetData></x:worksheet>"
    )
    shared = (
        f'<?xml version="1.0"?><sst xmlns="{main}"><si><t>Ph</t><r><t>one</t></r>'
        "<rPh><t>ignored</t></rPh></si></sst>"
    )
    found = inspect(xlsx(tmp_path / "book.xlsx", [sheet], shared=[shared]))
    assert found.columns == ["Phone", "First"]
    assert found.sample_rows == [["4915112345601", "", "Anna"]]


def csv_upload(client, content: bytes, name="people.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        reverse("contacts:import_new"),
        {"file": SimpleUploadedFile(name, content), "contact_list": "", "new_list_name": "New"},
    )


def test_a_csv_with_125k_header_columns_is_refused_quickly_with_a_short_page(admin_client):
    from contacts.models import ContactImport

    content = (",".join(["a"] * 125_000) + "\n+4915112345601\n").encode()
    assert len(content) < 260_000
    started = time.perf_counter()
    response = csv_upload(admin_client, content)
    assert response.status_code == 400
    assert "at most 16,384 are read" in response.content.decode()
    assert len(response.content) < 100_000
    assert time.perf_counter() - started < 2
    assert not ContactImport.objects.exists()


def test_a_csv_value_beyond_the_last_column_read_is_refused(admin_client, settings):
    settings.CONTACT_IMPORT_MAX_COLUMNS = 5
    response = csv_upload(admin_client, b"phone,a,b,c,d,e\n+4915112345601,1,2,3,4,5\n")
    assert response.status_code == 400
    assert "at most 5 columns are read" in response.content.decode()
    # Empty cells beyond it are only dropped.
    response = csv_upload(admin_client, b"phone,a,,,,,,,\n+4915112345601,1,,,,,,,,,\n")
    assert response.status_code == 302


def test_a_csv_cell_beyond_the_character_limit_is_refused(admin_client, settings):
    settings.CONTACT_IMPORT_MAX_CELL_CHARS = 500
    response = csv_upload(admin_client, b"phone,note\n+4915112345601," + b"n" * 600 + b"\n")
    assert response.status_code == 400
    assert "Row 2, column 2 holds more than 500 characters" in response.content.decode()


def test_only_a_few_short_sample_rows_are_kept_and_list_pages_stay_light(admin_client):
    from contacts.models import ContactImport

    long_cell = "z" * 30_000
    rows = [f"+49151123456{n:02d},{long_cell}" for n in range(20)]
    response = csv_upload(admin_client, ("phone," + "y" * 500 + "\n" + "\n".join(rows)).encode())
    assert response.status_code == 302
    job = ContactImport.objects.get()
    assert len(job.sample_rows) <= 5
    assert max(len(cell) for row in job.sample_rows for cell in row) <= 60
    assert max(len(name) for name in job.columns) <= 100
    for url in (reverse("contacts:lists"), reverse("contacts:import", args=[job.pk])):
        page = admin_client.get(url)
        assert page.status_code == 200 and len(page.content) < 200_000


# -- outbound calls: fenced to public https addresses ----------------------------------


class Recorder(BaseHTTPRequestHandler):
    """A provider stand-in that notes every request and what it carried."""

    seen: list = []
    answer = (200, "application/json", b'{"status": "success"}')

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Recorder.seen.append((self.path, dict(self.headers), body))
        status, kind, payload = Recorder.answer
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST


@pytest.fixture
def recorder():
    from providers import fence
    from tests.providers.fakes import serve

    fence._verdicts.clear()
    Recorder.seen = []
    Recorder.answer = (200, "application/json", b'{"status": "success"}')
    with serve(Recorder) as url:
        yield url
    fence._verdicts.clear()


def sendsms_account(base_url: str) -> ProviderAccount:
    account = ProviderAccount(name="Provider", kind="sendsms", base_url=base_url)
    account.credentials = {"api_key": "secret-key-of-the-account"}
    account.save()
    return account


def check_connection_page(client, account) -> str:
    response = client.post(reverse("providers:check", args=[account.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_a_provider_on_loopback_is_reached_only_when_the_allow_list_names_it(
    admin_client, recorder, settings
):
    account = sendsms_account(recorder + "/api")
    check_connection_page(admin_client, account)
    assert len(Recorder.seen) == 1  # the test settings name 127.0.0.1

    settings.PROVIDER_ALLOWED_HOSTS = []
    page = check_connection_page(admin_client, account)
    assert "127.0.0.1" in page and "public addresses" in page
    assert len(Recorder.seen) == 1  # nothing more went out, credentials included


FENCED = [
    "https://169.254.169.254/latest/meta-data/",
    "https://127.0.0.1/",
    "https://localhost:8443/",
    "https://10.0.0.5/",
    "https://192.168.1.1/",
    "https://172.16.0.1/",
    "https://100.100.100.200/",
    "https://0.0.0.0/",
    "https://[::1]/",
    "https://[fd00:ec2::254]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[fe80::1]/",
]


@pytest.mark.parametrize("url", FENCED)
def test_private_loopback_and_metadata_addresses_are_never_called(admin_client, settings, url):
    from providers import fence

    settings.PROVIDER_ALLOWED_HOSTS = []
    fence._verdicts.clear()
    account = sendsms_account(url)
    started = time.perf_counter()
    page = check_connection_page(admin_client, account)
    assert "public addresses" in page, page
    assert time.perf_counter() - started < 1


def test_a_name_resolving_to_a_private_address_is_fenced(admin_client, settings, monkeypatch):
    import socket

    from providers import fence

    fence._verdicts.clear()
    settings.PROVIDER_ALLOWED_HOSTS = []

    def resolve(host, port, *args, **kwargs):
        address = {"inside.example.com": "10.1.2.3", "outside.example.com": "93.184.216.34"}
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address[host], port))]

    monkeypatch.setattr(fence.socket, "getaddrinfo", resolve)
    page = check_connection_page(admin_client, sendsms_account("https://inside.example.com/api"))
    assert "inside.example.com (10.1.2.3)" in page
    assert fence.problem_with("https://outside.example.com/api") == ""
    fence._verdicts.clear()


def test_plain_http_needs_the_setting(settings):
    from providers import fence

    fence._verdicts.clear()
    settings.PROVIDER_ALLOW_HTTP = False
    assert "https" in fence.problem_with("http://127.0.0.1:9/")
    assert "https" in fence.problem_with("ftp://example.com/")
    settings.PROVIDER_ALLOW_HTTP = True
    assert fence.problem_with("http://127.0.0.1:9/") == ""
    fence._verdicts.clear()


def test_the_account_form_refuses_a_fenced_base_url_with_a_clear_message(admin_client, settings):
    from providers import fence

    fence._verdicts.clear()
    settings.PROVIDER_ALLOWED_HOSTS = []
    response = admin_client.post(
        reverse("providers:create") + "?kind=sendsms",
        {
            "name": "Metadata",
            "kind": "sendsms",
            "base_url": "https://169.254.169.254/latest/meta-data/",
            "throughput": 10,
            "currency": "EUR",
            "default_price": "0",
            "enabled": "on",
            "cred_api_key": "k",
        },
    )
    assert response.status_code == 400
    assert "public addresses" in response.content.decode()
    assert not ProviderAccount.objects.exists()


def test_a_provider_error_answer_is_shown_as_its_status_and_a_short_sanitised_message(
    admin_client, recorder
):
    answer = (
        '{"status": "failure", "error-code": "E999", "error-info": "'
        + "<script>alert(1)</script>\\u202eevil\\u0007 "
        + "x" * 5000
        + '"}'
    )
    Recorder.answer = (400, "application/json", answer.encode())
    page = check_connection_page(admin_client, sendsms_account(recorder + "/api"))
    assert "<script>" not in page and "&lt;script" not in page
    assert "\u202e" not in page and "\x07" not in page
    assert "x" * 300 not in page
    assert len(page) < 1000


# -- should hold: exports, caching, secrets, password reset, tokens, `make run` -------


def test_every_role_exports_what_it_reads_on_the_pages_and_through_the_api(
    client, admin_user, manager, analyst, outsider, customers
):
    pages = [
        reverse("contacts:list_export", args=[customers.pk]),
        reverse("contacts:suppression_export"),
        "/api/v1/contacts/?format=csv",
        f"/api/v1/lists/{customers.pk}/contacts/?format=csv",
    ]
    for user in (admin_user, manager, analyst):
        client.force_login(user)
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, (user.username, url)
            assert response["Content-Type"].startswith("text/csv")
        page = client.get(reverse("contacts:list", args=[customers.pk])).content.decode()
        assert "Export CSV" in page
    client.force_login(outsider)
    for url in pages:
        assert client.get(url).status_code == 403, url


def test_pages_and_exports_with_contact_data_are_never_cached(admin_client, customers):
    for url in [
        reverse("contacts:list", args=[customers.pk]),
        reverse("contacts:contacts"),
        reverse("contacts:list_export", args=[customers.pk]),
        reverse("campaigns:messages"),
        "/api/v1/contacts/",
        "/api/v1/contacts/?format=csv",
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url


def test_an_api_token_follows_its_owners_current_role(client, analyst):
    from django.contrib.auth.models import Group

    from smsportal import roles, tokens

    _, raw = tokens.token_create(user=analyst, name="reports")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/v1/contacts/", **auth).status_code == 200

    analyst.groups.set([Group.objects.get_or_create(name=roles.MANAGER)[0]])
    response = client.get("/api/v1/contacts/?format=csv", **auth)
    assert response.status_code == 403
    assert "no longer an Admin or Analyst" in response.json()["message"]

    analyst.groups.clear()
    assert client.get("/api/v1/contacts/", **auth).status_code == 403

    analyst.groups.set([Group.objects.get_or_create(name=roles.ANALYST)[0]])
    assert client.get("/api/v1/contacts/", **auth).status_code == 200


def test_password_reset_is_off_unless_email_is_configured(client, settings, admin_user):
    from django.core import mail

    settings.PASSWORD_RESET_ENABLED = False
    for url in (
        reverse("password_reset"),
        reverse("password_reset_done"),
        reverse("password_reset_confirm", args=["MQ", "set-password"]),
        reverse("password_reset_complete"),
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert "Ask an Admin" in response.content.decode()
    response = client.post(reverse("password_reset"), {"email": admin_user.email})
    assert response.status_code == 404 and not mail.outbox

    settings.PASSWORD_RESET_ENABLED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert client.get(reverse("password_reset")).status_code == 200
    response = client.post(reverse("password_reset"), {"email": admin_user.email})
    assert response.status_code == 302 and len(mail.outbox) == 1


def run_manage(env: dict, *args: str):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=root,
        env={**clean, "DJANGO_SETTINGS_MODULE": "smsportal.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_debug_the_site_refuses_to_start_without_a_secret_key():
    # Set but empty, so a developer's .env cannot fill it in.
    refused = run_manage({"SECRET_KEY": "", "DEBUG": "false"}, "check")
    assert refused.returncode != 0
    assert "SECRET_KEY is not set" in refused.stderr
    assert run_manage({"SECRET_KEY": "", "DEBUG": "true"}, "check").returncode == 0


def test_run_restarts_a_worker_that_dies_and_keeps_the_web_server(monkeypatch):
    import io
    import sys

    from smsportal.management.commands import runstack

    monkeypatch.setattr(runstack, "RESTART_PAUSE", 0.2)
    out, err = io.StringIO(), io.StringIO()
    command = runstack.Command(stdout=out, stderr=err)
    web = [sys.executable, "-c", "import time; print('web up', flush=True); time.sleep(60)"]
    worker = [sys.executable, "-c", "print('worker up', flush=True); raise SystemExit(3)"]
    deadline = time.monotonic() + 3
    command.supervise({"web": web, "worker": worker}, lambda: time.monotonic() > deadline)
    restarts = err.getvalue().count("worker exited with 3; restarting it")
    assert restarts >= 2, err.getvalue()
    assert out.getvalue().count("worker | worker up") >= 2
    assert "web exited" not in err.getvalue()
    assert out.getvalue().rstrip().endswith("Stopped.")


# -- should hold: messages whose report never comes ------------------------------------


@pytest.fixture
def unreported(draft, manager, monkeypatch, django_capture_on_commit_callbacks):
    """A campaign sent through the sandbox whose reports never came."""
    from campaigns import services
    from providers import tasks as provider_tasks

    monkeypatch.setattr(provider_tasks.sandbox_report, "apply_async", lambda *a, **k: None)
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_launch(campaign=draft, user=manager)
    messages = Message.objects.filter(campaign=draft)
    assert set(messages.values_list("status", flat=True)) == {Status.ACCEPTED}
    return draft


def age(campaign, hours: float):
    Message.objects.filter(campaign=campaign).update(
        submitted_at=timezone.now() - timezone.timedelta(hours=hours)
    )


def test_accepted_messages_without_a_report_are_marked_and_counted(
    admin_client, unreported, settings
):
    from campaigns.reports import mark_unreported
    from campaigns.selectors import campaign_counts

    settings.NO_REPORT_AFTER_HOURS = 72
    age(unreported, 71)
    assert mark_unreported() == 0
    age(unreported, 73)
    assert mark_unreported() == 4
    counts = campaign_counts([unreported.pk])[unreported.pk]
    assert counts.get(Status.NO_REPORT) == 4 and counts.get(Status.ACCEPTED) == 0
    assert counts.submitted == 4 and counts.delivery_rate is None
    unreported.refresh_from_db()
    assert unreported.state == Campaign.State.COMPLETED
    page = admin_client.get(reverse("campaigns:detail", args=[unreported.pk])).content.decode()
    assert "No report" in page and 'data-status="no_report">4<' in page
    message = Message.objects.filter(campaign=unreported).first()
    assert "No delivery report from the provider within 72 hours" in message.error_description

    # A report that still comes moves the message on.
    sandbox = unreported.account
    body = json.dumps({"reports": [{"id": message.provider_message_id, "status": "delivered"}]})
    assert hook(admin_client, sandbox, body).status_code == 200
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    counts = campaign_counts([unreported.pk])[unreported.pk]
    assert (counts.get(Status.NO_REPORT), counts.get(Status.DELIVERED)) == (3, 1)


def test_an_account_sets_its_own_report_deadline(unreported, settings):
    from campaigns.reports import mark_unreported

    settings.NO_REPORT_AFTER_HOURS = 72
    account = unreported.account
    account.options = {"no_report_after_hours": "100"}
    account.save()
    age(unreported, 80)
    assert mark_unreported() == 0
    account.options = {"no_report_after_hours": 2}
    account.save()
    assert mark_unreported() == 4


def test_a_provider_that_can_be_asked_is_asked_first(unreported, monkeypatch):
    from campaigns.reports import mark_unreported
    from providers.base import Capabilities, ProviderError, StatusReport

    asked = []

    class Askable:
        capabilities = Capabilities(polling=True)
        answer = None

        def poll_statuses(self, ids):
            asked.append(list(ids))
            if Askable.answer:
                raise Askable.answer
            return [StatusReport(provider_message_id=ids[0], status=Status.DELIVERED)]

    monkeypatch.setattr(ProviderAccount, "backend", lambda self: Askable())
    age(unreported, 100)
    # The provider does not answer: nothing is marked, it is asked again later.
    Askable.answer = ProviderError("down for maintenance")
    assert mark_unreported() == 0 and len(asked[0]) == 4
    Askable.answer = None
    assert mark_unreported() == 3
    statuses = sorted(Message.objects.filter(campaign=unreported).values_list("status", flat=True))
    assert statuses == [Status.DELIVERED] + [Status.NO_REPORT] * 3


def test_a_null_character_in_a_form_field_no_backend_reads_is_refused(client, db):
    account = ProviderAccount.objects.create(name="voip", kind="voipcomms")
    url = account.webhook_url().replace(settings.PUBLIC_BASE_URL, "")
    before = stored_state()
    response = client.post(
        url,
        data="from=447911123456&text=Hello&junk=a%00b",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert stored_state() == before
