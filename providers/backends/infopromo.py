"""Infopromo SMS portal: the API v3 (Bearer token) and the HTTP API (api_token).

Both APIs are the same portal behind two ways of authenticating, so everything
but the credentials and the path prefix lives in ``InfopromoBackend``. The
portal has no delivery callbacks: status is read back per message uid.

Every answer is an envelope, ``{"status": "success", "data": ...}`` or
``{"status": "error", "message": ...}``, and errors (bad token, unknown uid,
validation) often come with HTTP 200, so the envelope decides, never the code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import defaultdict, deque
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from providers import segments
from providers.base import (
    Capabilities,
    CredentialField,
    OutboundSms,
    ProviderBackend,
    ProviderError,
    ReportPage,
    SendOptions,
    StatusReport,
    SubmitResult,
)
from providers.status import Status
from smsportal.phones import InvalidNumber, normalise

DEFAULT_MAX_RECIPIENTS = 100
DEFAULT_DELIVERED_GRACE_MINUTES = 10

# The portal's message status words. Anything else in ``status`` is the
# gateway's own error text, which we keep as the failure description.
STATUS_WORDS = {
    "delivered": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "expired": Status.EXPIRED,
    "enroute": Status.ACCEPTED,
    "accepted": Status.ACCEPTED,
    "skipped": Status.SKIPPED,
    "rejected": Status.REJECTED,
    "failed": Status.FAILED,
    # Not in the document, but a portal user sees these on messages still
    # waiting at the portal; they are not failures.
    "pending": Status.ACCEPTED,
    "queued": Status.ACCEPTED,
    "scheduled": Status.ACCEPTED,
    "sent": Status.ACCEPTED,
}

# Campaign stats counters, in our vocabulary (several words share a state).
CAMPAIGN_STATS = {
    "enroute_count": Status.ACCEPTED,
    "accepted_count": Status.ACCEPTED,
    "delivered_count": Status.DELIVERED,
    "undelivered_count": Status.UNDELIVERED,
    "expired_count": Status.EXPIRED,
    "rejected_count": Status.REJECTED,
    "skipped_count": Status.SKIPPED,
    "failed_count": Status.FAILED,
}

LIST_FILTERS = ("start_date", "end_date", "timezone", "sms_type", "direction")

# Words in an error message that point at a passing problem, worth a retry.
_TRANSIENT_HINTS = re.compile(
    r"too many|rate limit|try again|later|temporar|timeout|timed out|busy|maintenance"
    r"|server error|unavailable|something went wrong",
    re.IGNORECASE,
)
_AUTH_HINTS = re.compile(r"token|unauthenti|unauthori|api key|credential", re.IGNORECASE)
_NOT_FOUND_HINTS = re.compile(r"not found|no query results|invalid uid|does not exist", re.I)
_BALANCE_HINTS = re.compile(r"balance|sms unit|credit|insufficient|recharge", re.IGNORECASE)


class InfopromoBackend(ProviderBackend):
    """What both Infopromo APIs share; subclasses say how to authenticate."""

    label: ClassVar[str] = "Infopromo"
    default_base_url: ClassVar[str] = "https://sms.infopromo.digital/"
    # "api/v3/" or "api/http/", appended to the account's base URL.
    api_prefix: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_recipients_per_request=DEFAULT_MAX_RECIPIENTS,
        # One request carries one ``message`` for all its recipients.
        distinct_texts_per_request=False,
        native_scheduling=True,
        polling=True,
        push_reports=False,
        cancel=False,
        dlt=True,
        max_alphanumeric_sender=11,
        max_numeric_sender=15,
        # A scheduled send to several numbers is answered without its
        # messages (no uids), so nothing could read their status later; the
        # message log has no reference of ours to find them by (the same
        # number and text may well be there twice). One number per request
        # is answered with its message and uid, polled like any other.
        max_recipients_scheduled=1,
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "api_token",
            "API token",
            help_text="The token shown under Developers in the Infopromo portal.",
        ),
    )
    sender_rule: ClassVar[str] = (
        "Infopromo: a phone number with its country code, or up to 11 letters and digits."
    )
    option_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "timezone",
            "Portal time zone",
            secret=False,
            required=False,
            help_text="The time zone set on the Infopromo account (e.g. Asia/Kolkata). "
            "Scheduled times are sent in it. Leave empty for UTC.",
        ),
        CredentialField(
            "max_recipients",
            "Recipients per request",
            secret=False,
            required=False,
            help_text=f"How many numbers one send request carries "
            f"(default {DEFAULT_MAX_RECIPIENTS}).",
        ),
        CredentialField(
            "delivered_grace_minutes",
            "Minutes before trusting “Delivered”",
            secret=False,
            required=False,
            help_text="Right after a send the portal says “Delivered” when its gateway "
            "took the message; within this many minutes that counts as accepted "
            f"(default {DEFAULT_DELIVERED_GRACE_MINUTES}).",
        ),
        CredentialField(
            "currency",
            "Cost unit",
            secret=False,
            required=False,
            help_text="What the portal's cost is counted in (e.g. INR or SMS units).",
        ),
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # The batch size is per account, so the instance carries its own
        # capabilities; everything else stays as the class declares it.
        self.capabilities = dataclasses.replace(
            self.capabilities, max_recipients_per_request=self.max_recipients
        )

    # -- account settings ----------------------------------------------------

    @property
    def token(self) -> str:
        token = (self.credentials.get("api_token") or "").strip()
        if not token:
            raise ProviderError("The Infopromo API token is missing.", permanent=True, code="auth")
        return token

    @property
    def max_recipients(self) -> int:
        return _positive_int(self.options.get("max_recipients"), DEFAULT_MAX_RECIPIENTS)

    @property
    def timezone_name(self) -> str:
        return str(self.options.get("timezone") or "").strip()

    @property
    def tz(self) -> dt.tzinfo:
        return _zone(self.timezone_name) if self.timezone_name else dt.UTC

    def sender_errors(self, sender: str) -> list[str]:
        """Seed 000: "a telephone number (including country code) or an
        alphanumeric string. In case of an alphanumeric string, the maximum
        length is 11 characters." """
        if not sender:
            return ["A sender ID is required."]
        digits = sender.removeprefix("+")
        if digits.isdigit():
            try:
                normalise("+" + digits)
            except InvalidNumber as exc:
                return [
                    f"A numeric sender is a phone number with its country code for "
                    f"Infopromo; {sender} is not ({exc})."
                ]
            return []
        errors = []
        if len(sender) > self.capabilities.max_alphanumeric_sender:
            errors.append(
                f"An alphanumeric sender has at most {self.capabilities.max_alphanumeric_sender}"
                " characters for Infopromo."
            )
        if not (sender.isascii() and sender.isalnum()):
            errors.append("An Infopromo sender may use only letters A–Z, a–z and digits 0–9.")
        return errors

    # -- the calls -----------------------------------------------------------

    def send_batch(
        self, messages: Sequence[OutboundSms], options: SendOptions
    ) -> list[SubmitResult]:
        if not messages:
            return []
        first = messages[0]
        if any(m.text != first.text or m.sender != first.sender for m in messages):
            # A programming error upstream, not something the provider said.
            raise ValueError("An Infopromo request carries one text and one sender.")
        if len(messages) > self.max_recipients:
            raise ValueError(
                f"{len(messages)} recipients in one request; this account allows "
                f"{self.max_recipients}."
            )
        unicode = any(m.encoding == segments.UCS2 for m in messages) or not segments.is_gsm7(
            first.text
        )
        fields = self.message_fields(first.text, first.sender, options, unicode=unicode)
        fields = {"recipient": ",".join(digits(m.to) for m in messages), **fields}
        data = self.call_send("sms/send", fields)
        return self.submit_results(messages, data)

    def poll_statuses(self, provider_message_ids: Sequence[str]) -> list[StatusReport]:
        reports = []
        for uid in provider_message_ids:
            if not uid:
                # "sms/" alone is the message log, not a message.
                continue
            try:
                data = self.call("GET", f"sms/{quote(uid, safe='')}")
            except ProviderError as exc:
                # An unknown uid must not stop the others from being read;
                # everything else (token, outage) concerns them all.
                if exc.code == "not_found":
                    continue
                raise
            if isinstance(data, dict):
                reports.append(self.report_of(data, uid=uid))
        return reports

    def list_messages(self, page: int = 1, **filters: Any) -> ReportPage:
        unknown = set(filters) - set(LIST_FILTERS)
        if unknown:
            raise ValueError(f"Infopromo cannot filter messages by {', '.join(sorted(unknown))}.")
        params: dict[str, Any] = {"page": page}
        zone = str(filters.get("timezone") or "")
        for name in LIST_FILTERS:
            value = filters.get(name)
            if value in (None, ""):
                continue
            if isinstance(value, dt.datetime):
                # The filter takes wall-clock times in ``timezone``; when the
                # caller gives a moment, write it in (and name) that zone.
                zone = zone or self.timezone_name or "UTC"
                params["timezone"] = zone
                value = self.wall_clock(value, zone).strftime("%Y-%m-%d %H:%M:%S")
            elif isinstance(value, dt.date):
                value = value.strftime("%Y-%m-%d")
            params[name] = value
        data = self.call("GET", "sms", params=params)
        if not isinstance(data, dict):
            return ReportPage(reports=[], page=page, last_page=page, total=0)
        rows = data.get("data") or []
        return ReportPage(
            reports=[self.report_of(row) for row in rows if isinstance(row, dict)],
            page=_positive_int(data.get("current_page"), page),
            last_page=_positive_int(data.get("last_page"), page),
            total=_int_or_none(data.get("total")),
        )

    def check_connection(self) -> str:
        page = self.list_messages(page=1)
        if page.total is None:
            return "Connected to Infopromo."
        return f"Connected to Infopromo: {page.total} messages in the account's log."

    # -- request building ----------------------------------------------------

    def message_fields(
        self, text: str, sender: str, options: SendOptions, *, unicode: bool
    ) -> dict[str, str]:
        fields = {
            # A numeric sender is written like a recipient: digits with the
            # country code, no "+".
            "sender_id": sender[1:] if sender.startswith("+") else sender,
            "type": "unicode" if unicode else "plain",
            "message": text,
        }
        if options.send_at is not None:
            # The API has no time zone field: the portal reads schedule_time
            # in the time zone set on the Infopromo account. We send UTC unless
            # the account's "timezone" option says the portal uses another one.
            # The format has no seconds, so a time is held to its minute.
            fields["schedule_time"] = self.wall_clock(options.send_at).strftime("%Y-%m-%d %H:%M")
        if options.dlt is not None and options.dlt.template_id:
            # Only the template travels; the entity ID is registered with the
            # sender on the portal itself.
            fields["dlt_template_id"] = options.dlt.template_id
        return fields

    def wall_clock(self, moment: dt.datetime, zone: str = "") -> dt.datetime:
        # Naive datetimes in this project are UTC.
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(_zone(zone) if zone else self.tz)

    # -- HTTP ----------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        # Accept is what makes the portal answer errors as JSON rather than
        # an HTML page; every example in Infopromo's document sends both.
        return {"Accept": "application/json", "Content-Type": "application/json"}

    def call_send(self, path: str, fields: dict[str, str]) -> Any:
        return self.call("POST", path, body=fields)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """One call under the API prefix; returns the envelope's ``data``."""
        kwargs: dict[str, Any] = {"headers": self.headers()}
        if body is not None:
            kwargs["json"] = body
        if params:
            kwargs["params"] = params
        response = self.request(method, self.api_prefix + path, **kwargs)
        return self.data_of(response)

    def data_of(self, response: requests.Response) -> Any:
        if response.status_code == 404 and not _looks_like_json(response):
            raise ProviderError(
                "Infopromo answered 404 Not Found; check the account's base URL.",
                permanent=True,
                code="404",
                raw=response.text[:2000],
            )
        body = self.json_of(response)
        state = str(body.get("status", "")).strip().lower() if isinstance(body, dict) else ""
        if state == "success" and response.status_code < 400:
            return body.get("data")
        if state == "error" or (isinstance(body, dict) and response.status_code >= 400):
            raise self.error_of(body, response.status_code)
        # A 2xx answer outside the envelope says neither "done" nor "refused":
        # a send may have gone through, so it must not be resent blindly.
        raise ProviderError(
            f"Infopromo answered with an unexpected body (HTTP {response.status_code}).",
            code="bad_answer",
            raw=body,
            maybe_sent=200 <= response.status_code < 300,
        )

    def error_of(self, body: dict[str, Any], http_status: int) -> ProviderError:
        message = str(body.get("message") or "").strip()
        # Laravel validation answers (HTTP 422) list the fields in "errors".
        errors = body.get("errors")
        if isinstance(errors, dict):
            details = [str(e) for v in errors.values() for e in (v if isinstance(v, list) else [v])]
            message = " ".join([message, *details]).strip() if details else message
        if not message:
            message = f"Infopromo answered with an error (HTTP {http_status})."
        # The error envelope is how the portal turns down what a retry will
        # not fix: the token, a field, the sender, the balance, an unknown
        # uid. Its own failures come as 5xx or 429, which ``request`` already
        # treats as transient; a message that speaks of a passing problem
        # stays transient too.
        if _TRANSIENT_HINTS.search(message):
            code, permanent = "rate_limited" if "many" in message.lower() else "error", False
        elif _NOT_FOUND_HINTS.search(message) or http_status == 404:
            code, permanent = "not_found", True
        elif _AUTH_HINTS.search(message):
            code, permanent = "auth", True
        elif _BALANCE_HINTS.search(message):
            code, permanent = "balance", True
        else:
            code, permanent = "validation", True
        return ProviderError(message, permanent=permanent, code=code, raw=body)

    # -- response reading ----------------------------------------------------

    def submit_results(self, messages: Sequence[OutboundSms], data: Any) -> list[SubmitResult]:
        rows = [data] if isinstance(data, dict) else data if isinstance(data, list) else []
        rows = [row for row in rows if isinstance(row, dict)]
        if not rows:
            # A scheduled send to several numbers is answered without
            # ``data`` (the engine sends those one number per request, which
            # is answered with its message). The request was taken, so the
            # messages are accepted; without a uid their status cannot be
            # read back, and each says so.
            return [
                SubmitResult(
                    ref=m.ref,
                    status=Status.ACCEPTED,
                    error_description="Infopromo took this message but returned no uid for "
                    "it, so its status cannot be read back; check it in the Infopromo portal.",
                    currency=self.currency,
                    raw=data,
                )
                for m in messages
            ]
        if len(messages) == 1 and len(rows) == 1:
            return [self.submit_result(messages[0], rows[0])]
        # Match by number; a number sent twice takes its rows in order.
        by_number: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        for row in rows:
            by_number[digits(str(row.get("to", "")))].append(row)
        results = []
        for message in messages:
            queue = by_number.get(digits(message.to))
            if queue:
                results.append(self.submit_result(message, queue.popleft()))
            else:
                # The request was taken but this number got no message back;
                # whether it went out is unclear, so it is parked for review
                # rather than failed or re-sent.
                results.append(
                    SubmitResult(
                        ref=message.ref,
                        status=Status.UNKNOWN,
                        error_description="Infopromo took the request but returned no "
                        "message for this number; check it in the Infopromo portal.",
                        raw=data,
                    )
                )
        return results

    def submit_result(self, message: OutboundSms, row: dict[str, Any]) -> SubmitResult:
        # Multi-recipient rows carry the word in ``customer_status``; their
        # ``status`` (and a single-recipient row's) is the gateway's answer.
        word = row.get("customer_status") or row.get("status") or ""
        status, description = map_status(str(word))
        if status == Status.DELIVERED:
            # At submit time "Delivered" only means the upstream gateway
            # took the message; the handset has not answered yet.
            status, description = Status.ACCEPTED, ""
        uid = str(row.get("uid") or "")
        if not uid and status == Status.ACCEPTED:
            status = Status.UNKNOWN
            description = "Infopromo returned no uid for this message."
        return SubmitResult(
            ref=message.ref,
            status=status,
            provider_message_id=uid,
            error_description=description,
            cost=to_decimal(row.get("cost")),
            currency=self.currency,
            segments=_int_or_none(row.get("sms_count")),
            raw=row,
        )

    def report_of(self, row: dict[str, Any], uid: str = "") -> StatusReport:
        status, description = map_status(str(row.get("status") or ""))
        created = self.timestamp(row.get("created_at"))
        updated = self.timestamp(row.get("updated_at"))
        if status == Status.DELIVERED and self.too_soon_for_delivered(created or updated):
            # A final state can never be replaced, and "Delivered" this soon
            # may only be the gateway's acceptance: keep polling instead.
            status = Status.ACCEPTED
        return StatusReport(
            provider_message_id=str(row.get("uid") or uid),
            status=status,
            error_description=description,
            cost=to_decimal(row.get("cost")),
            currency=self.currency,
            segments=_int_or_none(row.get("sms_count")),
            sent_at=created,
            done_at=updated if status != Status.ACCEPTED and updated else None,
            raw=row,
        )

    def too_soon_for_delivered(self, since: dt.datetime | None) -> bool:
        # The view answer as documented has no timestamps; then a poll is
        # trusted, which is why polling should start some minutes after a send.
        if since is None:
            return False
        grace = _positive_int(
            self.options.get("delivered_grace_minutes"), DEFAULT_DELIVERED_GRACE_MINUTES
        )
        return dt.datetime.now(dt.UTC) - since < dt.timedelta(minutes=grace)

    def timestamp(self, value: Any) -> dt.datetime | None:
        if not value or not isinstance(value, str):
            return None
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        # Without an offset it is the portal's wall clock.
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        return moment.astimezone(dt.UTC)

    @property
    def currency(self) -> str:
        return str(self.options.get("currency") or "").strip()


