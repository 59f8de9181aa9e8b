"""Stored callbacks applied by a real worker process: one that cannot be
applied is set aside, and the ones around it are applied."""

import json

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Message
from providers.models import FailedCallback, WebhookInbox
from providers.status import Status
from smsportal.celery import enqueue

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_poison_callback_between_two_sound_ones_is_set_aside_by_the_worker(
    worker, sandbox, sender
):
    campaign = Campaign.objects.create(
        name="c", text="x", sender=sender, account=sandbox, state="running"
    )
    for n in (1, 2):
        Message.objects.create(
            campaign=campaign,
            phone=f"+49151123456{n:02d}",
            account=sandbox,
            provider_message_id=f"sbx-{n}",
            status=Status.ACCEPTED,
            submitted_at=timezone.now(),
        )
    # Stored as the webhook stored callbacks before the door screened them:
    # a reference beyond any message id, between two sound reports.
    for report in (
        {"id": "sbx-1", "status": "delivered"},
        {"id": "sbx-3", "ref": "99999999999999999999", "status": "delivered"},
        {"id": "sbx-2", "status": "undelivered"},
    ):
        WebhookInbox.objects.create(
            account=sandbox,
            method="POST",
            content_type="application/json",
            body=json.dumps({"reports": [report]}).encode(),
        )
    worker()
    enqueue("campaigns.tasks.apply_webhooks", on_commit=False)

    assert wait_for(lambda: not WebhookInbox.objects.exists())
    statuses = dict(Message.objects.values_list("provider_message_id", "status"))
    assert statuses == {"sbx-1": Status.DELIVERED, "sbx-2": Status.UNDELIVERED}
    failed = FailedCallback.objects.get()
    assert b"99999999999999999999" in bytes(failed.body)
    assert "not a message id" in failed.error
