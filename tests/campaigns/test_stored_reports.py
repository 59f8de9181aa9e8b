"""Stored callbacks reach the messages promptly: web processes ask for the
applier at most every ASK_EVERY seconds, a run's last look finds what they
stored meanwhile, the applier takes a batch in one go (and gives it back
when the database fails), reading only what the webhook kept of each, and
a worker busy sending a campaign applies what waits between its claims."""

import json

import pytest
from django.db import OperationalError
from django.utils import timezone

from campaigns import dispatch, reports, services
from campaigns.models import Campaign, Message
from providers.models import WebhookInbox
from providers.status import Status
from smsportal.celery import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """Runs of the applier are queued (recorded) but never run."""
    from django.core.cache import cache

    from campaigns import tasks

    runs = []
    monkeypatch.setattr(tasks.apply_webhooks, "apply_async", lambda **kw: runs.append(kw))
    cache.delete(reports.DRAIN_FLAG)
    yield runs
    cache.delete(reports.DRAIN_FLAG)


@pytest.fixture
def not_eager(queued, monkeypatch):
    """Tasks go to workers, as in production."""
    monkeypatch.setattr(reports, "_asked_at", [-reports.ASK_EVERY])
    celery_app.conf.task_always_eager = False
    yield queued
    celery_app.conf.task_always_eager = True


@pytest.fixture
def accepted(sandbox, sender):
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
        for n in range(1, 4)
    ]


def store(account, *reported):
    """A callback as the webhook stores it."""
    return WebhookInbox.objects.create(
        account=account,
        method="POST",
        content_type="application/json",
        body=json.dumps({"reports": [{"id": i, "status": s} for i, s in reported]}).encode(),
        reports=len(reported),
    )


def post(client, account, *reported):
    url = account.webhook_url().replace("http://127.0.0.1:8000", "")
    body = json.dumps({"reports": [{"id": i, "status": s} for i, s in reported]})
    return client.post(url, data=body, content_type="application/json")


def test_a_burst_asks_for_the_applier_once_per_process(client, sandbox, accepted, not_eager):
    from django.core.cache import cache

    asked = []
    add = cache.add

    def counting_add(*args, **kwargs):
        asked.append(args[0])
        return add(*args, **kwargs)

    cache.add = counting_add
    try:
        for n in range(1, 4):
            assert post(client, sandbox, (f"sbx-{n}", "delivered")).status_code == 200
    finally:
        del cache.add
    assert asked == [reports.DRAIN_FLAG]
    assert len(not_eager) == 1
    assert WebhookInbox.objects.count() == 3


def test_the_last_look_finds_what_was_stored_without_asking(client, sandbox, accepted, not_eager):
    assert post(client, sandbox, ("sbx-1", "delivered")).status_code == 200
    assert len(not_eager) == 1
    # The queued run: applies, clears the flag, and calls for a last look.
    assert reports.apply_stored_webhooks() == 1
    assert not_eager[-1] == {"countdown": reports.ASK_EVERY, "kwargs": {"last_look": True}}
    # Meanwhile this process, having asked a moment ago, stores without asking.
    assert post(client, sandbox, ("sbx-2", "delivered")).status_code == 200
    assert len(not_eager) == 2
    # The last look applies it, and leaves the flag alone.
    assert reports.apply_stored_webhooks(last_look=True) == 1
    assert not WebhookInbox.objects.exists()
    statuses = dict(Message.objects.values_list("provider_message_id", "status"))
    assert statuses == {
        "sbx-1": Status.DELIVERED,
        "sbx-2": Status.DELIVERED,
        "sbx-3": Status.ACCEPTED,
    }
    assert len(not_eager) == 2


def test_once_the_quiet_time_is_over_a_process_asks_again(client, sandbox, accepted, not_eager):
    assert post(client, sandbox, ("sbx-1", "delivered")).status_code == 200
    reports.apply_stored_webhooks()
    reports._asked_at[0] -= reports.ASK_EVERY
    assert post(client, sandbox, ("sbx-2", "delivered")).status_code == 200
    runs = [run for run in not_eager if "kwargs" not in run]
    assert len(runs) == 2


def test_a_batch_is_taken_out_in_one_go_and_given_back_when_the_database_fails(
    sandbox, accepted, queued, monkeypatch
):
    for n in range(1, 4):
        store(sandbox, (f"sbx-{n}", "delivered"))

    def fail(*args, **kwargs):
        raise OperationalError("connection lost")

    monkeypatch.setattr(reports, "_ingest_parsed", fail)
    with pytest.raises(OperationalError):
        reports.apply_stored_webhooks()
    assert WebhookInbox.objects.count() == 3
    assert set(Message.objects.values_list("status", flat=True)) == {Status.ACCEPTED}
    monkeypatch.undo()

    assert reports.apply_stored_webhooks() == 3
    assert not WebhookInbox.objects.exists()
    assert set(Message.objects.values_list("status", flat=True)) == {Status.DELIVERED}