class InfopromoV3Backend(InfopromoBackend):
    """API v3: ``Authorization: Bearer <token>``; also sends to contact lists
    kept on the portal."""

    kind: ClassVar[str] = "infopromo_v3"
    label: ClassVar[str] = "Infopromo"
    api_prefix: ClassVar[str] = "api/v3/"
    capabilities: ClassVar[Capabilities] = dataclasses.replace(
        InfopromoBackend.capabilities, provider_side_lists=True
    )

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Authorization": f"Bearer {self.token}"}

    def send_to_provider_lists(
        self, list_ids: Sequence[str], text: str, sender: str, options: SendOptions
    ) -> dict[str, Any]:
        if not list_ids:
            raise ValueError("No Infopromo contact list to send to.")
        fields = self.message_fields(text, sender, options, unicode=not segments.is_gsm7(text))
        # The parameter table names the field ``contact_list_id``; the curl
        # examples beside it put the list uid in "recipient", which is the
        # single-send field copied over. We send the documented name.
        fields = {"contact_list_id": ",".join(list_ids), **fields}
        data = self.call("POST", "sms/campaign", body=fields)
        return data if isinstance(data, dict) else {}

    def view_campaign(self, uid: str) -> dict[str, Any]:
        """A portal campaign with its counters, also summed in our states."""
        data = self.call("GET", f"campaign/{quote(uid, safe='')}/view")
        if not isinstance(data, dict):
            data = {}
        raw_stats = data.get("stats") if isinstance(data.get("stats"), dict) else {}
        stats: dict[str, int] = {}
        for name, status in CAMPAIGN_STATS.items():
            stats[status.value] = stats.get(status.value, 0) + (
                _int_or_none(raw_stats.get(name)) or 0
            )
        return {
            "uid": str(data.get("uid") or uid),
            "name": data.get("name") or data.get("campaign_name") or "",
            "status": data.get("status") or "",
            "message": data.get("message") or "",
            "type": data.get("type") or data.get("sms_type") or "",
            "created_at": data.get("created_at"),
            "stats": stats,
            "provider_stats": raw_stats,
            "raw": data,
        }


