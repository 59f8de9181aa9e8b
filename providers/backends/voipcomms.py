"""voip-communications.net, api-v2.

A form-encoded POST with HTTP Basic auth sends one text to many numbers; the
answer is a ``send_log`` with one entry per number carrying the provider's
``smsid`` and the ``sale`` (what the message costs). Without a ``from`` the
provider sends it as BULKSMS from its own numbers; with one of the account's
SMS-enabled numbers it is 2-way, and replies go to that number's callback URL.

Only sending is documented publicly. The SMS log (``sms/summary``) and its
error envelope ``{"error": true, "error_message": ...}`` are what the
provider's own web app uses; deleting a scheduled message and the reply
callback are not public, so they are designed here behind the interface.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict, deque
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from providers.base import (
    Capabilities,
    CredentialField,
    InboundSms,
    OutboundSms,
    ProviderBackend,
    ProviderError,
    SendOptions,
    StatusReport,
    SubmitResult,
    Unavailable,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from providers.status import Status

# The seed does not say which currency ``sale`` is in: it is the account's
# billing currency at the provider, so the account says it ("currency"
# option), with the same default as a new provider account.
DEFAULT_CURRENCY = "EUR"
# The seed does not say in which time zone ``delivery_date`` is read. It is
# the provider account's own time zone ("timezone" option), UTC unless set.
DEFAULT_TIMEZONE = "UTC"
DELIVERY_DATE_FORMAT = "%Y-%m-%d %H:%M"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
# The log has no filter by ID, so polling reads it newest first and stops
# here; a message older than this many pages keeps its last known status.
SUMMARY_PAGES = 10
# Seen in the provider's own app (the SMS log) or designed like the send
# (deleting a scheduled SMS); neither is published.
SUMMARY_PATH = "sms/summary"
DELETE_PATH = "sms/delete"

# Words of the SMS log's ``sms_status`` (and the send_log's ``status``). Only
# SCHEDULED appears in the seed; the rest are the words that log uses for a
# message's life. An unknown word gives no report rather than a guess.
_LOG_STATUS = {
    "SCHEDULED": Status.ACCEPTED,
    "PENDING": Status.ACCEPTED,
    "QUEUED": Status.ACCEPTED,
    "SENDING": Status.ACCEPTED,
    "SENT": Status.ACCEPTED,
    "DELIVERED": Status.DELIVERED,
    "UNDELIVERED": Status.UNDELIVERED,
    "FAILED": Status.UNDELIVERED,
    "ERROR": Status.UNDELIVERED,
    "EXPIRED": Status.EXPIRED,
    "REJECTED": Status.REJECTED,
    "CANCELLED": Status.CANCELLED,
    "CANCELED": Status.CANCELLED,
    "DELETED": Status.CANCELLED,
}

# Field names a reply callback may use, first match wins. The format is not
# public, so the usual spellings (and the SMS log's own) are all accepted.
_CALLBACK_FIELDS = {
    "id": ("smsid", "sms_id", "id", "message_id"),
    "from": ("from", "sms_from", "sender"),
    "to": ("to", "sms_to", "did", "number"),
    "text": ("msg", "message", "text", "body", "sms_msg"),
    "date": ("date", "received", "received_at", "sms_date", "timestamp"),
}


class VoipCommsBackend(ProviderBackend):
    kind = "voipcomms"
    label = "voip-communications.net"
    default_base_url = "https://voip-communications.net/api-v2/index.php/"
    capabilities = Capabilities(
        # "to" takes a comma-separated list with no documented limit; 100
        # keeps a request small enough that a failure costs little to retry.
        max_recipients_per_request=100,
        native_scheduling=True,
        # Delivery reports are not pushed; the SMS log is read instead.
        polling=True,
        cancel=True,
        inbound=True,
        # A sender is one of the account's own numbers, never a name.
        max_alphanumeric_sender=0,
        max_numeric_sender=15,
    )
    credential_fields = (
        CredentialField("api_key", "API key", secret=False),
        CredentialField("api_password", "API password"),
    )
    sender_rule = (
        "voip-communications.net: one of the account's 2-way numbers (a name is never "
        "sent); without a sender messages go as bulk SMS."
    )
    option_fields = (
        CredentialField(
            "two_way_numbers",
            "2-way numbers",
            secret=False,
            required=False,
            help_text=(
                "The account's SMS-enabled numbers that may be used as sender (2-way SMS). "
                "Messages without a sender go as bulk SMS."
            ),
        ),
        CredentialField(
            "currency",
            "Billing currency",
            secret=False,
            required=False,
            help_text=f"The currency of the provider's prices; {DEFAULT_CURRENCY} if empty.",
        ),
        CredentialField(
            "timezone",
            "Account time zone",
            secret=False,
            required=False,
            help_text=(
                "The time zone the provider reads scheduled delivery dates in, "
                f"e.g. America/Chicago; {DEFAULT_TIMEZONE} if empty."
            ),
        ),
    )

    # -- sending -------------------------------------------------------------

    def send_batch(
        self, messages: Sequence[OutboundSms], options: SendOptions
    ) -> list[SubmitResult]:
        if not messages:
            return []
        if len({(m.text, m.sender) for m in messages}) > 1:
            raise ProviderError(
                f"{self.label} sends one text from one sender per request.",
                permanent=True,
                code="batch",
            )
        first = messages[0]
        errors = self.sender_errors(first.sender)
        if errors:
            raise ProviderError(" ".join(errors), permanent=True, code="sender")
        form = {}
        if first.sender:
            form["from"] = _digits(first.sender)
        form["to"] = ",".join(_digits(m.to) for m in messages)
        form["msg"] = first.text
        if options.send_at:
            form["delivery_date"] = self._local(options.send_at).strftime(DELIVERY_DATE_FORMAT)
        body = self._post("sms/send", form)
        log = body.get("send_log")
        if not isinstance(log, list):
            # The provider took the request but did not say what it did with
            # each number: sending again could deliver twice.
            return [
                SubmitResult(
                    ref=m.ref,
                    status=Status.UNKNOWN,
                    error_description=f"{self.label} answered without a send log.",
                    raw=body,
                )
                for m in messages
            ]
        return self._results(messages, log)

    def _results(self, messages: Sequence[OutboundSms], log: list[Any]) -> list[SubmitResult]:
        refs: dict[str, deque[str]] = defaultdict(deque)
        for message in messages:
            refs[_digits(message.to)].append(message.ref)
        results = []
        for entry in log:
            if not isinstance(entry, dict):
                continue
            waiting = refs.get(_digits(str(entry.get("to", ""))))
            if not waiting:
                continue
            results.append(self._result(waiting.popleft(), entry))
        # A number the log leaves out may or may not have been sent.
        results.extend(
            SubmitResult(
                ref=ref,
                status=Status.UNKNOWN,
                error_description=f"{self.label} did not list this number in its send log.",
            )
            for waiting in refs.values()
            for ref in waiting
        )
        return results

    def _result(self, ref: str, entry: dict[str, Any]) -> SubmitResult:
        code = str(entry.get("code", ""))
        status = _LOG_STATUS.get(str(entry.get("status", "")).upper(), Status.ACCEPTED)
        if code != "200" or status in (Status.REJECTED, Status.UNDELIVERED):
            return SubmitResult(
                ref=ref,
                status=Status.REJECTED,
                provider_message_id=str(entry.get("smsid") or ""),
                error_code=code,
                error_description=str(entry.get("code_desc") or "")
                or f"{self.label} refused this number (code {code}).",
                raw=entry,
            )
        # A scheduled message is charged "just at the moment of the message
        # be sent" (seed 004), and not if it is cancelled before then: its
        # ``sale`` is a price, not a charge, and stays in the history. The
        # cost comes with the log's ``sms_sale`` once it went out.
        scheduled = str(entry.get("status", "")).upper() == "SCHEDULED"
        return SubmitResult(
            ref=ref,
            status=Status.ACCEPTED,
            provider_message_id=str(entry.get("smsid") or ""),
            cost=None if scheduled else _decimal(entry.get("sale")),
            currency=self.currency,
            raw=entry,
        )

    def sender_errors(self, sender: str) -> list[str]:
        if not sender:
            return []  # bulk SMS, from the provider's own numbers
        if not _digits(sender).isdigit():
            return [
                f"{self.label} cannot send from a name: leave the sender empty to send as "
                "bulk SMS, or use one of this account's 2-way numbers."
            ]
        numbers = self.two_way_numbers
        if _digits(sender) not in numbers:
            known = ", ".join(sorted(numbers)) or "none are set"
            return [
                f"{sender} is not one of this account's 2-way numbers ({known}). Leave the "
                "sender empty to send as bulk SMS."
            ]
        return []

    # -- scheduled messages ---------------------------------------------------

    def cancel(self, provider_message_ids: Sequence[str]) -> list[str]:
        """Delete scheduled messages; returns the smsids the provider
        confirmed it deleted.

        Not public ("list/delete scheduled SMS" is linked from the seed but
        not published), so it is designed like the documented call: a
        form-encoded POST of the ``smsid`` the send returned. Only a 2xx
        answer in the provider's envelope saying ``"error": false`` confirms
        a delete; its error envelope is a refusal for that message (already
        sent, unknown), and anything else confirms nothing, so the message
        is not recorded as cancelled. HTTP 404 means the account has no such
        call: ``Unavailable``, and cancelling is switched off for it. An
        error part-way raises with ``cancelled`` holding what was deleted."""
        cancelled: list[str] = []
        for smsid in provider_message_ids:
            try:
                response = self._send_form(DELETE_PATH, {"smsid": smsid})
            except ProviderError as exc:
                exc.cancelled = list(cancelled)
                raise
            if response.status_code == 404:
                error = Unavailable(
                    f"{self.label} does not offer deleting scheduled SMS to this account "
                    f"({DELETE_PATH} answered HTTP 404{_words(response)}): messages handed "
                    "to it go out at their scheduled time.",
                    feature="cancel",
                    raw=response.text[:2000],
                )
                error.cancelled = list(cancelled)
                raise error
            if _confirms(response):
                cancelled.append(smsid)
        return cancelled

    # -- status --------------------------------------------------------------

    def poll_statuses(self, provider_message_ids: Sequence[str]) -> list[StatusReport]:
        # The SMS log is the only status source. It cannot be filtered by ID,
        # so it is read page by page (newest first) until every message asked
        # about was seen.
        wanted = set(provider_message_ids)
        found: dict[str, StatusReport] = {}
        for page in range(1, SUMMARY_PAGES + 1):
            rows = self._summary(page)
            for row in rows:
                smsid = str(row.get("sms_id", ""))
                if smsid in wanted and smsid not in found:
                    report = self._report(row)
                    if report:
                        found[smsid] = report
            if not rows or wanted <= found.keys():
                break
        return list(found.values())

    def _summary(self, page: int) -> list[dict[str, Any]]:
        response = self._send_form(SUMMARY_PATH, {"page": str(page)})
        if response.status_code == 404:
            # Not published: an account without it has no status source but
            # the send answer, and says so rather than failing.
            raise Unavailable(
                f"{self.label} has no SMS log for this account ({SUMMARY_PATH} answered "
                f"HTTP 404{_words(response)}); its documents publish none. Statuses stay "
                "as the send answer gave them.",
                feature="polling",
                raw=response.text[:2000],
            )
        body = self._body(response)
        rows = body.get("summary")
        if not isinstance(rows, list):
            raise ProviderError(
                f"{self.label} answered the SMS log request without a summary.",
                code="bad_json",
                raw=body,
            )
        return [row for row in rows if isinstance(row, dict)]

    def _report(self, row: dict[str, Any]) -> StatusReport | None:
        status = _LOG_STATUS.get(str(row.get("sms_status", "")).upper())
        if status is None:
            return None
        when = self._parse_date(row.get("sms_status_date"))
        final = status != Status.ACCEPTED
        return StatusReport(
            provider_message_id=str(row["sms_id"]),
            status=status,
            cost=_decimal(row.get("sms_sale")),
            currency=self.currency,
            sent_at=None if final else when,
            done_at=when if final else None,
            raw=row,
        )

    # -- callbacks -----------------------------------------------------------

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        fields = _callback_fields(request)
        sender = _pick(fields, "from")
        text = _pick(fields, "text")
        if not sender or text is None:
            raise WebhookRejected("reply callback lacks the sender or the text")
        # Without an ID of the provider's, one derived from the payload makes
        # a repeated callback the same inbound message, not a second one.
        message_id = _pick(fields, "id") or (
            "voipcomms-"
            + hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]
        )
        return WebhookResult(
            inbound=[
                InboundSms(
                    provider_message_id=message_id,
                    sender=_e164(sender),
                    recipient=_e164(_pick(fields, "to") or ""),
                    text=text,
                    received_at=self._parse_date(_pick(fields, "date")),
                    raw=fields,
                )
            ]
        )

    # -- account -------------------------------------------------------------

    def check_connection(self) -> str:
        # Reading the first page of the SMS log sends nothing and costs nothing.
        rows = self._summary(1)
        return f"{self.label} accepted the credentials ({len(rows)} recent messages in its log)."

    # -- plumbing ------------------------------------------------------------

    @property
    def currency(self) -> str:
        return str(self.options.get("currency") or DEFAULT_CURRENCY).upper()

    @property
    def two_way_numbers(self) -> set[str]:
        value = self.options.get("two_way_numbers") or []
        if isinstance(value, str):
            value = value.replace(";", ",").split(",")
        return {_digits(str(n)) for n in value if str(n).strip()}

    @property
    def timezone(self) -> dt.tzinfo:
        name = str(self.options.get("timezone") or DEFAULT_TIMEZONE)
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ProviderError(
                f"Unknown time zone {name!r} in the account's options.",
                permanent=True,
                code="config",
            ) from exc

    def _local(self, when: dt.datetime) -> dt.datetime:
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.astimezone(self.timezone)

    def _parse_date(self, value: Any) -> dt.datetime | None:
        if not value:
            return None
        text = str(value).strip()
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=self.timezone)

    def _post(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        return self._body(self._send_form(path, form))

    def _send_form(self, path: str, form: dict[str, str]) -> requests.Response:
        auth = (
            str(self.credentials.get("api_key", "")),
            str(self.credentials.get("api_password", "")),
        )
        return self.request("POST", path, data=form, auth=auth)

    def _body(self, response: requests.Response) -> dict[str, Any]:
        body = self.json_of(response)
        if not isinstance(body, dict):
            raise ProviderError(
                f"{self.label} answered with JSON that is not an API response.",
                code="bad_json",
                raw=body,
                maybe_sent=200 <= response.status_code < 300,
            )
        if body.get("error") not in (None, False, 0, "0", "false"):
            # The provider's own refusals (bad number, no balance, not your
            # number...) come in this envelope; retrying gives the same answer.
            raise ProviderError(
                str(body.get("error_message") or f"{self.label} refused the request."),
                permanent=True,
                code="error",
                raw=body,
            )
        return body


def _confirms(response: requests.Response) -> bool:
    """A 2xx answer in the provider's envelope that says no error."""
    if not 200 <= response.status_code < 300:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "error" in body and body["error"] in _NO_ERROR


