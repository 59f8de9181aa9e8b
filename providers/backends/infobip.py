"""Infobip: ``POST /sms/2/text/advanced`` and the calls around it.

One request carries many ``messages[]`` (one per distinct text and sender),
each with many ``destinations[]``. We set every destination's ``messageId`` to
our own reference, so a delivery report, a log entry or a conversion can be
matched to its message even if the submit response was never recorded.

Delivery reports are pushed to the account's hook URL (``notifyUrl``) as JSON
or XML and can also be pulled once from ``/sms/1/reports``; inbound messages
are pushed to the URL configured on the number (use the account's
``.../inbound`` hook) or pulled from ``/sms/1/inbox/reports``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

import requests

from providers import segments
from providers.base import (
    Capabilities,
    CredentialField,
    DltFields,
    InboundSms,
    OutboundSms,
    ProviderBackend,
    ProviderError,
    SendOptions,
    SendWindow,
    StatusReport,
    SubmitResult,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from providers.status import Status

SEND_PATH = "/sms/2/text/advanced"
PREVIEW_PATH = "/sms/1/preview"
REPORTS_PATH = "/sms/1/reports"
LOGS_PATH = "/sms/1/logs"
INBOX_PATH = "/sms/1/inbox/reports"
BULK_STATUS_PATH = "/sms/1/bulks/status"
CONVERSION_PATH = "/ct/1/log/end/{message_id}"

DEFAULT_MAX_DESTINATIONS = 1000
# Reports, logs and the inbox each hand out at most this many per call.
PAGE_LIMIT = 1000
# The seed documents 200 characters; the spec allows 4000. We keep to the
# stricter documented limit so an account on either contract works.
MAX_CALLBACK_DATA = 200
# Infobip silently lowers anything longer to 48 hours; we cap it ourselves so
# the value we record is the one applied.
MAX_VALIDITY_MINUTES = 2880
MAX_SCHEDULE_AHEAD = dt.timedelta(days=180)
# ``messageId`` and ``bulkId`` filters: at most 2048 characters per call.
MAX_FILTER_LENGTH = 2048

AUTH_TYPES = ("app_key", "basic", "bearer", "ibsso", "oauth2")
# OAuth 2.0 client credentials grant (Infobip as the authorisation server).
TOKEN_PATH = "auth/1/oauth2/token"
# A token is fetched again this long before Infobip says it expires.
TOKEN_MARGIN = 60
# Access tokens per (base URL, client id), shared by the backends of a process.
_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()
NOTIFY_CONTENT_TYPES = ("application/json", "application/xml")
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")

# Status groups (infobip-error-codes.yml). DELIVERED is split below: only
# DELIVERED_TO_HANDSET is final, DELIVERED_TO_OPERATOR may still fail.
GROUP_STATUS = {
    0: Status.ACCEPTED,  # "OK"/"ACCEPTED": taken, nothing known yet
    1: Status.ACCEPTED,  # PENDING
    2: Status.UNDELIVERED,  # UNDELIVERABLE
    3: Status.DELIVERED,
    4: Status.EXPIRED,
    5: Status.REJECTED,
}
GROUP_NAMES = {
    "OK": 0,
    "ACCEPTED": 0,
    "PENDING": 1,
    "UNDELIVERABLE": 2,
    "DELIVERED": 3,
    "EXPIRED": 4,
    "REJECTED": 5,
}
DELIVERED_TO_HANDSET = 5

# serviceException.messageId values worth a retry; every other one means the
# request itself is wrong and sending it again changes nothing.
TRANSIENT_ERRORS = frozenset({"TOO_MANY_REQUESTS", "GENERAL_ERROR", "SERVICE_UNAVAILABLE"})


class InfobipBackend(ProviderBackend):
    kind = "infobip"
    label = "Infobip"
    # The documented global host; Infobip also gives each account its own
    # ``xxxxx.api.infobip.com``, which the account's base URL may name.
    default_base_url = "https://api.infobip.com"
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_recipients_per_request=DEFAULT_MAX_DESTINATIONS,
        distinct_texts_per_request=True,
        native_scheduling=True,
        native_window=True,
        push_reports=True,
        polling=True,
        # PUT /sms/1/bulks/status {"status": "CANCELED"}; see cancel().
        cancel=True,
        dlt=True,
        max_alphanumeric_sender=11,
        # The guide (seed 001) says 16 digits, the reference (seed 003) 14:
        # we accept the longer, Infobip answers for its own routes.
        max_numeric_sender=16,
        inbound=True,
        preview=True,
        conversion_tracking=True,
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "api_key",
            "API key",
            required=False,
            help_text="For authentication “API key”: sent as “Authorization: App <key>”.",
        ),
        CredentialField(
            "username",
            "Username",
            secret=False,
            required=False,
            help_text="For authentication “Basic”: your Infobip username.",
        ),
        CredentialField(
            "password",
            "Password",
            required=False,
            help_text="For authentication “Basic”: your Infobip password.",
        ),
        CredentialField(
            "token",
            "Token",
            required=False,
            help_text="For authentication “OAuth2 bearer” (an access token) or “IBSSO” "
            "(a session token).",
        ),
        CredentialField(
            "client_id",
            "OAuth2 client ID",
            secret=False,
            required=False,
            help_text="For authentication “oauth2”: smsportal fetches and renews access "
            "tokens itself (client credentials grant).",
        ),
        CredentialField(
            "client_secret",
            "OAuth2 client secret",
            required=False,
            help_text="For authentication “oauth2”.",
        ),
    )
    option_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "auth_type",
            "Authentication",
            secret=False,
            required=False,
            help_text="app_key (default), basic, bearer, ibsso or oauth2 (client "
            "credentials: tokens fetched and renewed here).",
        ),
        CredentialField(
            "notify_content_type",
            "Delivery report format",
            secret=False,
            required=False,
            help_text="application/json (default) or application/xml.",
        ),
        CredentialField(
            "max_destinations",
            "Recipients per request",
            secret=False,
            required=False,
            help_text=f"Destinations in one send request (default {DEFAULT_MAX_DESTINATIONS}).",
        ),
        CredentialField(
            "conversion_tracking",
            "Conversion tracking",
            secret=False,
            required=False,
            help_text="true to send messages with tracking SMS, so conversions can be logged.",
        ),
        CredentialField(
            "tracking_type",
            "Conversion tracking type",
            secret=False,
            required=False,
            help_text="Your name for the tracked flow, e.g. ONE_TIME_PIN; "
            "defaults to the campaign reference.",
        ),
        CredentialField(
            "click_tracking_style",
            "Click tracking request form",
            secret=False,
            required=False,
            help_text="tracking (default: tracking.track URL, as documented) or url_options "
            "(urlOptions, the newer form).",
        ),
        CredentialField(
            "dlt_principal_entity_id",
            "India DLT principal entity ID",
            secret=False,
            required=False,
            help_text="Used when a DLT template does not name its own.",
        ),
        CredentialField(
            "dlt_telemarketer_id",
            "India DLT telemarketer ID",
            secret=False,
            required=False,
            help_text="Required by Infobip for aggregators only.",
        ),
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # The batch size is per account, so the instance carries its own
        # capabilities; everything else stays as the class declares it.
        self.capabilities = Capabilities(
            **{
                **type(self).capabilities.__dict__,
                "max_recipients_per_request": self.max_destinations,
            }
        )

    # -- account settings ----------------------------------------------------

    @property
    def max_destinations(self) -> int:
        try:
            value = int(self.options.get("max_destinations") or DEFAULT_MAX_DESTINATIONS)
        except (TypeError, ValueError):
            return DEFAULT_MAX_DESTINATIONS
        return max(1, value)

    @property
    def notify_content_type(self) -> str:
        value = str(self.options.get("notify_content_type") or NOTIFY_CONTENT_TYPES[0])
        if value not in NOTIFY_CONTENT_TYPES:
            raise ProviderError(
                f"Delivery report format must be one of {', '.join(NOTIFY_CONTENT_TYPES)}.",
                permanent=True,
                code="config",
            )
        return value

    def _flag(self, name: str) -> bool:
        value = self.options.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def headers(self) -> dict[str, str]:
        auth_type = str(self.options.get("auth_type") or "app_key").lower()
        if auth_type == "app_key":
            authorization = f"App {self._credential('api_key', 'API key')}"
        elif auth_type == "basic":
            user = self._credential("username", "username")
            password = self._credential("password", "password")
            pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            authorization = f"Basic {pair}"
        elif auth_type in ("bearer", "ibsso"):
            prefix = "Bearer" if auth_type == "bearer" else "IBSSO"
            authorization = f"{prefix} {self._credential('token', 'token')}"
        elif auth_type == "oauth2":
            authorization = f"Bearer {self.access_token()}"
        else:
            raise ProviderError(
                f"Unknown Infobip authentication {auth_type!r}; use one of "
                f"{', '.join(AUTH_TYPES)}.",
                permanent=True,
                code="config",
            )
        return {"Authorization": authorization, "Accept": "application/json"}

    @property
    def uses_oauth2(self) -> bool:
        return str(self.options.get("auth_type") or "").lower() == "oauth2"

    def _token_key(self) -> tuple[str, str]:
        return (self.base_url, self._credential("client_id", "OAuth2 client ID"))

    def access_token(self) -> str:
        """A valid OAuth2 access token: the one this process holds for the
        account's client, or a new one from the token endpoint."""
        key = self._token_key()
        with _tokens_lock:
            held = _tokens.get(key)
            if held and held[1] - TOKEN_MARGIN > time.monotonic():
                return held[0]
            token, lifetime = self._fetch_token(key[1])
            _tokens[key] = (token, time.monotonic() + lifetime)
            return token

    def forget_token(self) -> None:
        with _tokens_lock:
            _tokens.pop(self._token_key(), None)

    def _fetch_token(self, client_id: str) -> tuple[str, float]:
        secret = self._credential("client_secret", "OAuth2 client secret")
        try:
            response = self.request(
                "POST",
                TOKEN_PATH,
                data={
                    "client_id": client_id,
                    "client_secret": secret,
                    "grant_type": "client_credentials",
                },
                headers={"Accept": "application/json"},
            )
        except ProviderError as exc:
            if exc.permanent:
                exc.message = f"Infobip refused the OAuth2 client credentials. {exc.message}"
                exc.args = (exc.message,)
            raise
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            detail = ""
            if isinstance(body, dict):
                detail = str(body.get("error_description") or body.get("error") or "")
                detail = detail or _error_text(body)
            raise ProviderError(
                "Infobip refused the OAuth2 client credentials"
                + (f": {detail}" if detail else f" (HTTP {response.status_code})."),
                permanent=True,
                code="oauth2",
                raw=body if body is not None else response.text[:2000],
            )
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ProviderError(
                "Infobip's token endpoint answered without an access token.",
                code="oauth2",
                raw=body,
            )
        try:
            lifetime = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        return token, max(lifetime, 0.0)

    def _credential(self, name: str, label: str) -> str:
        value = str(self.credentials.get(name) or "").strip()
        if not value:
            raise ProviderError(
                f"The Infobip account has no {label} for its authentication type.",
                permanent=True,
                code="config",
            )
        return value

    # -- HTTP ------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """``request`` with our headers; any 4xx becomes a ProviderError."""
        response = self.raw_call(method, path, **kwargs)
        if response.status_code >= 400:
            raise self.error_from(response)
        return response

    def raw_call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """``request`` with our headers, and Infobip's own words in errors."""
        extra = kwargs.pop("headers", {})
        headers = {**self.headers(), **extra}
        try:
            try:
                response = self.request(method, path, headers=headers, **kwargs)
            except ProviderError as exc:
                if not (self.uses_oauth2 and exc.code == "401"):
                    raise
                # The token ran out (or was revoked) before its time: once
                # more with a fresh one.
                self.forget_token()
                headers = {**self.headers(), **extra}
                response = self.request(method, path, headers=headers, **kwargs)
        except ProviderError as exc:
            # 401/403/429/5xx bodies carry Infobip's explanation; show it.
            detail = _error_text(exc.raw)
            if detail:
                exc.message = f"{exc.message} {detail}"
                exc.args = (exc.message,)
            raise
        return response

    def error_from(self, response: requests.Response) -> ProviderError:
        try:
            body = response.json()
        except ValueError:
            body = None
        error_id, detail = _error_parts(body)
        code = error_id or str(response.status_code)
        if not detail:
            detail = f"HTTP {response.status_code}"
        return ProviderError(
            f"Infobip refused the request ({code}): {detail}",
            permanent=error_id not in TRANSIENT_ERRORS,
            code=code,
            raw=body if body is not None else response.text[:2000],
        )

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        data = self.json_of(self.call("GET", path, params=params))
        if not isinstance(data, dict):
            raise ProviderError(
                "Infobip answered with an unexpected JSON shape.", code="bad_json", raw=data
            )
        return data

    # -- sending ---------------------------------------------------------------

    def send_batch(
        self, messages: Sequence[OutboundSms], options: SendOptions
    ) -> list[SubmitResult]:
        if not messages:
            return []
        if len(messages) > self.max_destinations:
            raise ProviderError(
                f"{len(messages)} recipients exceed this account's {self.max_destinations} "
                "per request.",
                permanent=True,
                code="batch_size",
            )
        body = self.build_request(messages, options)
        data = self.json_of(self.call("POST", SEND_PATH, json=body))
        return self.parse_submit(data, messages)

    def build_request(
        self, messages: Sequence[OutboundSms], options: SendOptions
    ) -> dict[str, Any]:
        """The ``/sms/2/text/advanced`` body: one message per (text, sender)."""
        shared = self._message_options(options)
        grouped: dict[tuple[str, str], list[OutboundSms]] = {}
        for sms in messages:
            grouped.setdefault((sms.text, sms.sender), []).append(sms)
        body: dict[str, Any] = {}
        if options.bulk_id:
            body["bulkId"] = options.bulk_id
        body["messages"] = []
        for (text, sender), group in grouped.items():
            message: dict[str, Any] = {}
            if sender:
                message["from"] = _address(sender) if _is_numeric(sender) else sender
            message["destinations"] = [
                {"to": _address(sms.to), "messageId": sms.ref} for sms in group
            ]
            message["text"] = text
            message.update(shared)
            body["messages"].append(message)
        tracking = self._tracking(options)
        if tracking:
            body.update(tracking)
        return body

    def _message_options(self, options: SendOptions) -> dict[str, Any]:
        """Fields every message of the batch shares, in the documented order."""
        out: dict[str, Any] = {}
        if options.flash:
            out["flash"] = True
        if options.language_code:
            out["language"] = {"languageCode": options.language_code}
        if options.transliteration:
            out["transliteration"] = options.transliteration
        if options.intermediate_report:
            out["intermediateReport"] = True
        notify_url = self.webhook_url("")
        if notify_url:
            out["notifyUrl"] = notify_url
            out["notifyContentType"] = self.notify_content_type
        if options.callback_data:
            if len(options.callback_data) > MAX_CALLBACK_DATA:
                raise ProviderError(
                    f"Callback data is {len(options.callback_data)} characters; Infobip "
                    f"accepts at most {MAX_CALLBACK_DATA}.",
                    permanent=True,
                    code="callback_data",
                )
            out["callbackData"] = options.callback_data
        if options.validity_minutes:
            out["validityPeriod"] = min(int(options.validity_minutes), MAX_VALIDITY_MINUTES)
        if options.send_at is not None:
            send_at = _aware(options.send_at)
            now = self.now()
            if send_at - now > MAX_SCHEDULE_AHEAD:
                raise ProviderError(
                    "Infobip schedules at most 180 days ahead.", permanent=True, code="send_at"
                )
            # A time already passed means "now": leaving sendAt out sends at
            # once instead of risking a refusal for a date in the past.
            if send_at > now:
                out["sendAt"] = format_datetime(send_at)
        if options.window is not None:
            out["deliveryTimeWindow"] = _delivery_time_window(options.window)
        if options.campaign_ref:
            out["campaignReferenceId"] = options.campaign_ref
        if options.dlt is not None:
            out["regional"] = {"indiaDlt": self._india_dlt(options.dlt)}
        return out

    def _india_dlt(self, dlt: DltFields) -> dict[str, str]:
        principal = dlt.principal_entity_id or str(
            self.options.get("dlt_principal_entity_id") or ""
        )
        telemarketer = dlt.telemarketer_id or str(self.options.get("dlt_telemarketer_id") or "")
        if not principal:
            raise ProviderError(
                "India DLT needs a principal entity ID (on the template or the account).",
                permanent=True,
                code="dlt",
            )
        fields = {"contentTemplateId": dlt.template_id, "principalEntityId": principal}
        if telemarketer:
            fields["telemarketerId"] = telemarketer
        return {k: v for k, v in fields.items() if v}

    def _tracking(self, options: SendOptions) -> dict[str, Any]:
        """Request-level tracking. One ``tracking`` object holds one kind:
        URL tracking also counts conversions (on clicks), so it wins."""
        tracking_type = str(self.options.get("tracking_type") or options.campaign_ref or "")
        if options.click_tracking:
            if self.options.get("click_tracking_style") == "url_options":
                return {"urlOptions": {"shortenUrl": True, "trackClicks": True}}
            tracking = {"track": "URL"}
        elif self._flag("conversion_tracking"):
            tracking = {"track": "SMS"}
        else:
            return {}
        if tracking_type:
            tracking["type"] = tracking_type
        return {"tracking": tracking}

    def parse_submit(self, data: Any, messages: Sequence[OutboundSms]) -> list[SubmitResult]:
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            error_id, detail = _error_parts(data)
            if error_id or detail:
                raise ProviderError(
                    f"Infobip refused the request ({error_id}): {detail}",
                    permanent=error_id not in TRANSIENT_ERRORS,
                    code=error_id,
                    raw=data,
                )
            # A success answer we cannot read: the messages may well be out.
            raise ProviderError(
                "Infobip answered without a messages list.",
                code="bad_json",
                raw=data,
                maybe_sent=True,
            )
        by_ref = {sms.ref: sms for sms in messages}
        # Several of our messages may share a number; hand them out in order.
        by_to: dict[str, list[OutboundSms]] = {}
        for sms in messages:
            by_to.setdefault(_address(sms.to), []).append(sms)
        results: dict[str, SubmitResult] = {}
        for item in data["messages"]:
            if not isinstance(item, dict):
                continue
            message_id = str(item.get("messageId") or "")
            sms = by_ref.get(message_id)
            if sms is None or sms.ref in results:
                # Infobip clipped or replaced our ID: fall back to the number.
                candidates = [
                    s for s in by_to.get(str(item.get("to") or ""), []) if s.ref not in results
                ]
                sms = candidates[0] if candidates else None
            if sms is None:
                continue
            status, error_code, description = map_status(item.get("status"), None)
            sms_count = _int(item.get("smsCount"))
            results[sms.ref] = SubmitResult(
                ref=sms.ref,
                status=status,
                provider_message_id=message_id or sms.ref,
                error_code=error_code,
                error_description=description,
                segments=sms_count if sms_count else segments.count(sms.text).segments,
                raw=item,
            )
        missing = [sms for sms in messages if sms.ref not in results]
        for sms in missing:
            # Infobip answers for every destination it took; one left out was
            # not accepted, but we cannot be sure it will never go out.
            results[sms.ref] = SubmitResult(
                ref=sms.ref,
                status=Status.UNKNOWN,
                provider_message_id=sms.ref,
                error_code="missing",
                error_description="Infobip's answer did not mention this recipient.",
                raw=data,
            )
        return [results[sms.ref] for sms in messages]

    # -- reports and inbound ---------------------------------------------------

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        payload = _payload_of(request)
        results = payload.get("results")
        if not isinstance(results, list):
            raise WebhookRejected("No results list in the Infobip callback.")
        out = WebhookResult()
        for item in results:
            if not isinstance(item, dict):
                raise WebhookRejected("An Infobip callback result is not an object.")
            if request.event == "inbound" or _is_inbound(item):
                out.inbound.append(_inbound_of(item))
            else:
                out.reports.append(_report_of(item))
        return out

    def pull_reports(self) -> list[StatusReport]:
        data = self.get_json(REPORTS_PATH, {"limit": PAGE_LIMIT})
        return [_report_of(item) for item in _results(data)]

    def pull_inbound(self) -> list[InboundSms]:
        data = self.get_json(INBOX_PATH, {"limit": PAGE_LIMIT})
        return [_inbound_of(item) for item in _results(data)]

    def poll_statuses(self, provider_message_ids: Sequence[str]) -> list[StatusReport]:
        return self._logs("messageId", provider_message_ids)

    def find_by_ref(self, refs: Sequence[str]) -> list[StatusReport]:
        # Our reference is the messageId, so the log lookup is the same one.
        return self._logs("messageId", refs)

    def _logs(self, field: str, values: Sequence[str]) -> list[StatusReport]:
        """Message logs (last 48 hours) filtered by comma-separated IDs.

        ``/sms/1/logs`` is the log of ``/sms/2`` traffic; its successor
        ``/sms/3/logs`` names fields differently, and ``_report_of`` reads
        both forms should an account answer with the newer one."""
        reports = []
        for chunk in _chunks(values, MAX_FILTER_LENGTH):
            data = self.get_json(LOGS_PATH, {field: ",".join(chunk), "limit": PAGE_LIMIT})
            reports.extend(_report_of(item) for item in _results(data))
        return reports

    def cancel(self, provider_message_ids: Sequence[str]) -> list[str]:
        """Cancel scheduled messages.

        Infobip cancels whole bulks (``PUT /sms/1/bulks/status``), never one
        message. We find each message's bulk in the logs and cancel a bulk
        only when every message in it is among those asked for, so a cancel
        can never take a message nobody meant to stop. The documents do not
        say whether a scheduled message is in the logs before it goes out;
        one that is not found is left alone and not reported as cancelled."""
        wanted = set(provider_message_ids)
        if not wanted:
            return []
        bulk_of = {}
        for chunk in _chunks(sorted(wanted), MAX_FILTER_LENGTH):
            data = self.get_json(LOGS_PATH, {"messageId": ",".join(chunk), "limit": PAGE_LIMIT})
            for item in _results(data):
                if item.get("bulkId") and item.get("messageId") in wanted:
                    bulk_of[str(item["messageId"])] = str(item["bulkId"])
        members: dict[str, set[str]] = {}
        for bulk_ids in _chunks(sorted(set(bulk_of.values())), MAX_FILTER_LENGTH):
            data = self.get_json(LOGS_PATH, {"bulkId": ",".join(bulk_ids), "limit": PAGE_LIMIT})
            for item in _results(data):
                members.setdefault(str(item.get("bulkId")), set()).add(str(item.get("messageId")))
        cancelled = []
        for bulk_id in sorted(set(bulk_of.values())):
            if not members.get(bulk_id, set()) <= wanted:
                continue
            data = self.json_of(
                self.call(
                    "PUT", BULK_STATUS_PATH, params={"bulkId": bulk_id}, json={"status": "CANCELED"}
                )
            )
            if isinstance(data, dict) and data.get("status") == "CANCELED":
                cancelled.extend(m for m, b in bulk_of.items() if b == bulk_id)
        return sorted(cancelled)

    # -- the rest ----------------------------------------------------------------

    def preview(self, text: str) -> dict[str, Any]:
        data = self.json_of(self.call("POST", PREVIEW_PATH, json={"text": text}))
        if not isinstance(data, dict):
            raise ProviderError("Infobip answered the preview oddly.", code="bad_json", raw=data)
        return data

    def log_conversion(self, provider_message_id: str) -> dict[str, Any]:
        path = CONVERSION_PATH.format(message_id=quote(provider_message_id, safe=""))
        response = self.raw_call("POST", path)
        if response.status_code == 404:
            raise ProviderError(
                f"Infobip does not know message {provider_message_id} "
                "(unknown message, or sent without conversion tracking).",
                permanent=True,
                code="NOT_FOUND",
                raw=response.text[:2000],
            )
        if response.status_code >= 400:
            raise self.error_from(response)
        if not response.content:
            return {}
        data = self.json_of(response)
        return data if isinstance(data, dict) else {"result": data}

    def check_connection(self) -> str:
        # Logs are read-only; pulling reports instead would consume them.
        self.get_json(LOGS_PATH, {"limit": 1})
        return "Infobip accepted the credentials; message logs are readable."

    def sender_errors(self, sender: str) -> list[str]:
        digits = sender[1:] if sender.startswith("+") else sender
        if sender and digits.isdigit() and len(digits) < 3:
            return ["A numeric sender has 3 to 16 digits for Infobip."]
        return super().sender_errors(sender)


