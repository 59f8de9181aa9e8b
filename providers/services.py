"""Provider-side services: callbacks are parsed by the account's backend and
stored, and a connection is checked. What a stored callback changes is
applied above this layer (``campaigns.reports``), told by ``callback_stored``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from decimal import Decimal

import orjson
from django.db import connection, transaction
from django.utils import timezone

from smsportal import prepared

from . import clicks, fence, screening, timing
from .base import (
    CLICKS_EVENT,
    ProviderError,
    StatusReport,
    Unavailable,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from .models import FailedCallback, ProviderAccount, WebhookInbox
from .signals import callback_stored

log = logging.getLogger(__name__)


def accept_webhook(account: ProviderAccount, request: WebhookRequest) -> WebhookResult:
    """Parse a callback with the account's backend (raising WebhookRejected,
    with nothing stored, when it is refused: see ``parse_webhook``), store
    it, and say so (``callback_stored``) for a worker to apply it. Returns
    what to answer the provider. A click report is taken at once
    (``providers.clicks``)."""
    result = parse_webhook(account.callback_backend, request)
    if result.clicks:
        clicks.accept(account, request, result.clicks)
    if not (result.reports or result.inbound):
        return result
    # One plain INSERT: this is all the provider waits for.
    _store(account, request, len(result.reports) + len(result.inbound), _written(result))
    timing.mark("insert")
    callback_stored.send(sender=ProviderAccount, account=account)
    timing.mark("schedule")
    return result


_INSERT = (
    "INSERT INTO {table} (account_id, method, content_type, body, query, form, headers, event, "
    "reports, parsed, received_at) "
    "VALUES (%s, %s, %s, %s, %s{json}, %s{json}, %s{json}, %s, %s, %s, %s)"
)


def _store(
    account: ProviderAccount, request: WebhookRequest, reports: int, parsed: str | None
) -> None:
    """The callback as it came in, in the inbox, with what ``_written``
    made of its reports: one INSERT, committed with it (or with the
    transaction it is in)."""
    table = connection.ops.quote_name(WebhookInbox._meta.db_table)
    values = [
        account.pk,
        request.method[:8],
        request.content_type[:100],
        request.body,
        json.dumps(request.query),
        json.dumps(request.form),
        json.dumps(request.headers),
        request.event[:64],
        reports,
        parsed,
        timezone.now(),
    ]
    if connection.vendor == "postgresql":
        # Planned once per connection; the values sent apart from the
        # statement (the body as bytes, not escaped into its text), on the
        # ORM's connection and transaction.
        prepared.execute(_INSERT.format(table=table, json="::jsonb"), values)
        return
    values[-1] = connection.ops.adapt_datetimefield_value(values[-1])
    with connection.cursor() as cursor:
        cursor.execute(_INSERT.format(table=table, json=""), values)


def _written(result: WebhookResult) -> str | None:
    """The reports of a parsed and screened callback, for the worker to
    apply without reading the body again (``stored_result``): a line of
    JSON with an array of each report's fields, then each report's payload
    as the screening wrote it, a line each (JSON written without indent
    holds no line break). None where the callback holds anything but
    reports, or a report whose payload is not kept as it is: the worker
    parses those again."""
    if result.inbound or result.clicks:
        return None
    rows = []
    for r in result.reports:
        if r.raw_json is None:
            return None
        rows.append(
            [
                r.provider_message_id,
                r.status,
                r.ref,
                r.error_code,
                r.error_description,
                None if r.cost is None else str(r.cost),
                r.currency,
                r.segments,
                None if r.sent_at is None else r.sent_at.isoformat(),
                None if r.done_at is None else r.done_at.isoformat(),
            ]
        )
    # Screened texts, numbers and nulls: orjson writes them as the json
    # module would (no line break either), several times as fast.
    head = orjson.dumps(rows).decode()
    return "\n".join([head, *(r.raw_json for r in result.reports)])


def stored_result(parsed: str) -> WebhookResult:
    """The reports ``_written`` kept, as the webhook parsed them (each with
    its payload as JSON text, ``raw_json``, and no ``raw``). Raises
    ValueError where the text is not what ``_written`` writes."""
    head, *payloads = parsed.split("\n")
    rows = orjson.loads(head)  # its JSONDecodeError is a ValueError
    if not isinstance(rows, list) or len(rows) != len(payloads):
        raise ValueError("not one payload a report")
    reports = []
    for row, raw in zip(rows, payloads, strict=True):
        (pid, status, ref, code, description, cost, currency, segments, sent, done) = row
        reports.append(
            StatusReport(
                provider_message_id=pid,
                status=status,
                ref=ref,
                error_code=code,
                error_description=description,
                cost=None if cost is None else Decimal(cost),
                currency=currency,
                segments=segments,
                sent_at=None if sent is None else dt.datetime.fromisoformat(sent),
                done_at=None if done is None else dt.datetime.fromisoformat(done),
                raw_json=raw,
            )
        )
    return WebhookResult(reports=reports)


@dataclass(frozen=True)
class ConnectionCheck:
    """What "Check connection" found: ``ok`` (the provider accepted the
    credentials), ``unverified`` (it offers no way to tell without sending a
    message: neither a failure nor a success) or ``failed``; ``text`` says
    why, in the provider's words where it gave any."""

    state: str
    text: str

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def parse_webhook(backend, request: WebhookRequest) -> WebhookResult:
    """What a backend makes of a callback, screened (``providers.screening``)
    before and after it reads the body. A body the backend fails on is
    refused like a malformed one: whatever it holds, it is nothing the
    backend can report. Raises WebhookRejected."""
    screening.check_body(request.body, request.content_type)
    screening.check_request(request)
    timing.mark("screening")
    try:
        result = backend.parse_webhook(request)
    except WebhookRejected:
        raise
    except Exception as exc:
        log.warning("%s could not read a callback", type(backend).__name__, exc_info=True)
        raise WebhookRejected(f"the callback could not be read ({type(exc).__name__})") from exc
    timing.mark("parsing")
    screening.check_result(result)
    timing.mark("screening")
    return result


