"""The one status path from providers into messages: stored callbacks,
polls, pulls and the sandbox all come through ``ingest_reports``.

Providers parse what they are sent into plain reports (``providers.base``);
what those reports change (messages, their history and counters) is
decided here."""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from providers import services as provider_services
from providers.base import ProviderError, StatusReport, WebhookRejected
from providers.models import ProviderAccount, WebhookInbox
from providers.screening import ref_number
from providers.status import Status
from smsportal.celery import enqueue

from .delivery import (
    Event,
    Update,
    apply_updates,
    bulk_status_change,
    insert_events,
    locked_messages,
)
from .inbound import ingest_inbound
from .models import Message, MessageEvent

log = logging.getLogger(__name__)

POLL_FIRST_AFTER = dt.timedelta(minutes=2)
POLL_OVERDUE = dt.timedelta(hours=1)

# Stored callbacks applied per transaction by a worker: a few thousand
# reports, so each statement of the status path covers many of them.
APPLY_BATCH = 200
# Seconds a run waits once it has caught up (a batch not full) before it
# takes the next: callbacks still coming in gather into batches of some
# size, instead of the run taking each one as it lands.
APPLY_GATHER = 0.1
DRAIN_FLAG = "webhooks:drain-scheduled"


# A web process that asked less than this many seconds ago (and found a run
# queued, or queued one) does not ask again: a burst of callbacks costs each
# process one cache call per quarter second instead of one per callback.
# So that nothing such a process stores is left behind, a run that clears
# the flag queues one more look this long after (``last_look``).
ASK_EVERY = 0.25
_asked_at = [-ASK_EVERY]


def schedule_stored_webhooks() -> None:
    """Queue one run of the applier unless one is queued already; the run
    clears the flag before its last look, so nothing stored is left behind."""
    # Checked first, before anything else is looked up: this is what a
    # burst's callbacks mostly do. Only a process whose tasks go to a
    # worker ever sets the time (see below).
    now = time.monotonic()
    if now - _asked_at[0] < ASK_EVERY:
        return
    from django.core.cache import cache

    from smsportal.celery import app

    if cache.add(DRAIN_FLAG, 1, timeout=60):
        # A moment's wait gathers a burst's callbacks into large batches.
        enqueue(
            "campaigns.tasks.apply_webhooks",
            on_commit=False,
            countdown=settings.WEBHOOK_APPLY_DELAY,
        )
    # Tasks run in this process (tests, eager mode): each callback's run
    # happens at once, so each asks.
    if not app.conf.task_always_eager:
        _asked_at[0] = now


def apply_stored_webhooks(*, batch: int = APPLY_BATCH, last_look: bool = False) -> int:
    """Apply stored callbacks, oldest first, until none is left; returns how
    many were applied. Safe in several workers at once (SKIP LOCKED).
    ``last_look``: the run a cleared flag calls for (see ASK_EVERY), which
    leaves the flag alone."""
    from django.core.cache import cache

    from smsportal.celery import app

    applied = 0
    if last_look:
        while done := _apply_stored_batch(batch):
            applied += done
        return applied
    eager = app.conf.task_always_eager
    cleared = False
    try:
        while True:
            done = _apply_stored_batch(batch)
            applied += done
            if done:
                cleared = False
                if done < batch and not eager:
                    time.sleep(APPLY_GATHER)
                continue
            if cleared:
                break
            # Nothing left: let the next callback queue a run, then look
            # once more for one stored while the flag was still set.
            cache.delete(DRAIN_FLAG)
            cleared = True
    finally:
        cache.delete(DRAIN_FLAG)
    if not eager:
        # Web processes that saw the flag within ASK_EVERY before it was
        # cleared store callbacks without asking until then.
        enqueue(
            "campaigns.tasks.apply_webhooks",
            on_commit=False,
            countdown=ASK_EVERY,
            kwargs={"last_look": True},
        )
    return applied


def apply_waiting_webhooks(*, batch: int = APPLY_BATCH) -> int:
    """One batch of stored callbacks, if any are waiting; returns how many
    were applied. A worker sending a campaign calls this between its claims:
    while every worker is busy dispatching, the queued run of the applier
    finds no free worker, and reports would wait for the campaign to finish.
    The database failing here is left to the next run."""
    try:
        if not WebhookInbox.objects.exists():
            return 0
        return _apply_stored_batch(batch)
    except _DATABASE_TROUBLE:
        log.warning("stored callbacks not applied between claims", exc_info=True)
        return 0