# -- status and report mapping -------------------------------------------------------


def map_status(status: Any, error: Any) -> tuple[str, str, str]:
    """(our status, error code, description) from Infobip's status and error."""
    status = status if isinstance(status, dict) else {}
    group_id = _int(status.get("groupId"))
    if group_id is None:
        group_id = GROUP_NAMES.get(str(status.get("groupName") or "").upper())
    ours = GROUP_STATUS.get(group_id, Status.ACCEPTED) if group_id is not None else Status.ACCEPTED
    if group_id == 3 and _int(status.get("id")) != DELIVERED_TO_HANDSET:
        ours = Status.ACCEPTED
    error_code, description = "", ""
    error = error if isinstance(error, dict) else {}
    if error and _int(error.get("id")) not in (None, 0):
        error_code = str(error.get("name") or error.get("id"))
        description = str(error.get("description") or "")
    elif ours in (Status.UNDELIVERED, Status.EXPIRED, Status.REJECTED):
        error_code = str(status.get("name") or "")
        description = str(status.get("description") or "")
    return ours, error_code, description


def _report_of(item: Any) -> StatusReport:
    if not isinstance(item, dict):
        raise WebhookRejected("An Infobip report is not an object.")
    message_id = str(item.get("messageId") or "")
    if not message_id:
        raise WebhookRejected("An Infobip report has no messageId.")
    status, error_code, description = map_status(item.get("status"), item.get("error"))
    cost, currency = _price(item.get("price"))
    return StatusReport(
        provider_message_id=message_id,
        status=status,
        ref=message_id,
        error_code=error_code,
        error_description=description,
        cost=cost,
        currency=currency,
        segments=_int(item.get("smsCount", item.get("messageCount"))),
        sent_at=parse_datetime(item.get("sentAt")),
        done_at=parse_datetime(item.get("doneAt")),
        raw=item,
    )


