"""Cross-app pages: the audit log and inbound messages, with their filters
and keyset pages, and times shown in the user's own time zone."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from providers.models import InboundMessage
from smsportal import audit
from smsportal.models import AuditLogEntry

pytestmark = pytest.mark.django_db


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def results(response) -> str:
    return response.content.decode().split('id="results"')[1]


def inbound(account, n, *, start=0, **fields):
    InboundMessage.objects.bulk_create(
        InboundMessage(
            account=account,
            sender=f"+4915100{start + i:05d}",
            text=f"Reply {start + i}",
            received_at=timezone.now(),
            **fields,
        )
        for i in range(n)
    )


def test_the_audit_log_lists_who_did_what(manager_client, manager, draft):
    audit.record("campaign.launch", actor=manager, obj=draft, scheduled_at=None)
    audit.record("sender.approve", obj=draft.sender)
    page = manager_client.get(reverse("audit")).content.decode()

    assert "campaign.launch" in page and "sender.approve" in page
    # A campaign's action in words above its name; any other by its name.
    assert 'Launched<div class="small mono muted">campaign.launch</div>' in page
    assert '<span class="mono">sender.approve</span>' in page
    assert reverse("campaigns:detail", args=[draft.pk]) in page
    only = results(manager_client.get(reverse("audit"), {"action": "sender"}))
    assert "sender.approve" in only and "campaign.launch" not in only
    mine = results(manager_client.get(reverse("audit"), {"actor": manager.pk}))
    assert "campaign.launch" in mine and "sender.approve" not in mine


def test_every_campaign_action_the_code_records_has_words():
    root = Path(__file__).resolve().parent.parent
    recorded = set()
    for app in ("campaigns", "contacts", "providers", "smsportal"):
        for source in (root / app).rglob("*.py"):
            recorded |= set(re.findall(r'"(campaign\.[a-z_]+)"', source.read_text()))
    assert len(recorded) >= 20
    assert recorded - AuditLogEntry.LABELS.keys() == set()


def test_audit_details_read_as_words_not_python(manager_client, manager, draft):
    audit.record(
        "campaign.failover",
        actor=manager,
        obj=draft,
        lists=["Customers", "VIP"],
        none_left=[],
        kept=True,
        can_record_conversions=False,
        scheduled_at=None,
        counts={"asked": 3, "cancelled": 2},
        ends_at="2026-12-02T18:32:56.859505+00:00",
        note="2026-12-02Tea",
    )
    line = (
        "can record conversions: no; counts: asked: 3, cancelled: 2; "
        "ends at: 2026-12-02 18:32:56 UTC; kept: yes; lists: Customers, VIP; "
        "none left: none; note: 2026-12-02Tea"
    )
    page = results(manager_client.get(reverse("audit")))
    row = page.split("campaign.failover", 1)[1].split("</tr>", 1)[0]
    assert row.strip().endswith(f'data-label="Details">{line}</td>')
    # The campaign's own trail says the same, in the same words.
    detail = manager_client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()
    trail = detail.split('id="audit"')[1].split("</section>")[0]
    assert f'data-label="Details">{line}</td>' in trail
    assert "['" not in trail and "False" not in trail and "scheduled" not in trail
    # An entry without details says so, rather than leaving the line blank.
    audit.record("campaign.resume", actor=manager, obj=draft)
    page = results(manager_client.get(reverse("audit")))
    row = page.split("campaign.resume", 1)[1].split("</tr>", 1)[0]
    assert row.strip().endswith('data-label="Details"><span class="muted">—</span></td>')


def test_the_audit_log_pages_by_keyset_at_a_fixed_cost(manager_client, manager):
    audit.record("list.create", actor=manager)
    one = queries_for(manager_client, reverse("audit"))
    for n in range(70):
        audit.record(f"list.create.{n}", actor=manager)
    assert queries_for(manager_client, reverse("audit")) == one

    page = manager_client.get(reverse("audit")).content.decode()
    after = AuditLogEntry.objects.order_by("-id")[49].pk
    assert f"?after={after}" in page
    second = manager_client.get(reverse("audit"), {"after": after}).content.decode()
    assert "list.create.0<" in second and "list.create.69<" not in second


def test_inbound_messages_are_listed_and_filtered(manager_client, sandbox):
    inbound(sandbox, 3)
    inbound(sandbox, 1, start=50, opted_out=True, keyword="STOP")
    page = manager_client.get(reverse("inbound")).content.decode()
    assert "Reply 0" in page and "Reply 50" in page

    stops = manager_client.get(reverse("inbound"), {"opted_out": "on"}).content.decode()
    assert "Reply 50" in stops and "Reply 0" not in stops
    by_number = results(manager_client.get(reverse("inbound"), {"sender": "49151000000"}))
    assert "Reply 1" in by_number and "Reply 50" not in by_number
    wrong = manager_client.get(reverse("inbound"), {"sender": "abc"}).content.decode()
    assert 'id="id_sender_error"' in wrong


def test_inbound_messages_cost_the_same_queries_for_one_or_many(manager_client, sandbox):
    inbound(sandbox, 1)
    one = queries_for(manager_client, reverse("inbound"))
    inbound(sandbox, 80, start=1)
    assert queries_for(manager_client, reverse("inbound")) == one


def test_empty_pages_say_what_to_do_next(manager_client):
    assert "give each provider its webhook url" in (
        manager_client.get(reverse("inbound")).content.decode().lower()
    )
    # Sign-ins and role changes are audited too, so filter down to nothing.
    page = manager_client.get(reverse("audit"), {"action": "no.such.action"}).content.decode()
    assert "No entries match these filters." in page


def test_times_are_shown_in_the_browsers_time_zone(manager_client, manager):
    entry = audit.record("campaign.launch", actor=manager)
    AuditLogEntry.objects.filter(pk=entry.pk).update(
        created_at=dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC)
    )
    utc = manager_client.get(reverse("audit")).content.decode()
    assert "2025-01-15 12:00:00 UTC" in utc

    manager_client.cookies["tz"] = "America/New_York"
    local = manager_client.get(reverse("audit")).content.decode()
    assert "2025-01-15 07:00:00 EST" in local

    manager_client.cookies["tz"] = "Not/AZone"
    assert "2025-01-15 12:00:00 UTC" in manager_client.get(reverse("audit")).content.decode()


@pytest.mark.parametrize(
    "name", ["audit", "inbound", "campaigns:dlt", "campaigns:windows", "campaigns:create"]
)
def test_new_pages_need_a_role(client, outsider, name):
    url = reverse(name)
    assert client.get(url).status_code == 302
    client.force_login(outsider)
    assert client.get(url).status_code == 403
