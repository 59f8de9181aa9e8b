"""Provider callbacks posted to the real endpoint: what is applied, what is
refused, and that nothing else changes."""

import dataclasses
import json
from pathlib import Path

import pytest

from campaigns.models import Campaign, Message, MessageEvent
from contacts.models import Suppression
from providers.models import InboundMessage, ProviderAccount
from providers.status import Status

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.django_db


@pytest.fixture
def infobip(db):
    return ProviderAccount.objects.create(
        name="Infobip", kind="infobip", base_url="https://api.example.com"
    )


@pytest.fixture
def sent(infobip, sender):
    """Messages the delivery-report fixture talks about, already accepted."""
    campaign = Campaign.objects.create(
        name="c", text="x", sender=sender, account=infobip, state="running"
    )
    body = json.loads((FIXTURES / "infobip" / "delivery_reports.json").read_text())
    rows = []
    for report in body["results"]:
        rows.append(
            Message.objects.create(
                campaign=campaign,
                phone="+" + report["to"],
                account=infobip,
                provider_message_id=report["messageId"],
                status=Status.ACCEPTED,
                submitted_at="2024-01-01T00:00:00Z",
            )
        )
    return rows


def post(client, account, body, content_type="application/json", event=""):
    url = account.webhook_url(event).replace("http://127.0.0.1:8000", "")
    return client.post(url, data=body, content_type=content_type)