def _inbound_of(item: Any) -> InboundSms:
    if not isinstance(item, dict) or not item.get("from"):
        raise WebhookRejected("An Infobip inbound message has no sender.")
    sender = str(item["from"])
    if sender.isdigit():
        sender = "+" + sender
    return InboundSms(
        provider_message_id=str(item.get("messageId") or ""),
        sender=sender,
        recipient=str(item.get("to") or ""),
        text=str(item.get("text") or ""),
        keyword=str(item.get("keyword") or ""),
        received_at=parse_datetime(item.get("receivedAt")),
        raw=item,
    )


def _is_inbound(item: dict[str, Any]) -> bool:
    # Reports always carry a status; inbound messages never do.
    return "status" not in item and ("receivedAt" in item or "text" in item)


def _price(price: Any) -> tuple[Decimal | None, str]:
    if not isinstance(price, dict) or price.get("pricePerMessage") in (None, ""):
        return None, ""
    try:
        cost = Decimal(str(price["pricePerMessage"]))
    except InvalidOperation:
        return None, ""
    return cost, str(price.get("currency") or "")


def _results(data: Any) -> list[dict[str, Any]]:
    results = data.get("results") if isinstance(data, dict) else None
    if results is None:
        return []
    if not isinstance(results, list):
        raise ProviderError("Infobip answered with an odd results list.", code="bad_json", raw=data)
    return [item for item in results if isinstance(item, dict)]