def check_connection(account: ProviderAccount) -> ConnectionCheck:
    try:
        text = account.backend().check_connection()
    except Unavailable as error:
        switch_off(account, error)
        return ConnectionCheck(
            "unverified",
            "The credentials could not be verified without sending a message. " + error.message,
        )
    except ProviderError as error:
        return ConnectionCheck("failed", describe(error))
    except NotImplementedError:
        return ConnectionCheck("unverified", "This provider has no way to check the connection.")
    if "polling" in (account.switched_off or {}) and account.backend_class.capabilities.polling:
        # The call that failed before works now (a new base URL, say).
        switch_on(account, "polling")
    return ConnectionCheck("ok", text)


def switch_off(account: ProviderAccount, error: Unavailable) -> None:
    """Turn off what depends on a call the provider does not offer this
    account, with its notice for the account's page."""
    notices = dict(account.switched_off or {})
    if notices.get(error.feature) == error.message:
        return
    notices[error.feature] = error.message
    account.switched_off = notices
    ProviderAccount.objects.filter(pk=account.pk).update(switched_off=notices)


def switch_on(account: ProviderAccount, feature: str) -> None:
    notices = {k: v for k, v in (account.switched_off or {}).items() if k != feature}
    account.switched_off = notices
    ProviderAccount.objects.filter(pk=account.pk).update(switched_off=notices)


# Where providers put their explanation in an error body.
_REASON_KEYS = ("error_message", "error-info", "message", "error_description", "text", "error")


def describe(error: ProviderError) -> str:
    """An error as the account page shows it: our sentence, the HTTP status
    and the provider's own reason (or, with no answer at all, why the
    connection failed). Where a backend put the provider's words in the
    message, they are shown as plain text and cut short like the reason."""
    text = fence.sanitised(error.message, limit=fence.MESSAGE_CHARS)
    if error.code.isdigit() and f"HTTP {error.code}" not in text:
        text += f" (HTTP {error.code})"
    reason = fence.sanitised(_reason(error.raw))
    if reason and reason not in text:
        text += f" The provider says: {reason}"
    if error.code in ("connection", "timeout") and error.__cause__ is not None:
        cause = _transport_reason(str(error.__cause__))
        if cause and cause not in text:
            text += f" ({cause})"
    return text


def _reason(raw) -> str:
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError:
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            text = " ".join(re.sub(r"<[^>]*>", " ", text).split())
            return text[:200]
    if not isinstance(raw, dict):
        return ""
    exception = (raw.get("requestError") or {}).get("serviceException")
    if isinstance(exception, dict) and exception.get("text"):
        return str(exception["text"])[:300]
    for key in _REASON_KEYS:
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:300]
    return ""


def _transport_reason(detail: str) -> str:
    found = re.findall(r"\[Errno -?\d+\] [^'\")\]]+", detail)
    if found:
        return found[-1].strip()
    return detail[:200]


# The copy of a stored callback that moves with it.
_CALLBACK_FIELDS = ("account_id", "method", "content_type", "body", "query", "form", "headers")
_CALLBACK_FIELDS += ("event", "reports", "received_at")


def set_aside(stored: list[tuple[WebhookInbox, str]]) -> list[FailedCallback]:
    """Keep stored callbacks that could not be applied apart, each with the
    error it met (the caller deletes them from the inbox)."""
    return FailedCallback.objects.bulk_create(
        FailedCallback(
            **{name: getattr(row, name) for name in _CALLBACK_FIELDS},
            # An error may quote the value that caused it.
            error=screening.storable(error)[:4000],
        )
        for row, error in stored
    )


def apply_again(failed) -> int:
    """Put callbacks set aside back in the inbox (once what stopped them is
    fixed); returns how many."""
    moved = 0
    with transaction.atomic():
        rows = list(failed.select_for_update())
        # Click reports are taken in the request, not by the worker: they
        # go the webhook's way again (and are kept aside again, with why,
        # where still not verified).
        moved += _accept_clicks_again([row for row in rows if row.event == CLICKS_EVENT])
        rows = [row for row in rows if row.event != CLICKS_EVENT]
        WebhookInbox.objects.bulk_create(
            WebhookInbox(**{name: getattr(row, name) for name in _CALLBACK_FIELDS}) for row in rows
        )
        FailedCallback.objects.filter(id__in=[row.id for row in rows]).delete()
        moved += len(rows)
        for account in ProviderAccount.objects.filter(id__in={row.account_id for row in rows}):
            transaction.on_commit(
                lambda a=account: callback_stored.send(sender=ProviderAccount, account=a)
            )
    return moved


def _accept_clicks_again(rows: list[FailedCallback]) -> int:
    """Click reports set aside, taken again as when they came in; one the
    webhook would refuse now (or whose account is disabled) stays aside."""
    taken = 0
    for row in rows:
        if not row.account.enabled:
            continue
        try:
            with transaction.atomic():
                accept_webhook(row.account, row.as_request())
        except WebhookRejected as exc:
            log.warning("click report %s for %s refused again: %s", row.pk, row.account, exc)
            continue
        FailedCallback.objects.filter(pk=row.pk).delete()
        taken += 1
    return taken