class InfopromoHttpBackend(InfopromoBackend):
    """HTTP API: ``api_token`` travels with the request instead of a header.
    It has send, view and list, but no campaign send."""

    kind: ClassVar[str] = "infopromo_http"
    label: ClassVar[str] = "Infopromo"
    api_prefix: ClassVar[str] = "api/http/"
    option_fields: ClassVar[tuple[CredentialField, ...]] = (
        *InfopromoBackend.option_fields,
        CredentialField(
            "http_method",
            "Request form",
            secret=False,
            required=False,
            help_text="POST: a JSON body. GET: every field in the query string, for "
            "accounts or proxies that only let GET through.",
            choices=(("post", "POST (JSON body)"), ("get", "GET (query string)")),
        ),
    )

    @property
    def use_get(self) -> bool:
        return str(self.options.get("http_method") or "post").strip().lower() == "get"

    def call_send(self, path: str, fields: dict[str, str]) -> Any:
        if self.use_get:
            return self.call("GET", path, params=fields)
        return self.call("POST", path, body=fields)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        if body is not None or not (method == "GET" and self.use_get):
            # Infopromo documents its reads as GETs with a JSON body holding
            # only the token (the portal reads JSON bodies on GET too);
            # filters and the page stay in the query string.
            body = {"api_token": self.token, **(body or {})}
        else:
            params = {**(params or {}), "api_token": self.token}
        return super().call(method, path, body=body, params=params)


def digits(number: str) -> str:
    """International digits, as the portal takes numbers: no "+", spaces or
    punctuation."""
    return "".join(c for c in number if c.isdigit())


def map_status(word: str) -> tuple[str, str]:
    """Our status for a portal status word, and the provider's text when it
    is an error rather than a word."""
    text = word.strip()
    if not text:
        # No word yet: the portal has it and has not heard back.
        return Status.ACCEPTED, ""
    # Some gateways' answers are stored as "<word>|<their message id>".
    head = text.split("|", 1)[0].strip().lower()
    if head in STATUS_WORDS:
        return STATUS_WORDS[head], ""
    return Status.FAILED, text


def to_decimal(value: Any) -> Decimal | None:
    # The portal sends cost as a number or as a string ("1").
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _positive_int(value: Any, default: int) -> int:
    number = _int_or_none(value)
    return number if number is not None and number > 0 else default


def _zone(name: str) -> dt.tzinfo:
    if name.upper() == "UTC":
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ProviderError(
            f"Unknown time zone {name!r} for Infopromo.", permanent=True, code="config"
        ) from exc


def _looks_like_json(response: requests.Response) -> bool:
    return "json" in response.headers.get("Content-Type", "").lower()