# -- wire formats ------------------------------------------------------------------


def format_datetime(value: dt.datetime) -> str:
    """``yyyy-MM-dd'T'HH:mm:ss.SSSZ``, keeping the value's own offset."""
    value = _aware(value)
    return (
        value.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{value.microsecond // 1000:03d}"
        + (value.strftime("%z"))
    )


def parse_datetime(value: Any) -> dt.datetime | None:
    """Infobip writes ``2019-11-09T16:00:00.000+0000``; the seed's examples
    also show ``+01:00``. Both (and ``Z``) are read."""
    if not value or not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _aware(value: dt.datetime) -> dt.datetime:
    # A naive time in our code is UTC (Django stores UTC).
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _delivery_time_window(window: SendWindow) -> dict[str, Any]:
    """Infobip reads the window in UTC, so the engine hands us UTC times.
    The documents do not say whether a window may cross midnight; we pass it
    on as given and let Infobip's validation answer."""
    days = sorted(set(window.days))
    if not days or any(not 0 <= d <= 6 for d in days):
        raise ProviderError(
            "A delivery window needs at least one day.", permanent=True, code="window"
        )
    out: dict[str, Any] = {}
    # from and to go together or not at all; equal ends mean whole days.
    if window.start != window.end:
        out["from"] = {"hour": window.start.hour, "minute": window.start.minute}
        out["to"] = {"hour": window.end.hour, "minute": window.end.minute}
    out["days"] = [DAYS[d] for d in days]
    return out


def _address(number: str) -> str:
    """International format without "+" (``41793026727``), as documented."""
    number = number.strip()
    return number[1:] if number.startswith("+") else number


def _is_numeric(sender: str) -> bool:
    return _address(sender).isdigit()


def _int(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _chunks(values: Iterable[str], limit: int) -> Iterable[list[str]]:
    """Comma-joined groups of values that stay under ``limit`` characters."""
    chunk: list[str] = []
    length = 0
    for value in values:
        if chunk and length + 1 + len(value) > limit:
            yield chunk
            chunk, length = [], 0
        length += len(value) + (1 if chunk else 0)
        chunk.append(value)
    if chunk:
        yield chunk


def _error_parts(body: Any) -> tuple[str, str]:
    """(error id, readable text) from either of Infobip's error envelopes:
    ``requestError.serviceException`` or the newer ``errorCode``/``description``."""
    if not isinstance(body, dict):
        return "", ""
    request_error = body.get("requestError")
    exception = request_error.get("serviceException") if isinstance(request_error, dict) else None
    if isinstance(exception, dict):
        error_id = str(exception.get("messageId") or "")
        text = str(exception.get("text") or "")
        details = []
        validation = exception.get("validationErrors")
        if isinstance(validation, dict):
            for fieldname, problems in validation.items():
                problems = problems if isinstance(problems, list) else [problems]
                details.append(f"{fieldname}: {'; '.join(str(p) for p in problems)}")
        if details:
            text = f"{text} ({', '.join(details)})" if text else ", ".join(details)
        return error_id, text
    if "errorCode" in body:
        text = str(body.get("description") or "")
        violations = body.get("violations")
        if isinstance(violations, list) and violations:
            parts = [
                f"{v.get('property', '')}: {v.get('violation', '')}".strip(": ")
                for v in violations
                if isinstance(v, dict)
            ]
            text = f"{text} ({', '.join(parts)})" if text else ", ".join(parts)
        return str(body["errorCode"]), text
    return "", ""


def _error_text(raw: Any) -> str:
    if not isinstance(raw, str):
        return ""
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    return _error_parts(body)[1]


def _payload_of(request: WebhookRequest) -> dict[str, Any]:
    body = request.body.strip()
    if not body:
        raise WebhookRejected("Empty Infobip callback.")
    if "xml" in request.content_type.lower() or body.startswith(b"<"):
        payload = _xml_payload(body)
    else:
        payload = request.json()
    if not isinstance(payload, dict):
        raise WebhookRejected("An Infobip callback is a JSON object.")
    return payload


# Elements that hold a list of like children in Infobip's XML.
_XML_LISTS = {"results", "messages", "destinations"}


def _xml_payload(body: bytes) -> dict[str, Any]:
    # Infobip's XML has no document type; refusing one shuts out entity
    # expansion tricks, and ElementTree never fetches external entities.
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise WebhookRejected("XML with a document type is not accepted.")
    try:
        root = ET.fromstring(body)  # noqa: S314 - DTDs refused above
    except ET.ParseError as exc:
        raise WebhookRejected(f"Body is not XML: {exc}") from exc
    payload = _xml_value(root)
    if not isinstance(payload, dict):
        raise WebhookRejected("An Infobip XML callback has no elements.")
    return payload


def _xml_value(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if element.tag in _XML_LISTS:
        return [_xml_value(child) for child in children]
    out: dict[str, Any] = {}
    for child in children:
        value = _xml_value(child)
        if child.tag in out:
            # Repeated elements (deliveryTimeWindow days) form a list.
            if not isinstance(out[child.tag], list):
                out[child.tag] = [out[child.tag]]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    return out
