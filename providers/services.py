"""The one status path from providers into the database: webhooks, polls,
pulls and the sandbox all come through ``ingest_reports``."""

from __future__ import annotations

import datetime as dt
import json
import logging

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from campaigns.delivery import Event, Update, apply_updates, insert_events
from campaigns.models import Message, MessageEvent
from contacts.models import Suppression
from smsportal import audit
from smsportal.phones import InvalidNumber, normalise

from .base import (
    InboundSms,
    ProviderError,
    StatusReport,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from .models import InboundMessage, ProviderAccount, WebhookInbox

log = logging.getLogger(__name__)

POLL_FIRST_AFTER = dt.timedelta(minutes=2)
POLL_OVERDUE = dt.timedelta(hours=1)


def ingest_webhook(account: ProviderAccount, request: WebhookRequest) -> WebhookResult:
    """Parse a callback with the account's backend and apply it. Raises
    WebhookRejected (nothing changed) when the backend refuses it."""
    result = account.backend().parse_webhook(request)
    ingest_reports(account, result.reports, kind=MessageEvent.Kind.REPORT)
    ingest_inbound(account, result.inbound)
    return result


# Stored callbacks applied per transaction by a worker: a few thousand
# reports, so each statement of the status path covers many of them.
APPLY_BATCH = 200
DRAIN_FLAG = "webhooks:drain-scheduled"


def accept_webhook(account: ProviderAccount, request: WebhookRequest) -> WebhookResult:
    """Parse a callback with the account's backend (raising WebhookRejected,
    with nothing stored, when the backend refuses it), store it, and have a
    worker apply it. Returns what to answer the provider."""
    result = account.callback_backend.parse_webhook(request)
    if not (result.reports or result.inbound):
        return result
    # One plain INSERT: this is all the provider waits for.
    table = connection.ops.quote_name(WebhookInbox._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (account_id, method, content_type, body, query, form, "  # noqa: S608 - the model's own table name
            "headers, event, reports, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                account.pk,
                request.method[:8],
                request.content_type[:100],
                request.body,
                json.dumps(request.query),
                json.dumps(request.form),
                json.dumps(request.headers),
                request.event[:64],
                len(result.reports) + len(result.inbound),
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ],
        )
    schedule_stored_webhooks()
    return result


def schedule_stored_webhooks() -> None:
    """Queue one run of the applier unless one is queued already; the run
    clears the flag before its last look, so nothing stored is left behind."""
    from django.core.cache import cache

    from .tasks import apply_webhooks

    if cache.add(DRAIN_FLAG, 1, timeout=60):
        # A moment's wait gathers a burst's callbacks into large batches.
        apply_webhooks.apply_async(countdown=settings.WEBHOOK_APPLY_DELAY)


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


def ingest_inbound(account: ProviderAccount, messages: list[InboundSms]) -> int:
    """Store replies; an opt-out keyword adds a suppression for the sender."""
    stored = 0
    stop_words = {w.upper() for w in settings.STOP_KEYWORDS}
    for sms in messages:
        first_word = (sms.keyword or sms.text or "").strip().split(maxsplit=1)
        keyword = first_word[0].upper().strip(".!") if first_word else ""
        is_stop = keyword in stop_words
        try:
            with transaction.atomic():
                inbound = InboundMessage.objects.create(
                    account=account,
                    provider_message_id=sms.provider_message_id or "",
                    sender=sms.sender[:32],
                    recipient=(sms.recipient or "")[:32],
                    text=sms.text or "",
                    keyword=(sms.keyword or keyword)[:64],
                    received_at=sms.received_at or timezone.now(),
                    opted_out=is_stop,
                    raw=sms.raw if isinstance(sms.raw, dict | list) else {"raw": str(sms.raw)},
                )
        except IntegrityError:
            continue  # the same inbound message delivered twice
        stored += 1
        if is_stop:
            phone = _opt_out_number(sms.sender)
            if phone is None:
                log.warning("STOP from an unparseable number %r", sms.sender)
                continue
            suppression, created = Suppression.objects.get_or_create(
                phone=phone,
                defaults={"reason": Suppression.Reason.STOP, "note": f"Replied {keyword!r}"},
            )
            if created:
                audit.record("suppression.add", obj=suppression, reason="stop", inbound=inbound.pk)
    return stored


def _opt_out_number(sender: str) -> str | None:
    """The number to suppress. Providers write international numbers without
    the "+"; a number phonenumbers does not know is still suppressed as given
    when it looks like one (opting out must never fail on a technicality)."""
    digits = "".join(c for c in sender if c.isdigit())
    raw = sender if sender.startswith("+") else "+" + digits.lstrip("0")
    try:
        return normalise(raw).e164
    except InvalidNumber:
        return "+" + digits.lstrip("0") if 8 <= len(digits.lstrip("0")) <= 15 else None


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


def check_connection(account: ProviderAccount) -> tuple[bool, str]:
    try:
        return True, account.backend().check_connection()
    except ProviderError as error:
        return False, error.message
    except NotImplementedError:
        return False, "This provider has no way to check the connection."