def _apply_stored_batch(batch: int) -> int:
    """Apply up to ``batch`` stored callbacks in one transaction and delete
    them. A callback that cannot be applied (refused when read again, or
    failing in the status path) is set aside with its error, and the rest
    of the batch is applied without it: one bad callback never holds up the
    ones after it."""
    with transaction.atomic():
        rows, taken = _take_stored(batch)
        if not taken:
            return 0
        parsed, failed = _parse_stored(rows)
        try:
            with transaction.atomic():
                _ingest_parsed(parsed)
        except _DATABASE_TROUBLE:
            raise
        except Exception:
            # One of them, at least, cannot be applied: each on its own then.
            log.warning("a batch of stored callbacks failed; applying them one by one")
            for item in parsed:
                try:
                    with transaction.atomic():
                        _ingest_parsed([item])
                except _DATABASE_TROUBLE:
                    raise
                except Exception as exc:
                    log.exception(
                        "stored callback %s for %s set aside", item[0].pk, item[0].account
                    )
                    failed.append((item[0], f"{type(exc).__name__}: {exc}"))
        if failed:
            whole = _whole([row for row, _ in failed])
            provider_services.set_aside([(whole[row.pk], error) for row, error in failed])
        WebhookInbox.objects.filter(id__in=taken).delete()
    return len(taken)


def _take_stored(batch: int) -> tuple[list[WebhookInbox], list[int]]:
    """Up to ``batch`` stored callbacks, oldest first, with their accounts,
    locked in the current transaction the way a claim takes messages (what
    another run holds is skipped); the caller deletes them in the same
    transaction, so a rollback (the database in trouble) puts them all
    back. Returns them and the ids of all taken (a callback whose account
    is gone is taken, but not returned).

    Only what applying reads is read: the account and the reports the
    webhook kept (``parsed``). The request as it came in (a body of up to
    a megabyte, its headers) is read where it is needed, by ``_whole``."""
    table = connection.ops.quote_name(WebhookInbox._meta.db_table)
    skip = " SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    lock = f" FOR UPDATE{skip}" if connection.features.has_select_for_update else ""
    rows = list(
        WebhookInbox.objects.raw(
            f"SELECT id, account_id, parsed FROM {table} ORDER BY id LIMIT %s{lock}",  # noqa: S608 - the model's own table
            [batch],
        )
    )
    # Only the stored rows are locked; the accounts are read as they are.
    accounts = ProviderAccount.objects.in_bulk({row.account_id for row in rows})
    kept = []
    for row in rows:
        if row.account_id not in accounts:
            # Stored while its account was being deleted: it changes nothing.
            log.warning("stored callback %s for deleted account %s dropped", row.pk, row.account_id)
            continue
        row.account = accounts[row.account_id]
        kept.append(row)
    return kept, [row.pk for row in rows]


def _whole(rows: list[WebhookInbox]) -> dict[int, WebhookInbox]:
    """The stored callbacks ``_take_stored`` read, each read whole (one
    query), with its account, by id."""
    whole = WebhookInbox.objects.in_bulk([row.pk for row in rows])
    for row in rows:
        whole[row.pk].account = row.account
    return whole


# Errors that say the database is in trouble, not the callback: the batch is
# left as it was, for the next run.
_DATABASE_TROUBLE = (OperationalError, InterfaceError)


def _parse_stored(rows: list[WebhookInbox]):
    """Each stored callback's reports as the webhook read them, or, where it
    kept none (a callback with replies, one put back in the inbox), read
    again by its account's backend: returns [(row, result)] to apply and
    [(row, error)] to set aside."""
    parsed, failed = [], []
    backends = {}
    whole = _whole([row for row in rows if row.parsed is None])
    for row in rows:
        account = row.account
        if not account.enabled:
            # Disabled after the callback came in: it changes nothing.
            log.warning("stored callback %s for disabled %s dropped", row.pk, account)
            continue
        if row.parsed is not None:
            try:
                parsed.append((row, provider_services.stored_result(row.parsed)))
                continue
            except (ValueError, TypeError) as exc:
                log.warning("stored callback %s: its reports unreadable (%s)", row.pk, exc)
                whole.update(_whole([row]))
        if account.pk not in backends:
            try:
                backends[account.pk] = account.backend()
            except Exception as exc:
                # Its credentials cannot be read (a key taken out of
                # CREDENTIALS_KEYS, say): its callbacks wait aside.
                log.exception("no backend for %s", account)
                backends[account.pk] = exc
        if isinstance(backends[account.pk], Exception):
            exc = backends[account.pk]
            failed.append((row, f"The account's backend failed: {type(exc).__name__}: {exc}"))
            continue
        request = whole[row.pk].as_request()
        try:
            parsed.append((row, provider_services.parse_webhook(backends[account.pk], request)))
        except WebhookRejected as exc:
            # Accepted once, so this follows a change of the account's
            # settings, or it came in before the door refused its like.
            log.warning("stored callback %s for %s refused now: %s", row.pk, account, exc)
            failed.append((row, f"Refused when applied: {exc}"))
    return parsed, failed


