"""The provider backend interface.

One small class per provider (``providers/backends/<kind>.py``) turns our
outbound messages into that provider's requests and its responses, reports and
callbacks back into our vocabulary (``providers.status.Status``). A backend
knows nothing of the database: it gets plain values and returns plain values,
and the engine (``campaigns.dispatch``, ``campaigns.reports``) does the rest.

The engine decides what to do from the declared ``Capabilities``; it never
tests a provider's name.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import requests

from . import fence, parallel

log = logging.getLogger(__name__)

# (connect, read) seconds for every outgoing provider call.
DEFAULT_TIMEOUT = (5, 30)


class ProviderError(Exception):
    """A provider call that did not work.

    ``permanent`` errors (bad credentials, invalid sender, invalid number) are
    not retried; the rest (timeouts, connection errors, 5xx, 429, throughput
    codes) are retried with backoff. ``message`` is shown to the user as is.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        code: str = "",
        retry_after: float | None = None,
        raw: Any = None,
        maybe_sent: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after
        self.raw = raw
        # The provider may have received and acted on the request (a read
        # timeout, an unreadable success answer): the engine must not resend
        # blindly, it parks the messages as unknown for reconciliation.
        self.maybe_sent = maybe_sent

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


class Unavailable(ProviderError):
    """A call this account's provider does not offer: it answered HTTP 404 to
    an endpoint its documents do not publish. What depends on the call is
    switched off for the account (``feature``: "polling", "cancel"), with
    this message shown on the account's page, instead of reporting a failure
    or a success that did not happen."""

    def __init__(self, message: str, *, feature: str, raw: Any = None):
        super().__init__(message, permanent=True, code="unavailable", raw=raw)
        self.feature = feature


class WebhookRejected(Exception):
    """A callback we refuse (malformed, not ours); nothing is changed."""


@dataclass(frozen=True)
class Capabilities:
    # How many recipients one send request may carry.
    max_recipients_per_request: int = 1
    # Whether one request may carry a different text per recipient; if not,
    # a batch only groups recipients whose rendered text is the same.
    distinct_texts_per_request: bool = False
    # The provider holds a message until a time we give it.
    native_scheduling: bool = False
    # The provider holds messages outside a days/hours window we give it.
    native_window: bool = False
    # Delivery reports are pushed to our webhook.
    push_reports: bool = False
    # Delivery status can be read back per provider message ID.
    polling: bool = False
    # A scheduled message can be cancelled at the provider.
    cancel: bool = False
    # India DLT template fields are carried to the provider.
    dlt: bool = False
    # Sender rules: longest alphanumeric and numeric sender accepted.
    max_alphanumeric_sender: int = 11
    max_numeric_sender: int = 15
    # Sending a whole provider-side contact list in one call.
    provider_side_lists: bool = False
    # Inbound messages (replies) arrive from this provider.
    inbound: bool = False
    # The provider can preview a text (parts, characters left) itself.
    preview: bool = False
    # Conversions can be logged against a sent message.
    conversion_tracking: bool = False
    # The provider shortens the links of a text itself and counts their
    # clicks (``SendOptions.click_tracking``); ``click_reports``: it also
    # posts each click to the account's click-report URL (CLICKS_EVENT).
    click_tracking: bool = False
    click_reports: bool = False
    # Recipients per request when the provider holds the message until a
    # time we give it (0: as many as ``max_recipients_per_request``); 1 where
    # only a one-number answer names the message the provider will send.
    max_recipients_scheduled: int = 0

    def recipients_per_request(self, *, scheduled: bool) -> int:
        if scheduled and self.max_recipients_scheduled:
            return min(self.max_recipients_scheduled, self.max_recipients_per_request)
        return self.max_recipients_per_request


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: str
    secret: bool = True
    required: bool = True
    help_text: str = ""
    # (value, label) pairs: the field is a choice among them, the first the
    # default. The backend reads only these values.
    choices: tuple[tuple[str, str], ...] = ()
    # (option name, values): the field belongs to those choices of that
    # option only (shown, and required when ``required``, only for them).
    only_when: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class DltFields:
    template_id: str
    principal_entity_id: str = ""
    telemarketer_id: str = ""