def test_the_applier_reads_of_a_callback_only_the_reports_the_webhook_kept(
    client, sandbox, accepted, queued
):
    """What the webhook stored is applied from its reports as the webhook
    read them: the request as it came in (a body of up to a megabyte, its
    headers) is read only to parse a callback again or to set it aside."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    answer = post(client, sandbox, ("sbx-1", "delivered"), ("sbx-2", "undelivered"))
    assert answer.status_code == 200
    assert WebhookInbox.objects.get().parsed
    with CaptureQueriesContext(connection) as queries:
        assert reports.apply_stored_webhooks() == 1
    inbox = WebhookInbox._meta.db_table
    reads = [q["sql"] for q in queries if inbox in q["sql"] and "SELECT" in q["sql"].upper()]
    assert reads
    for column in ("body", "headers", "query", "form"):
        assert not any(column in sql for sql in reads), reads
    assert not WebhookInbox.objects.exists()
    statuses = dict(Message.objects.values_list("provider_message_id", "status"))
    assert statuses == {
        "sbx-1": Status.DELIVERED,
        "sbx-2": Status.UNDELIVERED,
        "sbx-3": Status.ACCEPTED,
    }


def test_a_callback_whose_account_is_gone_is_dropped_and_the_rest_applied(
    sandbox, accepted, queued
):
    from providers.models import FailedCallback, ProviderAccount

    # Stored as its account was being deleted: nothing in the database ties
    # a stored callback to its account row.
    gone = ProviderAccount.objects.create(name="Gone", kind="sandbox", throughput=10)
    gone_id = gone.pk
    gone.delete()
    store(sandbox, ("sbx-1", "delivered"))
    WebhookInbox.objects.create(
        account_id=gone_id,
        method="POST",
        content_type="application/json",
        body=json.dumps({"reports": [{"id": "sbx-2", "status": "delivered"}]}).encode(),
        reports=1,
    )
    store(sandbox, ("sbx-3", "undelivered"))
    assert reports.apply_stored_webhooks() == 3
    assert not WebhookInbox.objects.exists()
    assert not FailedCallback.objects.exists()
    assert list(
        Message.objects.order_by("provider_message_id").values_list("status", flat=True)
    ) == [Status.DELIVERED, Status.ACCEPTED, Status.UNDELIVERED]


def test_deleting_an_account_deletes_its_stored_callbacks(sandbox, accepted, queued):
    from providers.models import ProviderAccount

    other = ProviderAccount.objects.create(name="Other", kind="sandbox", throughput=10)
    store(other, ("sbx-9", "delivered"))
    store(sandbox, ("sbx-1", "delivered"))
    other.delete()
    assert list(WebhookInbox.objects.values_list("account_id", flat=True)) == [sandbox.pk]


def test_reports_match_by_provider_id_then_by_our_reference(sandbox, accepted, queued):
    first, second, third = accepted
    store(
        sandbox,
        ("sbx-1", "delivered"),
        # Unknown provider IDs: our reference, where given, finds the message.
        ("sbx-nothing", "undelivered"),
    )
    WebhookInbox.objects.create(
        account=sandbox,
        method="POST",
        content_type="application/json",
        body=json.dumps(
            {"reports": [{"id": "sbx-other", "ref": str(third.pk), "status": "rejected"}]}
        ).encode(),
        reports=1,
    )
    assert reports.apply_stored_webhooks() == 2
    statuses = dict(Message.objects.values_list("id", "status"))
    assert statuses == {
        first.pk: Status.DELIVERED,
        second.pk: Status.ACCEPTED,
        third.pk: Status.REJECTED,
    }


def test_a_worker_sending_a_campaign_applies_waiting_reports_between_claims(draft, manager, queued):
    services.campaign_launch(campaign=draft, user=manager)
    services.materialise(draft.pk)
    # The sandbox reports each message through the webhook path; the
    # applier's own run is queued but never gets a worker.
    dispatch.dispatch(draft.pk, time_budget=5)

    assert queued
    assert not WebhookInbox.objects.exists()
    statuses = set(Message.objects.filter(campaign=draft).values_list("status", flat=True))
    assert Status.ACCEPTED not in statuses
    assert Status.DELIVERED in statuses