def _ingest_parsed(parsed) -> None:
    """Apply parsed callbacks, each account's reports and replies together."""
    by_account: dict[int, tuple[ProviderAccount, list, list]] = {}
    for row, result in parsed:
        account, reports, inbound = by_account.setdefault(row.account_id, (row.account, [], []))
        reports += result.reports
        inbound += result.inbound
    for account, reports, inbound in by_account.values():
        ingest_reports(account, reports, kind=MessageEvent.Kind.REPORT)
        ingest_inbound(account, inbound)


# Ids per query when matching reports (SQLite takes at most 32,766 parameters
# in a statement).
MATCH_CHUNK = 5000
# Reports for unknown messages kept one by one, per call; beyond this, the
# call records one summary event instead (a callback naming 60,000 unknown
# ids is not 60,000 history rows).
UNKNOWN_EVENTS = 20


def _match(account: ProviderAccount, reports: list[StatusReport]) -> dict[int, int]:
    """Map report index -> message id, by provider ID or by our own reference
    (which some providers echo back, and which is all we have when a report
    beats the submit response)."""
    provider_ids = sorted({r.provider_message_id for r in reports if r.provider_message_id})
    by_provider_id = {}
    for start in range(0, len(provider_ids), MATCH_CHUNK):
        by_provider_id.update(
            Message.objects.filter(
                account=account, provider_message_id__in=provider_ids[start : start + MATCH_CHUNK]
            )
            # Stated, so the planner uses the partial unique index (it cannot
            # prove it from an IN list of more than 100 values).
            .exclude(provider_message_id="")
            .values_list("provider_message_id", "id")
        )
    refs = [ref_number(r.ref) for r in reports]
    wanted = sorted({ref for ref in refs if ref is not None})
    by_ref = set()
    for start in range(0, len(wanted), MATCH_CHUNK):
        by_ref.update(
            Message.objects.filter(
                account=account, id__in=wanted[start : start + MATCH_CHUNK]
            ).values_list("id", flat=True)
        )
    matched = {}
    for index, r in enumerate(reports):
        if r.provider_message_id in by_provider_id:
            matched[index] = by_provider_id[r.provider_message_id]
        elif refs[index] in by_ref:
            matched[index] = refs[index]
    return matched


def ingest_reports(account: ProviderAccount, reports: list[StatusReport], *, kind: str) -> int:
    """Apply delivery reports; unknown message IDs are recorded, not fatal."""
    if not reports:
        return 0
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            matched, locked = _match_and_lock(account, reports)
        else:
            matched, locked = _match(account, reports), None
        updates, unknown = [], []
        for index, r in enumerate(reports):
            if index not in matched:
                unknown.append(r)
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
                    payload_json=r.raw_json,
                )
            )
        if unknown:
            log.info("%d report(s) for unknown messages on %s", len(unknown), account)
            insert_events(_unknown_events(account, unknown, kind))
        return apply_updates(updates, locked=locked)