_NO_ERROR = (False, 0, "0", "false")


def _words(response: requests.Response) -> str:
    """The provider's own message from an answer, as ": ..." (or nothing)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        for key in ("error_message", "message"):
            if isinstance(body.get(key), str) and body[key].strip():
                return f": {body[key].strip()[:200]}"
    return ""


def _callback_fields(request: WebhookRequest) -> dict[str, str]:
    body = request.body.strip()
    if "json" in request.content_type.lower() or body.startswith(b"{"):
        data = request.json()
        if not isinstance(data, dict):
            raise WebhookRejected("callback is not a JSON object")
    elif request.form:
        data = request.form
    elif body:
        try:
            data = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise WebhookRejected("callback body is not UTF-8") from exc
    else:
        data = request.query
    return {str(k).lower(): "" if v is None else str(v) for k, v in data.items()}


def _pick(fields: dict[str, str], name: str) -> str | None:
    for key in _CALLBACK_FIELDS[name]:
        if key in fields:
            return fields[key]
    return None


def _digits(number: str) -> str:
    # The provider writes numbers as international digits without "+".
    return "".join(c for c in number.strip().removeprefix("+") if c not in " -().")


def _e164(number: str) -> str:
    number = _digits(number)
    return f"+{number}" if number.isdigit() and len(number) > 8 else number


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        # Through str so 0.01 stays 0.01, not the float's binary expansion.
        return Decimal(str(value))
    except InvalidOperation:
        return None