def test_it_applies_delivery_reports_from_the_fixture(client, infobip, sent):
    body = (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()
    response = post(client, infobip, body)
    assert response.status_code == 200
    statuses = {m.status for m in Message.objects.filter(pk__in=[m.pk for m in sent])}
    assert statuses <= {
        Status.DELIVERED,
        Status.UNDELIVERED,
        Status.REJECTED,
        Status.EXPIRED,
        Status.ACCEPTED,
    }
    assert MessageEvent.objects.filter(kind="report").count() == len(sent)
    priced = Message.objects.filter(pk=sent[0].pk).values_list("actual_cost", flat=True)[0]
    assert priced is not None


def test_the_same_report_twice_changes_nothing(client, infobip, sent):
    body = (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()
    post(client, infobip, body)
    before = list(Message.objects.order_by("pk").values())
    assert post(client, infobip, body).status_code == 200
    assert list(Message.objects.order_by("pk").values()) == before
    assert not MessageEvent.objects.filter(kind="report").order_by("-id")[0].applied


def test_a_late_pending_report_never_overwrites_delivered(client, infobip, sent):
    message = sent[0]
    Message.objects.filter(pk=message.pk).update(status=Status.DELIVERED)
    late = {
        "results": [
            {
                "messageId": message.provider_message_id,
                "to": message.phone[1:],
                "status": {
                    "groupId": 1,
                    "groupName": "PENDING",
                    "id": 26,
                    "name": "PENDING_ACCEPTED",
                    "description": "Pending",
                },
            }
        ]
    }
    assert post(client, infobip, json.dumps(late)).status_code == 200
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_reports_for_unknown_messages_are_recorded_not_fatal(client, infobip):
    body = (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()
    assert post(client, infobip, body).status_code == 200
    unknown = MessageEvent.objects.filter(message__isnull=True)
    assert unknown.exists() and not unknown.filter(applied=True).exists()


def test_an_unknown_secret_is_refused_and_changes_nothing(client, infobip, sent):
    body = (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()
    response = client.post("/hooks/not-the-secret/", data=body, content_type="application/json")
    assert response.status_code == 404
    assert not MessageEvent.objects.exists()
    assert set(Message.objects.values_list("status", flat=True)) == {Status.ACCEPTED}


def test_a_disabled_account_takes_no_callbacks(client, infobip, sent):
    infobip.enabled = False
    infobip.save()
    body = (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()
    assert post(client, infobip, body).status_code == 404


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"results": "x"}', b"\x00\xff"])
def test_a_malformed_callback_is_refused(client, infobip, sent, body):
    response = post(client, infobip, body)
    assert response.status_code == 400
    assert not MessageEvent.objects.exists()


def test_basic_auth_is_required_where_the_account_sets_it(client, infobip, sent):
    infobip.options = {"webhook_username": "hook", "webhook_password": "s3cret"}
    infobip.save()
    body = (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()
    assert post(client, infobip, body).status_code == 401
    url = infobip.webhook_url().replace("http://127.0.0.1:8000", "")
    ok = client.post(
        url, data=body, content_type="application/json", HTTP_AUTHORIZATION="Basic aG9vazpzM2NyZXQ="
    )
    assert ok.status_code == 200


def test_a_stop_reply_adds_a_suppression(client, db):
    account = ProviderAccount.objects.create(
        name="sendsms", kind="sendsms", base_url="https://api.example.com/"
    )
    payload = json.loads((FIXTURES / "sendsms" / "postback_sms_mo.json").read_text())
    payload.update({"message-text": "Stop", "from": "447911123456"})
    response = post(client, account, json.dumps(payload))
    assert response.status_code == 200
    inbound = InboundMessage.objects.get()
    assert inbound.text.upper().startswith("STOP")
    assert inbound.opted_out
    assert Suppression.objects.filter(reason="stop", phone="+447911123456").exists()
    # The same reply again is stored once.
    post(client, account, json.dumps(payload))
    assert InboundMessage.objects.count() == 1


def test_an_oversized_callback_is_refused_unread(client, infobip, sent):
    body = b'{"results": [' + b" " * (6 * 1024 * 1024) + b"]}"
    assert post(client, infobip, body).status_code == 413
    assert not MessageEvent.objects.exists()


# -- stored, then applied by a worker -------------------------------------------------


@pytest.fixture
def no_worker(monkeypatch):
    """Callbacks queue their application, but no worker runs it yet."""
    from django.core.cache import cache

    from campaigns import tasks
    from campaigns.reports import DRAIN_FLAG

    queued = []
    monkeypatch.setattr(tasks.apply_webhooks, "apply_async", lambda **kw: queued.append(1))
    yield queued
    # The run these tests queued never ran to clear its flag.
    cache.delete(DRAIN_FLAG)


def test_a_callback_is_answered_once_stored_and_applied_by_the_worker(
    client, infobip, sent, no_worker
):
    from campaigns.reports import apply_stored_webhooks
    from providers.models import WebhookInbox

    body = (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()
    assert post(client, infobip, body).status_code == 200
    assert no_worker == [1]
    stored = WebhookInbox.objects.get()
    assert stored.account == infobip and stored.reports == len(sent)
    assert bytes(stored.body) == body
    # Answered, not applied yet: the messages are as they were.
    assert set(Message.objects.values_list("status", flat=True)) == {Status.ACCEPTED}

    assert apply_stored_webhooks() == 1
    assert not WebhookInbox.objects.exists()
    assert set(Message.objects.values_list("status", flat=True)) != {Status.ACCEPTED}
    assert MessageEvent.objects.filter(kind="report", applied=True).count() == len(sent)


def test_callbacks_that_arrive_while_one_run_is_queued_queue_no_other(
    client, infobip, sent, no_worker
):
    from campaigns.reports import apply_stored_webhooks
    from providers.models import WebhookInbox

    body = (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()
    for _ in range(3):
        assert post(client, infobip, body).status_code == 200
    assert no_worker == [1]
    assert WebhookInbox.objects.count() == 3
    assert apply_stored_webhooks() == 3
    # The run cleared its flag: the next callback queues a run again.
    post(client, infobip, body)
    assert no_worker == [1, 1]


def test_a_refused_callback_stores_nothing(client, infobip, no_worker):
    from providers.models import WebhookInbox

    assert post(client, infobip, b"{not json").status_code == 400
    assert not WebhookInbox.objects.exists()
    assert no_worker == []


def _fields(report):
    """Every field of a report but what the provider sent (kept as text):
    a field added to StatusReport and not kept for the worker fails here."""
    return {
        f.name: getattr(report, f.name)
        for f in dataclasses.fields(report)
        if f.name not in ("raw", "raw_json")
    }


def test_the_webhook_keeps_the_reports_it_read_for_the_worker(client, infobip, sent, no_worker):
    from providers.base import WebhookRequest
    from providers.models import WebhookInbox
    from providers.services import parse_webhook, stored_result

    body = (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()
    assert post(client, infobip, body).status_code == 200
    stored = WebhookInbox.objects.get()
    kept = stored_result(stored.parsed).reports
    read = parse_webhook(
        infobip.backend(),
        WebhookRequest(method="POST", content_type="application/json", body=body),
    ).reports
    assert len(kept) == len(read) == len(sent)
    assert [_fields(r) for r in kept] == [_fields(r) for r in read]
    assert [json.loads(r.raw_json) for r in kept] == json.loads(body)["results"]
    assert all(r.raw is None for r in kept)


def test_the_worker_applies_the_kept_reports_without_reading_the_body_again(
    client, infobip, sent, no_worker, monkeypatch
):
    from campaigns.reports import apply_stored_webhooks
    from providers.backends.infobip import InfobipBackend

    body = (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()
    assert post(client, infobip, body).status_code == 200

    def not_again(self, request):
        raise AssertionError("the body was parsed again")

    monkeypatch.setattr(InfobipBackend, "parse_webhook", not_again)
    assert apply_stored_webhooks() == 1
    assert set(Message.objects.values_list("status", flat=True)) != {Status.ACCEPTED}
    # Each history row keeps the provider's own words: the item it sent.
    items = {item["messageId"]: item for item in json.loads(body)["results"]}
    events = MessageEvent.objects.filter(kind="report")
    assert events.count() == len(sent)
    assert {e.provider_message_id: e.payload for e in events} == items


def test_reports_for_unknown_messages_keep_the_providers_words_when_kept_by_the_webhook(
    client, infobip, no_worker
):
    from campaigns.reports import apply_stored_webhooks

    body = (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()
    assert post(client, infobip, body).status_code == 200
    assert apply_stored_webhooks() == 1
    items = {item["messageId"]: item for item in json.loads(body)["results"]}
    unknown = MessageEvent.objects.filter(message__isnull=True)
    assert {e.provider_message_id: e.payload for e in unknown} == items


def test_kept_reports_that_cannot_be_read_are_read_from_the_body_again(
    client, infobip, sent, no_worker
):
    from campaigns.reports import apply_stored_webhooks
    from providers.models import WebhookInbox

    body = (FIXTURES / "infobip" / "delivery_reports.json").read_bytes()
    assert post(client, infobip, body).status_code == 200
    WebhookInbox.objects.update(parsed="[[1, 2]]")
    assert apply_stored_webhooks() == 1
    assert MessageEvent.objects.filter(kind="report", applied=True).count() == len(sent)