def _match_and_lock(account: ProviderAccount, reports: list[StatusReport]):
    """What ``_match`` finds, in one statement that also locks and reads the
    messages for the status path (PostgreSQL): returns the map of report
    index -> message id, and the locked rows. A report's reference counts
    only where its provider ID matches nothing, as in ``_match``; the
    statement finds (and locks) the messages of both, which one index scan
    each reaches, where picking the references out of the unmatched reports
    first would cost PostgreSQL more than the few extra locks it avoids."""
    provider_ids = list({r.provider_message_id for r in reports if r.provider_message_id})
    refs = [ref_number(r.ref) for r in reports]
    condition = (
        "m.account_id = %s AND (m.provider_message_id = ANY(%b::text[]) "
        # Stated, so the planner uses the partial unique index.
        "AND m.provider_message_id <> ''"
    )
    params = [account.pk, provider_ids]
    wanted = list({ref for ref in refs if ref})
    if wanted:
        condition += " OR m.id = ANY(%b::bigint[])"
        params.append(wanted)
    locked = locked_messages(condition + ")", params)
    by_provider_id = {m.provider_message_id: m.id for m in locked if m.provider_message_id}
    by_id = {m.id for m in locked}
    matched = {}
    for index, r in enumerate(reports):
        if r.provider_message_id in by_provider_id:
            matched[index] = by_provider_id[r.provider_message_id]
        elif refs[index] in by_id:
            matched[index] = refs[index]
    return matched, locked


def _payload(report: StatusReport):
    """What a report's history row keeps of what the provider sent (where
    the report carries it as JSON text, that text is kept instead)."""
    if isinstance(report.raw, dict | list) or report.raw_json is not None:
        return report.raw
    return {"raw": str(report.raw)}


def _unknown_events(account: ProviderAccount, unknown: list[StatusReport], kind: str):
    """History rows for reports that match no message: one each, or one
    for them all when there are many."""
    if len(unknown) <= UNKNOWN_EVENTS:
        return [
            Event(
                None,
                account.pk,
                r.provider_message_id or r.ref,
                kind,
                r.status,
                False,
                _payload(r),
                r.raw_json,
            )
            for r in unknown
        ]
    summary = {
        "unknown_reports": len(unknown),
        "first_ids": [r.provider_message_id or r.ref for r in unknown[:UNKNOWN_EVENTS]],
    }
    return [Event(None, account.pk, "", kind, "", False, summary)]


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
            # Held by the provider until a later time (a schedule handed
            # over): nothing to report before then.
            .exclude(not_before__gt=timezone.now())
            .order_by("submitted_at")
            .values_list("provider_message_id", flat=True)[:limit]
        )
        if waiting:
            applied += ingest_reports(account, backend.poll_statuses(waiting), kind="poll")
    applied += ingest_reports(account, backend.pull_reports(), kind="poll")
    ingest_inbound(account, backend.pull_inbound())
    return applied


def report_deadline(account: ProviderAccount) -> dt.timedelta:
    """How long a message may wait for its report on this account: the
    account's ``no_report_after_hours`` option, else NO_REPORT_AFTER_HOURS."""
    hours = account.options.get("no_report_after_hours") if account.options else None
    try:
        hours = float(hours)
    except (TypeError, ValueError):
        hours = settings.NO_REPORT_AFTER_HOURS
    if not 0 < hours <= 24 * 365:
        hours = settings.NO_REPORT_AFTER_HOURS
    return dt.timedelta(hours=hours)


def mark_unreported(*, now: dt.datetime | None = None, ask_limit: int = 1000) -> int:
    """Messages accepted longer ago than their account's report deadline:
    the provider is asked where it can be (polling), and what is still
    without an outcome becomes "no report", counted on the campaign's page.
    (A message the provider holds for a later time counts from that time.)
    Returns how many were marked."""
    now = now or timezone.now()
    marked = 0
    for account in ProviderAccount.objects.filter(enabled=True):
        hours = report_deadline(account)
        cutoff = now - hours
        overdue = Message.objects.filter(
            account=account, status=Status.ACCEPTED, submitted_at__lt=cutoff
        ).filter(Q(not_before__isnull=True) | Q(not_before__lt=cutoff))
        backend = account.backend()
        if backend.capabilities.polling:
            ids = list(
                overdue.exclude(provider_message_id="")
                .order_by("submitted_at")
                .values_list("provider_message_id", flat=True)[:ask_limit]
            )
            if ids:
                try:
                    ingest_reports(account, backend.poll_statuses(ids), kind="poll")
                except NotImplementedError:
                    pass
                except ProviderError as exc:
                    log.warning("asking %s about overdue messages failed: %s", account, exc)
                    if not exc.permanent:
                        # Not answered this time: asked again on the next run.
                        continue
        marked += bulk_status_change(
            overdue,
            Status.NO_REPORT,
            reason=f"No delivery report from the provider within {_hours(hours)}.",
        )
    if marked:
        log.info("%d message(s) marked as without a report", marked)
    return marked


def _hours(deadline: dt.timedelta) -> str:
    hours = deadline.total_seconds() / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}"
