"""The one status path from providers into messages: stored callbacks,
polls, pulls and the sandbox all come through ``ingest_reports``.

Providers parse what they are sent into plain reports (``providers.base``);
what those reports change (messages, their history and counters) is
decided here."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from providers.base import StatusReport, WebhookRejected, WebhookRequest
from providers.models import ProviderAccount, WebhookInbox
from smsportal.celery import enqueue

from .delivery import Event, Update, apply_updates, insert_events
from .inbound import ingest_inbound
from .models import Message, MessageEvent

log = logging.getLogger(__name__)

POLL_FIRST_AFTER = dt.timedelta(minutes=2)
POLL_OVERDUE = dt.timedelta(hours=1)

# Stored callbacks applied per transaction by a worker: a few thousand
# reports, so each statement of the status path covers many of them.
APPLY_BATCH = 200
DRAIN_FLAG = "webhooks:drain-scheduled"


def schedule_stored_webhooks() -> None:
    """Queue one run of the applier unless one is queued already; the run
    clears the flag before its last look, so nothing stored is left behind."""
    from django.core.cache import cache

    if cache.add(DRAIN_FLAG, 1, timeout=60):
        # A moment's wait gathers a burst's callbacks into large batches.
        enqueue(
            "campaigns.tasks.apply_webhooks",
            on_commit=False,
            countdown=settings.WEBHOOK_APPLY_DELAY,
        )


def apply_stored_webhooks(*, batch: int = APPLY_BATCH) -> int:
    """Apply stored callbacks, oldest first, until none is left; returns how
    many were applied. Safe in several workers at once (SKIP LOCKED)."""
    from django.core.cache import cache

    applied = 0
    cleared = False
    try:
        while True:
            done = _apply_stored_batch(batch)
            applied += done
            if done:
                cleared = False
                continue
            if cleared:
                return applied
            # Nothing left: let the next callback queue a run, then look
            # once more for one stored while the flag was still set.
            cache.delete(DRAIN_FLAG)
            cleared = True
    finally:
        cache.delete(DRAIN_FLAG)


def _apply_stored_batch(batch: int) -> int:
    with transaction.atomic():
        rows = list(
            # Only the stored rows: locking the account row too would make
            # every new callback's foreign-key check wait for this batch.
            WebhookInbox.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account")
            .order_by("id")[:batch]
        )
        if not rows:
            return 0
        by_account: dict[int, list] = {}
        for row in rows:
            by_account.setdefault(row.account_id, []).append(row)
        for stored in by_account.values():
            account = stored[0].account
            if not account.enabled:
                # Disabled after the callback came in: it changes nothing.
                log.warning("%d stored callback(s) for disabled %s dropped", len(stored), account)
                continue
            backend = account.backend()
            reports, inbound = [], []
            for row in stored:
                request = WebhookRequest(
                    method=row.method,
                    content_type=row.content_type,
                    body=bytes(row.body),
                    query=row.query,
                    form=row.form,
                    headers=row.headers,
                    event=row.event,
                )
                try:
                    result = backend.parse_webhook(request)
                except WebhookRejected as exc:
                    # Accepted once, so this can only follow a change of the
                    # account's settings: kept in the log, not applied.
                    log.warning("stored callback %s for %s refused now: %s", row.pk, account, exc)
                    continue
                reports += result.reports
                inbound += result.inbound
            ingest_reports(account, reports, kind=MessageEvent.Kind.REPORT)
            ingest_inbound(account, inbound)
        WebhookInbox.objects.filter(id__in=[row.id for row in rows]).delete()
    return len(rows)


def _match(account: ProviderAccount, reports: list[StatusReport]) -> dict[int, int]:
    """Map report index -> message id, by provider ID or by our own reference
    (which some providers echo back, and which is all we have when a report
    beats the submit response)."""
    provider_ids = {r.provider_message_id for r in reports if r.provider_message_id}
    by_provider_id = dict(
        Message.objects.filter(account=account, provider_message_id__in=provider_ids)
        # Stated, so the planner uses the partial unique index (it cannot
        # prove it from an IN list of more than 100 values).
        .exclude(provider_message_id="")
        .values_list("provider_message_id", "id")
    )
    refs = {int(r.ref) for r in reports if r.ref and r.ref.isdigit()}
    by_ref = set(Message.objects.filter(account=account, id__in=refs).values_list("id", flat=True))
    matched = {}
    for index, r in enumerate(reports):
        if r.provider_message_id in by_provider_id:
            matched[index] = by_provider_id[r.provider_message_id]
        elif r.ref.isdigit() and int(r.ref) in by_ref:
            matched[index] = int(r.ref)
    return matched


def ingest_reports(account: ProviderAccount, reports: list[StatusReport], *, kind: str) -> int:
    """Apply delivery reports; unknown message IDs are recorded, not fatal."""
    if not reports:
        return 0
    matched = _match(account, reports)
    updates, unknown = [], []
    for index, r in enumerate(reports):
        if index not in matched:
            unknown.append(
                Event(
                    None,
                    account.pk,
                    r.provider_message_id or r.ref,
                    kind,
                    r.status,
                    False,
                    r.raw if isinstance(r.raw, dict | list) else {"raw": str(r.raw)},
                )
            )
            continue
        updates.append(
            Update(
                matched[index],
                r.status,
                kind=kind,
                provider_message_id=r.provider_message_id,
                error_code=r.error_code,
                error_description=r.error_description,
                cost=r.cost,
                currency=r.currency,
                segments=r.segments,
                sent_at=r.sent_at,
                done_at=r.done_at,
                payload=r.raw,
            )
        )
    if unknown:
        log.info("%d report(s) for unknown messages on %s", len(unknown), account)
        insert_events(unknown)
    return apply_updates(updates)


def poll_account(account: ProviderAccount, *, limit: int = 1000) -> int:
    """Ask the provider for messages still waiting for a final status
    (providers without push), and pull queued reports and replies."""
    backend = account.backend()
    caps = backend.capabilities
    applied = 0
    if caps.polling:
        waiting = Message.objects.filter(account=account, status="accepted")
        if caps.push_reports:
            # Reports are pushed; ask only about messages whose report is
            # long overdue (a lost push), not about everything in flight.
            waiting = waiting.filter(submitted_at__lt=timezone.now() - POLL_OVERDUE)
        else:
            # Give the provider a moment: an early "delivered" can mean only
            # that its upstream gateway took the message.
            waiting = waiting.filter(submitted_at__lt=timezone.now() - POLL_FIRST_AFTER)
        waiting = list(
            waiting.exclude(provider_message_id="")
            .order_by("submitted_at")
            .values_list("provider_message_id", flat=True)[:limit]
        )
        if waiting:
            applied += ingest_reports(account, backend.poll_statuses(waiting), kind="poll")
    applied += ingest_reports(account, backend.pull_reports(), kind="poll")
    ingest_inbound(account, backend.pull_inbound())
    return applied