@dataclass(frozen=True)
class SendWindow:
    """A delivery window a provider enforces itself (native_window)."""

    days: tuple[int, ...]  # 0 = Monday ... 6 = Sunday
    start: dt.time
    end: dt.time


@dataclass(frozen=True)
class SendOptions:
    """Per-campaign options; a backend uses what its provider supports."""

    flash: bool = False
    validity_minutes: int | None = None
    transliteration: str = ""
    language_code: str = ""
    click_tracking: bool = False
    campaign_ref: str = ""
    callback_data: str = ""
    intermediate_report: bool = False
    bulk_id: str = ""
    send_at: dt.datetime | None = None
    window: SendWindow | None = None
    dlt: DltFields | None = None


@dataclass(frozen=True)
class OutboundSms:
    # Our own reference for the message (the Message primary key as text).
    # Sent as the provider-side message ID where the API accepts one, so a
    # report can be matched even before the submit response was recorded.
    ref: str
    to: str  # E.164 with the leading "+"
    text: str
    sender: str
    encoding: str = "GSM-7"  # or "UCS-2"


@dataclass
class SubmitResult:
    ref: str
    status: str  # a providers.status.Status value
    provider_message_id: str = ""
    error_code: str = ""
    error_description: str = ""
    cost: Decimal | None = None
    currency: str = ""
    segments: int | None = None
    raw: Any = None
    # A refusal of this recipient with a code the backend does not know: the
    # engine pauses a campaign that gets many of them in a row.
    unknown_code: bool = False


@dataclass
class StatusReport:
    provider_message_id: str
    status: str  # a providers.status.Status value
    ref: str = ""  # our reference when the provider echoes it back
    error_code: str = ""
    error_description: str = ""
    cost: Decimal | None = None
    currency: str = ""
    segments: int | None = None
    sent_at: dt.datetime | None = None
    done_at: dt.datetime | None = None
    raw: Any = None
    # ``raw`` (an object or a list) as JSON text, written once by the
    # screening that passed it (``providers.screening.check_result``): what
    # the history row keeps. A report read back from what the webhook
    # stored (``providers.services.stored_result``) has this and no ``raw``.
    raw_json: str | None = field(default=None, repr=False, compare=False)


@dataclass
class InboundSms:
    provider_message_id: str
    sender: str  # the subscriber's number, E.164 where it can be made so
    recipient: str  # our number or short code
    text: str
    keyword: str = ""
    received_at: dt.datetime | None = None
    raw: Any = None


# The hook event (``<webhook URL>clicks/``) a provider posts click reports to.
CLICKS_EVENT = "clicks"


@dataclass
class ClickReport:
    """A click on a link the provider shortened, as its click report tells
    it. Nothing here is checked against our messages yet: the layer above
    records it as a click only where ``provider_message_id`` (or ``ref``)
    names a message this account sent. ``problem`` says why the report
    cannot be a click whatever it names (no message named, another kind of
    event); ``raw`` is the report as the provider sent it."""

    provider_message_id: str
    ref: str = ""
    recipient: str = ""
    url: str = ""
    at: dt.datetime | None = None
    # A coarse class of the device: mobile, desktop or other ("" unknown).
    agent: str = ""
    problem: str = ""
    raw: Any = None


@dataclass
class WebhookRequest:
    method: str
    content_type: str
    body: bytes
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # The path segment after the account's hook URL ("" or e.g. "inbound").
    event: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise WebhookRejected(f"body is not JSON: {exc}") from exc


@dataclass
class WebhookResult:
    reports: list[StatusReport] = field(default_factory=list)
    inbound: list[InboundSms] = field(default_factory=list)
    clicks: list[ClickReport] = field(default_factory=list)
    # What we answer the provider with.
    status_code: int = 200
    body: str = "OK"
    content_type: str = "text/plain"


@dataclass
class ReportPage:
    reports: list[StatusReport]
    page: int = 1
    last_page: int = 1
    total: int | None = None


