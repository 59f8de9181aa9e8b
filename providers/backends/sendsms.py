"""The x-api-key "sendsms" provider (a Skycore-style Messaging API v2).

One JSON POST per recipient to the account's API endpoint URL, authenticated
by the ``x-api-key`` header; the answer is ``Success`` with a ``tracking-id``
or ``Failure`` with an ``error-code``. Delivery reports and replies come back
as JSON postbacks, matched to our messages by that ``tracking-id``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

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
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from providers.status import Status

MAX_MASK = 11
_MASK = re.compile(r"[A-Za-z0-9_-]+")

# What a Failure code means, and whether trying again later can help.
# Codes about the request, the key or the account apply to every message
# we would send, so they are raised as a ProviderError: permanent ones stop
# the campaign with this message, transient ones are retried with backoff.
_REQUEST_ERRORS: dict[str, tuple[str, bool]] = {
    "E100": ("The provider found the request invalid (a required field is missing).", True),
    "E103": ("API access is blocked for this account; ask the provider to unblock it.", True),
    "E104": ("The API key is invalid; copy it again from the account's API settings.", True),
    "E105": ("This account has no API access; ask the provider to enable it.", True),
    # Too many requests in a short time: the same request will pass later.
    "E106": ("Requests were sent too frequently; they will be retried.", False),
    "E107": ("The provider does not know this API action.", True),
    # Our JSON is generated, so the same bytes would be refused again.
    "E108": ("The provider could not read the request JSON.", True),
    "E111": ("The sender (from number or from-mask) is invalid for this account.", True),
    "E112": ("This server's IP address is not allowed for the API key.", True),
    # The account's throughput is a rate, not a refusal: slow down and retry.
    "E113": ("The account's throughput was exceeded; the message will be retried.", False),
    "E503": ("The provider had an internal error; the message will be retried.", False),
}

# Codes about one recipient. Only that message is refused, so they come back
# as a rejected result and the campaign carries on with the others.
_RECIPIENT_ERRORS: dict[str, str] = {
    "E110": "The recipient number is invalid.",
    "E114": "The recipient is blacklisted (opted out or blocked) at the provider.",
    "E201": "The provider could not send the message.",
}

# Postback codes. E201 is a failure on the way to the handset (the operator
# did not take or deliver it), which is what "undelivered" means here;
# E202 is the documented "Rejected" (also used for expired/not supported).
_POSTBACK_STATUS = {
    "N201": Status.ACCEPTED,
    "N202": Status.DELIVERED,
    "E201": Status.UNDELIVERED,
    "E202": Status.REJECTED,
}

_TRUE = {"1", "true", "yes", "on"}


class SendsmsBackend(ProviderBackend):
    kind = "sendsms"
    label = "sendsms provider"
    # The provider shows each account its own API endpoint URL in the API
    # settings page; there is no public default to fall back on.
    default_base_url = ""
    capabilities = Capabilities(
        max_recipients_per_request=1,
        push_reports=True,
        inbound=True,
        max_alphanumeric_sender=MAX_MASK,
        max_numeric_sender=15,
        # "click-tracking": the provider replaces links with its own short
        # links and counts their clicks in its database; the seed documents
        # no report of them, so they never reach smsportal.
        click_tracking=True,
        click_reports=False,
    )
    credential_fields = (
        CredentialField("api_key", "API key", help_text="Account → API Settings. Case-sensitive."),
    )
    sender_rule = (
        "sendsms provider: a short code or number with its country code, or a sender mask of "
        f"up to {MAX_MASK} letters, digits, _ and - (the provider cuts a longer mask after "
        f"{MAX_MASK} characters; smsportal refuses it instead)."
    )
    option_fields = (
        CredentialField(
            "from_number",
            "From number",
            secret=False,
            required=False,
            help_text=(
                "The short code, toll-free or 10DLC number messages go out from when the "
                "sender is a mask (a name)."
            ),
        ),
        CredentialField(
            "enforce_campaign_check",
            "Enforce Campaign Check",
            secret=False,
            required=False,
            help_text="Yes when the account requires a campaign reference with every message.",
            choices=(("false", "No"), ("true", "Yes")),
        ),
    )

    # -- sending -------------------------------------------------------------

    # Each message is its own request: many go out at once over keep-alive
    # connections (see providers.parallel) when a campaign sends.
    many_at_once = True

    def send_batch(
        self, messages: Sequence[OutboundSms], options: SendOptions
    ) -> list[SubmitResult]:
        self._check_batch(messages, options)
        return [
            self._result(message, self._post(self._payload(message, options)))
            for message in messages
        ]

    def send_many(
        self,
        batches: Sequence[Sequence[OutboundSms]],
        options: SendOptions,
        *,
        connections: int = 1,
    ) -> list[list[SubmitResult] | ProviderError]:
        results: list[list[SubmitResult] | ProviderError] = []
        calls, waiting = [], []
        for batch in batches:
            try:
                self._check_batch(batch, options)
                calls.append(self._call(self._payload(batch[0], options)))
            except ProviderError as error:
                results.append(error)
                continue
            waiting.append(len(results))
            results.append([])
        for at, answer in zip(waiting, self.perform(calls, connections=connections), strict=True):
            try:
                if isinstance(answer, ProviderError):
                    raise answer
                results[at] = [self._result(batches[at][0], self._body(answer))]
            except ProviderError as error:
                results[at] = error
        return results

    def _check_batch(self, messages: Sequence[OutboundSms], options: SendOptions) -> None:
        if len(messages) > 1:
            raise ProviderError(
                f"{self.label} takes one recipient per request.", permanent=True, code="batch"
            )
        if _is_on(self.options.get("enforce_campaign_check")) and not options.campaign_ref:
            raise ProviderError(
                "This account enforces the campaign check: set the campaign reference the "
                "recipients are subscribed to before sending.",
                permanent=True,
                code="campaign_ref",
            )

    def _payload(self, message: OutboundSms, options: SendOptions) -> dict[str, Any]:
        return {"action": "sendsms", **self._fields(message, options)}

    def _result(self, message: OutboundSms, body: dict[str, Any]) -> SubmitResult:
        """What the provider's answer to one message's request says of it."""
        if _is_success(body):
            # A Success without a tracking-id still means the provider took
            # the message; failing here would send it a second time.
            return SubmitResult(
                ref=message.ref,
                status=Status.ACCEPTED,
                provider_message_id=str(body.get("tracking-id") or ""),
                raw=body,
            )
        code = str(body.get("error-code") or "")
        if code in _RECIPIENT_ERRORS:
            return SubmitResult(
                ref=message.ref,
                status=Status.REJECTED,
                error_code=code,
                error_description=_with_info(_RECIPIENT_ERRORS[code], body),
                raw=body,
            )
        if code not in _REQUEST_ERRORS and _names(body, message):
            # A code in neither list, answered for this recipient: the
            # provider refused this message, in its own code and words. The
            # campaign goes on; the engine pauses it when many in a row get
            # the same unknown code (it may concern the account after all).
            return SubmitResult(
                ref=message.ref,
                status=Status.REJECTED,
                error_code=code,
                error_description=str(body.get("error-info") or "").strip()
                or f"{self.label} refused this recipient without saying why.",
                raw=body,
                unknown_code=True,
            )
        raise self._failure(body)

    def _fields(self, message: OutboundSms, options: SendOptions) -> dict[str, Any]:
        fields: dict[str, Any] = {"message-text": message.text, "to": _international(message.to)}
        sender = message.sender
        if _is_number(sender):
            fields["from"] = _international(sender)
        else:
            from_number = str(self.options.get("from_number") or "")
            if not from_number:
                raise ProviderError(
                    f"The sender {sender!r} is a mask: set the account's from number (the "
                    "short code or number it goes out from) to send with a mask.",
                    permanent=True,
                    code="sender",
                )
            fields["from"] = _international(from_number)
            fields["from-mask"] = sender
        if options.campaign_ref:
            fields["campaign-ref"] = options.campaign_ref
        # Left out when off: the provider's default is to send links as they are.
        if options.click_tracking:
            fields["click-tracking"] = True
        return fields

    def sender_errors(self, sender: str) -> list[str]:
        if not sender:
            return ["A sender is required: a short code or number, or a sender mask."]
        if _is_number(sender):
            digits = sender.removeprefix("+")
            limit = self.capabilities.max_numeric_sender
            if len(digits) > limit:
                return [f"A sender number has at most {limit} digits for {self.label}."]
            return []
        errors = []
        # The provider does not refuse a longer mask, it cuts it: "Dunder
        # Mifflin" would reach handsets as "Dunder Miff". Refuse it instead.
        if len(sender) > MAX_MASK:
            errors.append(
                f"A sender mask has at most {MAX_MASK} characters for {self.label} "
                f"(it would arrive as {sender[:MAX_MASK]!r})."
            )
        if not _MASK.fullmatch(sender):
            errors.append("A sender mask may use only A–Z, a–z, 0–9, _ and -.")
        if not self.options.get("from_number"):
            errors.append(
                "A sender mask needs the account's from number (the short code or number "
                "the message goes out from)."
            )
        return errors

    # -- callbacks -----------------------------------------------------------

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        data = request.json()
        if not isinstance(data, dict):
            raise WebhookRejected("postback is not a JSON object")
        origin = str(data.get("origin") or "").upper()
        if origin == "SMS_MO":
            return WebhookResult(inbound=[_inbound(data)])
        if origin != "SMS_MT":
            # MMS and other postbacks may share the URL; they are not ours to
            # record, and any answer but 200 would only make the provider retry.
            return WebhookResult(body="ignored")
        return WebhookResult(reports=[_report(data)])

    # -- account -------------------------------------------------------------

    def check_connection(self) -> str:
        # The seed documents only the sendsms action, and sending a message
        # to test a key costs money and reaches a handset. Instead we ask for
        # an action that does not exist: the provider authenticates first
        # (its key and access codes E103-E105 and E112 come before E107 in its
        # list), so E107 "invalid action" means the key was accepted and
        # nothing was sent. Should it ever answer E107 to a bad key as well,
        # the first real send still stops on E104 with a clear message.
        body = self._post({"action": "connection-check"})
        if _is_success(body) or str(body.get("error-code")) == "E107":
            return f"{self.label} accepted the API key (nothing was sent)."
        raise self._failure(body)

    # -- plumbing ------------------------------------------------------------

    def url(self, path: str) -> str:
        # Every action goes to the one endpoint URL, exactly as configured
        # (the base class would add a trailing slash to it).
        endpoint = self.base_url.rstrip("/")
        if not endpoint:
            raise ProviderError(
                f"Set the account's base URL to the API endpoint URL shown in the "
                f"{self.label} account's API settings.",
                permanent=True,
                code="config",
            )
        return endpoint + ("/" + path.lstrip("/") if path else "")

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.request("POST", "", json=payload, headers=self._key())
        return self._body(response)

    def _call(self, payload: dict[str, Any]):
        return self.prepare("POST", "", json_body=payload, headers=self._key())

    def _key(self) -> dict[str, str]:
        return {"x-api-key": str(self.credentials.get("api_key", ""))}

    def _body(self, response) -> dict[str, Any]:
        body = self.json_of(response)
        if not isinstance(body, dict) or "status" not in body:
            raise ProviderError(
                f"{self.label} answered with JSON that is not an API response.",
                code="bad_json",
                raw=body,
                maybe_sent=200 <= response.status_code < 300,
            )
        return body

    def _failure(self, body: dict[str, Any]) -> ProviderError:
        code = str(body.get("error-code") or "")
        if code in _REQUEST_ERRORS:
            message, permanent = _REQUEST_ERRORS[code]
        elif code in _RECIPIENT_ERRORS:
            message, permanent = _RECIPIENT_ERRORS[code], True
        else:
            # An undocumented code for no recipient in particular (one that
            # names the recipient is that message's refusal, see _result) is
            # retried with backoff and then pauses the campaign with the
            # provider's own words.
            message, permanent = f"{self.label} refused the request.", False
        return ProviderError(
            _with_info(message, body), permanent=permanent, code=code or "failure", raw=body
        )


def _report(data: dict[str, Any]) -> StatusReport:
    tracking_id = str(data.get("tracking-id") or "")
    if not tracking_id:
        raise WebhookRejected("postback has no tracking-id")
    code = str(data.get("code") or "").upper()
    try:
        status = _POSTBACK_STATUS[code]
    except KeyError:
        raise WebhookRejected(f"unknown postback code {code!r}") from None
    when = _timestamp(data.get("timestamp"))
    failed = code.startswith("E")
    return StatusReport(
        provider_message_id=tracking_id,
        status=status,
        error_code=code if failed else "",
        error_description=str(data.get("status") or "") if failed else "",
        sent_at=when if code == "N201" else None,
        done_at=when if code != "N201" else None,
        raw=data,
    )


def _inbound(data: dict[str, Any]) -> InboundSms:
    tracking_id = str(data.get("tracking-id") or "")
    sender = str(data.get("from") or "")
    # v2 postbacks carry "message-text"; the older format called it "text".
    text = data.get("message-text", data.get("text"))
    if not tracking_id or not sender or text is None:
        raise WebhookRejected("SMS_MO postback lacks tracking-id, from or message-text")
    return InboundSms(
        provider_message_id=tracking_id,
        sender=_e164(sender),
        recipient=str(data.get("to") or ""),
        text=str(text),
        received_at=_timestamp(data.get("timestamp") or data.get("received")),
        raw=data,
    )


def _is_success(body: dict[str, Any]) -> bool:
    # The documents write both "Success" and "failure".
    return str(body.get("status", "")).lower() == "success"


def _names(body: dict[str, Any], message: OutboundSms) -> bool:
    """The answer is about this message's recipient (its "to", in any of the
    forms the documents write a number)."""
    to = str(body.get("to") or "").strip().removeprefix("+")
    return bool(to) and to == _international(message.to)


def _with_info(message: str, body: dict[str, Any]) -> str:
    info = str(body.get("error-info") or "").strip()
    return f"{message} ({info})" if info else message


def _is_number(sender: str) -> bool:
    return sender.removeprefix("+").isdigit()


def _international(number: str) -> str:
    # The provider wants the country code and digits only: no "+", no "00".
    return number.strip().removeprefix("+")


def _e164(number: str) -> str:
    # Subscribers come without the "+"; short codes stay as they are.
    return f"+{number}" if number.isdigit() and len(number) > 8 else number


def _timestamp(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _is_on(value: Any) -> bool:
    return value is True or str(value).strip().lower() in _TRUE
