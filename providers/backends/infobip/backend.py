"""The Infobip backend: account settings, HTTP and sending, composed with
authentication (``auth``), reports (``reports``) and bulks (``bulks``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import requests

from providers import segments
from providers.base import (
    CLICKS_EVENT,
    Capabilities,
    CredentialField,
    DltFields,
    OutboundSms,
    ProviderBackend,
    ProviderError,
    SendOptions,
    SendWindow,
    SubmitResult,
)
from providers.status import Status

from .auth import AUTH_CHOICES, InfobipAuth
from .bulks import InfobipBulks
from .reports import LOGS_PATH, InfobipReports, map_status
from .wire import _address, _aware, _error_parts, _error_text, _int, _is_numeric, format_datetime

SEND_PATH = "/sms/2/text/advanced"
PREVIEW_PATH = "/sms/1/preview"
CONVERSION_PATH = "/ct/1/log/end/{message_id}"

DEFAULT_MAX_DESTINATIONS = 1000
# The seed documents 200 characters; the spec allows 4000. We keep to the
# stricter documented limit so an account on either contract works.
MAX_CALLBACK_DATA = 200
# Infobip silently lowers anything longer to 48 hours; we cap it ourselves so
# the value we record is the one applied.
MAX_VALIDITY_MINUTES = 2880
MAX_SCHEDULE_AHEAD = dt.timedelta(days=180)
NOTIFY_CONTENT_TYPE_CHOICES = (("application/json", "JSON"), ("application/xml", "XML"))
NOTIFY_CONTENT_TYPES = tuple(value for value, _ in NOTIFY_CONTENT_TYPE_CHOICES)
CLICK_TRACKING_STYLES = (
    ("tracking", "tracking.track URL (documented)"),
    ("url_options", "urlOptions"),
)
YES_NO = (("false", "No"), ("true", "Yes"))
# Sender IDs (seeds 001 and 003): alphanumeric 3-11, numeric 3-14 digits.
MIN_SENDER = 3
MAX_ALPHANUMERIC_SENDER = 11
MAX_NUMERIC_SENDER = 14
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")

# serviceException.messageId values worth a retry; every other one means the
# request itself is wrong and sending it again changes nothing.
TRANSIENT_ERRORS = frozenset({"TOO_MANY_REQUESTS", "GENERAL_ERROR", "SERVICE_UNAVAILABLE"})


class InfobipBackend(InfobipAuth, InfobipReports, InfobipBulks, ProviderBackend):
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
        max_alphanumeric_sender=MAX_ALPHANUMERIC_SENDER,
        # The guide (seed 001) says 16 digits, the reference (seed 003) 14:
        # the stricter holds, so a sender we accept is one both allow.
        max_numeric_sender=MAX_NUMERIC_SENDER,
        inbound=True,
        preview=True,
        conversion_tracking=True,
        # Infobip shortens and tracks the links itself when a campaign asks
        # for click tracking; it posts each click to the account's
        # click-report URL in the urlOptions form (see ``_tracking``).
        click_tracking=True,
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "api_key",
            "API key",
            help_text="Sent as “Authorization: App <key>”.",
            only_when=("auth_type", ("app_key",)),
        ),
        CredentialField(
            "username",
            "Username",
            secret=False,
            help_text="Your Infobip username.",
            only_when=("auth_type", ("basic",)),
        ),
        CredentialField(
            "password",
            "Password",
            help_text="Your Infobip password.",
            only_when=("auth_type", ("basic",)),
        ),
        CredentialField(
            "token",
            "Token",
            help_text="An OAuth2 access token (Bearer) or a session token (IBSSO).",
            only_when=("auth_type", ("bearer", "ibsso")),
        ),
        CredentialField(
            "client_id",
            "OAuth2 client ID",
            secret=False,
            help_text="smsportal fetches and renews access tokens itself (client "
            "credentials grant).",
            only_when=("auth_type", ("oauth2",)),
        ),
        CredentialField(
            "client_secret",
            "OAuth2 client secret",
            only_when=("auth_type", ("oauth2",)),
        ),
    )
    sender_rule: ClassVar[str] = (
        "Infobip: 3 to 11 letters and digits, or a number of 3 to 14 digits."
    )
    option_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "auth_type",
            "Authentication",
            secret=False,
            required=False,
            help_text="How smsportal signs its requests; only that type's credentials are used.",
            choices=AUTH_CHOICES,
        ),
        CredentialField(
            "notify_content_type",
            "Delivery report format",
            secret=False,
            required=False,
            help_text="The body Infobip pushes delivery reports in (notifyContentType).",
            choices=NOTIFY_CONTENT_TYPE_CHOICES,
        ),
        CredentialField(
            "intermediate_report",
            "Intermediate delivery reports",
            secret=False,
            required=False,
            help_text="Yes: Infobip also reports each step before the final one "
            "(intermediateReport); the message's status still only moves forward.",
            choices=YES_NO,
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
            help_text="Yes: messages go with SMS tracking, so conversions can be logged.",
            choices=YES_NO,
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
            help_text="How click tracking is asked for: the documented tracking.track URL "
            "(clicks are counted in Infobip's portal only), or urlOptions (the newer form: "
            "Infobip also posts each click to this account's click-report URL, and it counts "
            "on the campaign page).",
            choices=CLICK_TRACKING_STYLES,
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
        # The batch size and the click reports are per account, so the
        # instance carries its own capabilities; everything else stays as
        # the class declares it.
        self.capabilities = Capabilities(
            **{
                **type(self).capabilities.__dict__,
                "max_recipients_per_request": self.max_destinations,
                "click_reports": self.click_tracking_style == "url_options",
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
    def click_tracking_style(self) -> str:
        return str(self.options.get("click_tracking_style") or CLICK_TRACKING_STYLES[0][0])

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
        return self.json_dict(self.call("GET", path, params=params))

    def json_dict(self, response: requests.Response) -> dict[str, Any]:
        data = self.json_of(response)
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
        if options.intermediate_report or self._flag("intermediate_report"):
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
            if self.click_tracking_style == "url_options":
                url_options: dict[str, Any] = {"shortenUrl": True, "trackClicks": True}
                # Where Infobip posts its click reports: the account's own
                # secret URL, as for delivery reports.
                tracking_url = self.webhook_url(CLICKS_EVENT)
                if tracking_url:
                    url_options["trackingUrl"] = tracking_url
                return {"urlOptions": url_options}
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
        self.get_current(LOGS_PATH, {"limit": 1})
        return "Infobip accepted the credentials; message logs are readable."

    def sender_errors(self, sender: str) -> list[str]:
        if not sender:
            return ["A sender ID is required."]
        digits = sender.removeprefix("+")
        if digits.isdigit():
            if not MIN_SENDER <= len(digits) <= MAX_NUMERIC_SENDER:
                return [
                    f"A numeric sender has {MIN_SENDER} to {MAX_NUMERIC_SENDER} digits for Infobip."
                ]
            return []
        errors = []
        if not MIN_SENDER <= len(sender) <= MAX_ALPHANUMERIC_SENDER:
            errors.append(
                f"An alphanumeric sender has {MIN_SENDER} to {MAX_ALPHANUMERIC_SENDER} "
                "characters for Infobip."
            )
        if not (sender.isascii() and sender.isalnum()):
            errors.append("An Infobip sender may use only letters A–Z, a–z and digits 0–9.")
        return errors


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