class ProviderBackend:
    """Base class: subclasses set the class attributes and override the calls
    their provider supports. The HTTP plumbing (timeouts, no redirects to other
    hosts, transient vs permanent errors) lives here once."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
    # Non-secret, provider-specific settings kept in ProviderAccount.options.
    option_fields: ClassVar[tuple[CredentialField, ...]] = ()
    # The provider's documented sender rule, in a sentence, for the forms.
    sender_rule: ClassVar[str] = ""

    def __init__(
        self,
        *,
        base_url: str = "",
        credentials: dict[str, str] | None = None,
        options: dict[str, Any] | None = None,
        webhook_url: Callable[[str], str] | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        account_id: int | None = None,
    ):
        self.base_url = (base_url or self.default_base_url).rstrip("/") + "/"
        self.credentials = credentials or {}
        self.options = options or {}
        self._webhook_url = webhook_url
        self.timeout = timeout
        self.session = session or requests.Session()
        # For backends that defer work (the sandbox reports later).
        self.account_id = account_id

    # -- the calls -----------------------------------------------------------

    def send_batch(
        self, messages: Sequence[OutboundSms], options: SendOptions
    ) -> list[SubmitResult]:
        """Submit up to ``capabilities.max_recipients_per_request`` messages.

        Returns one result per message, in any order, matched by ``ref``.
        Raises ProviderError when the whole request failed."""
        raise NotImplementedError

    # True when ``send_many`` keeps its requests in flight from one thread
    # (so a wave may hold many more requests than there are connections).
    many_at_once: ClassVar[bool] = False

    def send_many(
        self,
        batches: Sequence[Sequence[OutboundSms]],
        options: SendOptions,
        *,
        connections: int = 1,
    ) -> list[list[SubmitResult] | ProviderError]:
        """Submit several requests' worth of messages at once, one batch per
        request, with up to ``connections`` requests in flight. Returns, per
        batch in order, its results or the ProviderError that stands for
        the request's failure. This default runs ``send_batch`` on threads."""
        if len(batches) == 1 or connections <= 1:
            return [self._send_catching(batch, options) for batch in batches]
        pool = _threads(connections)
        return list(pool.map(lambda batch: self._send_catching(batch, options), batches))

    def _send_catching(self, batch, options) -> list[SubmitResult] | ProviderError:
        try:
            return self.send_batch(batch, options)
        except ProviderError as error:
            return error
        except Exception as error:
            return self.crashed(error)

    def crashed(self, error: Exception) -> ProviderError:
        """A bug in a backend while sending: logged, and unclear (the request
        may have gone out), so never resent."""
        log.exception("backend %s crashed while sending", self.__class__.__name__)
        return ProviderError(f"Internal error while sending: {error}", maybe_sent=True)

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        """Turn a callback into reports and inbound messages. Raises
        WebhookRejected for anything malformed."""
        raise WebhookRejected(f"{self.label} does not send callbacks")

    def poll_statuses(self, provider_message_ids: Sequence[str]) -> list[StatusReport]:
        """Read the current status of these messages (capabilities.polling)."""
        raise NotImplementedError

    def pull_reports(self) -> list[StatusReport]:
        """Fetch reports the provider queued for us (a fallback to push)."""
        return []

    def pull_inbound(self) -> list[InboundSms]:
        """Fetch inbound messages the provider queued for us."""
        return []

    def find_by_ref(self, refs: Sequence[str]) -> list[StatusReport]:
        """Look messages up by our own reference, for recovery after a crash.
        Returns reports for those the provider knows; a message left out is
        one the provider does not have (so it may be sent again). Backends
        whose provider cannot look messages up raise NotImplementedError, and
        their unclear messages stay unknown for a person to review."""
        raise NotImplementedError

    def cancel(self, provider_message_ids: Sequence[str]) -> list[str]:
        """Cancel scheduled messages (capabilities.cancel); returns the IDs
        the provider cancelled."""
        raise NotImplementedError

    def list_messages(self, page: int = 1, **filters: Any) -> ReportPage:
        """Page through the provider's own message log, where it has one."""
        raise NotImplementedError

    def send_to_provider_lists(
        self, list_ids: Sequence[str], text: str, sender: str, options: SendOptions
    ) -> dict[str, Any]:
        """Send one text to contact lists kept at the provider
        (capabilities.provider_side_lists)."""
        raise NotImplementedError

    def preview(self, text: str) -> dict[str, Any]:
        """The provider's own preview of a text (capabilities.preview)."""
        raise NotImplementedError

    def log_conversion(self, provider_message_id: str) -> dict[str, Any]:
        """Record a conversion for a sent message
        (capabilities.conversion_tracking)."""
        raise NotImplementedError

    def check_connection(self) -> str:
        """A harmless authenticated call. Returns a short description of
        what worked; raises ProviderError when it does not."""
        raise NotImplementedError

    def sender_errors(self, sender: str) -> list[str]:
        """Why this provider would refuse ``sender`` (empty when it is fine)."""
        caps = self.capabilities
        errors = []
        if not sender:
            return ["A sender ID is required."]
        digits = sender[1:] if sender.startswith("+") else sender
        if digits.isdigit():
            if len(digits) > caps.max_numeric_sender:
                errors.append(
                    f"A numeric sender has at most {caps.max_numeric_sender} digits "
                    f"for {self.label}."
                )
        else:
            if not 3 <= len(sender) <= caps.max_alphanumeric_sender:
                errors.append(
                    f"An alphanumeric sender has 3 to {caps.max_alphanumeric_sender} "
                    f"characters for {self.label}."
                )
            if not all(c.isascii() and (c.isalnum() or c in " -_.") for c in sender):
                errors.append("An alphanumeric sender may use only A–Z, a–z, 0–9, space, - _ and .")
        return errors

    # -- helpers for subclasses ---------------------------------------------

    def webhook_url(self, event: str = "") -> str:
        """Where this account's callbacks go (with its secret in the path)."""
        return self._webhook_url(event) if self._webhook_url else ""

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One HTTP call to the account's base URL.

        Redirects are not followed (a provider answering with one to another
        host must not receive our credentials). Connection errors, timeouts,
        5xx and 429 raise a transient ProviderError; 401/403 a permanent one.
        Any other status is returned for the backend to read, because several
        providers put errors in 200 and 4xx bodies alike."""
        url = self._own_url(path)
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.ConnectTimeout as exc:
            failure = parallel.TransportError(connected=False, timed_out=True, detail=str(exc))
            raise self._transport_failure(failure) from exc
        except requests.Timeout as exc:
            failure = parallel.TransportError(connected=True, timed_out=True, detail=str(exc))
            raise self._transport_failure(failure) from exc
        except requests.ConnectionError as exc:
            # requests cannot tell a refused connection from one dropped
            # after the request went out; it has always counted as refused.
            failure = parallel.TransportError(connected=False, timed_out=False, detail=str(exc))
            raise self._transport_failure(failure) from exc
        return self.checked(response)

    # Seconds a URL this backend found it may call stays found: a wave of
    # one-recipient requests checks its URL once, not once per request.
    OWN_URL_SECONDS = 1.0

    def _own_url(self, path: str) -> str:
        now = time.monotonic()
        known = self.__dict__.setdefault("_own_urls", {})
        found = known.get(path)
        if found is not None and found[1] > now:
            return found[0]
        url = self.url(path)
        if urlsplit(url).netloc != urlsplit(self.base_url).netloc:
            raise ProviderError(f"Refusing to call {url}: not the account's host.", permanent=True)
        try:
            fence.check(url)
        except fence.Fenced as fenced:
            raise ProviderError(str(fenced), permanent=True, code="fence") from None
        known[path] = (url, now + self.OWN_URL_SECONDS)
        return url

    def prepare(
        self, method: str, path: str, *, json_body: Any, headers: dict[str, str]
    ) -> parallel.Call:
        """A JSON call to the account's base URL for ``perform`` (the same
        URL rule, body and headers as ``request`` would send)."""
        body = json.dumps(json_body, allow_nan=False).encode()
        headers = {"Content-Type": "application/json", "Accept": "*/*", **headers}
        return parallel.Call(method, self._own_url(path), tuple(headers.items()), body)

    def perform(
        self, calls: Sequence[parallel.Call], *, connections: int
    ) -> list[parallel.Answer | ProviderError]:
        """Make many calls at once; per call its answer, checked as
        ``request`` checks one, or the ProviderError it stands for."""
        out: list[parallel.Answer | ProviderError] = []
        for answer in parallel.perform(calls, timeout=self.timeout, connections=connections):
            if isinstance(answer, parallel.TransportError):
                out.append(self._transport_failure(answer))
                continue
            try:
                out.append(self.checked(answer))
            except ProviderError as error:
                out.append(error)
        return out

    def _transport_failure(self, failure: parallel.TransportError) -> ProviderError:
        """No HTTP answer, from either transport, as the error the engine acts on."""
        if not failure.connected:
            if failure.timed_out:
                return ProviderError(
                    f"Could not connect to {self.label} in time.", code="connection"
                )
            return ProviderError(f"Could not connect to {self.label}.", code="connection")
        if failure.timed_out:
            return ProviderError(
                f"{self.label} did not answer in time.", code="timeout", maybe_sent=True
            )
        # The request went out on an open connection and no answer came: the
        # provider may have taken it, so it is never resent blindly.
        return ProviderError(
            f"{self.label} closed the connection without answering ({failure.detail}).",
            code="connection",
            maybe_sent=True,
        )

    def checked(self, response):
        """The status rules every provider call follows: 429 and 5xx are
        transient errors, 401/403 and redirects permanent ones; any other
        answer goes back to the backend to read."""
        if response.status_code == 429:
            raise ProviderError(
                f"{self.label} is rate-limiting us (HTTP 429).",
                code="429",
                retry_after=_retry_after(response),
                raw=response.text[:2000],
            )
        if response.status_code >= 500:
            raise ProviderError(
                f"{self.label} had a server error (HTTP {response.status_code}).",
                code=str(response.status_code),
                retry_after=_retry_after(response),
                raw=response.text[:2000],
            )
        if response.status_code in (401, 403):
            raise ProviderError(
                f"{self.label} refused our credentials (HTTP {response.status_code}).",
                permanent=True,
                code=str(response.status_code),
                raw=response.text[:2000],
            )
        if 300 <= response.status_code < 400:
            raise ProviderError(
                f"{self.label} answered with a redirect (HTTP {response.status_code}); "
                "check the account's base URL.",
                permanent=True,
                code=str(response.status_code),
            )
        return response

    def json_of(self, response: requests.Response) -> Any:
        """The response body as JSON. A malformed body is a transient error
        (a proxy error page, a truncated answer); but a 4xx page that is not
        the API's JSON means a wrong base URL or a call the account does not
        have, which retrying will not fix."""
        try:
            return response.json()
        except ValueError as exc:
            if 400 <= response.status_code < 500:
                raise ProviderError(
                    f"{self.label} answered HTTP {response.status_code} without an API "
                    "response; check the account's base URL.",
                    permanent=True,
                    code=str(response.status_code),
                    raw=response.text[:2000],
                ) from None
            raise ProviderError(
                f"{self.label} answered with something that is not JSON "
                f"(HTTP {response.status_code}).",
                code="bad_json",
                raw=response.text[:2000],
                maybe_sent=200 <= response.status_code < 300,
            ) from exc


_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] = (0, 0)


def _threads(width: int) -> ThreadPoolExecutor:
    """Threads for provider requests, made in the process that uses them (a
    forked worker does not inherit working threads)."""
    global _pool, _pool_key
    if _pool is None or _pool_key != (os.getpid(), width):
        if _pool is not None and _pool_key[0] == os.getpid():
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="submit")
        _pool_key = (os.getpid(), width)
    return _pool


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    if value:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
    return None
