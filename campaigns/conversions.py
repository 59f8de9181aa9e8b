"""Conversions: an outcome (an order, a sign-up) attributed to the message
whose short link brought the visitor, by the link's code.

They come from a server-to-server call (``POST /api/v1/conversions/``, an
API token with the "record conversions" permission) or from the pixel a
landing page loads (``/c/<code>.gif``). A caller's own reference
(``external_id``, e.g. an order number) makes recording idempotent: the same
reference twice for a link is one conversion.

Where the account that sent the message can log conversions at the provider
(``Capabilities.conversion_tracking``, and the account's option of the same
name switched on, or the campaign sent with the provider's click tracking,
which tracks conversions as well), the conversion is reported there too, by
a task, and what the provider answered is kept on the conversion
(``provider_answer``): an error or a 404 as the provider said it, never as
a success.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from providers.base import ProviderError
from smsportal.celery import enqueue

from .models import Campaign, Conversion, ShortLink

# As many digits before and after the decimal point as the column keeps.
_VALUE = Conversion._meta.get_field("value")
VALUE_DIGITS = _VALUE.max_digits - _VALUE.decimal_places
VALUE_PLACES = Decimal(1).scaleb(-_VALUE.decimal_places)
MAX_VALUE = Decimal(10) ** VALUE_DIGITS - VALUE_PLACES
MAX_EXTERNAL_ID = 100
# Codes are letters and digits (campaigns.links); anything else is no code.
CODE = re.compile(r"[0-9A-Za-z]{1,16}")
# Times a conversion is reported to the provider when it answers with a
# transient error (5xx, 429, no answer), backing off between tries.
PROVIDER_TRIES = 4

# ISO 4217 currency codes in use (and the precious metals and special
# codes a bank may book in; not XTS, for testing, nor XXX, "no currency").
_ISO_4217_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP
    DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS
    VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER
    ZAR ZMW ZWG ZWL
"""
ISO_4217 = frozenset(_ISO_4217_CODES.split())


class UnknownCode(Exception):
    """No short link has this code."""


def clean_value(value) -> Decimal | None:
    """The conversion's value as stored: a number from 0 up to VALUE_DIGITS
    digits before the decimal point, rounded to the five after it the column
    keeps; None when none was given. ValidationError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError({"value": "Give the value as a number, e.g. 49.90."})
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({"value": "Give the value as a number, e.g. 49.90."}) from None
    if not amount.is_finite():
        raise ValidationError({"value": "Give the value as a number, e.g. 49.90."})
    if amount < 0:
        raise ValidationError({"value": "The value cannot be negative."})
    amount = amount.quantize(VALUE_PLACES, rounding=ROUND_HALF_UP)
    if amount > MAX_VALUE:
        raise ValidationError(
            {"value": f"The value has at most {VALUE_DIGITS} digits before the decimal point."}
        )
    # -0 is 0.
    return abs(amount)


def clean_currency(currency, default: str) -> str:
    """An ISO 4217 code (upper case); the account's currency (``default``)
    when none is given."""
    if currency is None or not str(currency).strip():
        return default
    code = str(currency).strip().upper()
    if code == default.upper():
        return default
    if not re.fullmatch(r"[A-Z]{3}", code) or code not in ISO_4217:
        raise ValidationError(
            {"currency": "Give the currency as an ISO 4217 code of three letters, e.g. EUR."}
        )
    return code


def clean_external_id(external_id) -> str:
    text = "" if external_id is None else str(external_id).strip()
    if len(text) > MAX_EXTERNAL_ID:
        raise ValidationError(
            {"external_id": f"Keep the reference to {MAX_EXTERNAL_ID} characters."}
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValidationError({"external_id": "The reference has control characters."})
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        # Half of a UTF-16 pair on its own (JSON's \ud800 reads as one):
        # no database can keep it as text.
        raise ValidationError(
            {"external_id": "The reference has half of a UTF-16 pair on its own: not text."}
        )
    return text


def find_link(code) -> ShortLink:
    """The short link with ``code``, with its message, campaign and
    accounts; UnknownCode when there is none."""
    code = "" if code is None else str(code).strip()
    if not CODE.fullmatch(code):
        raise UnknownCode(code)
    link = (
        ShortLink.objects.select_related("message", "message__account", "campaign__account")
        .filter(code=code)
        .first()
    )
    if link is None:
        raise UnknownCode(code)
    return link


def record_conversion(
    *, code, value=None, currency="", external_id="", source=Conversion.Source.API
) -> tuple[Conversion, bool]:
    """Record a conversion for the message of the short link ``code``.
    Returns (conversion, created): with an ``external_id`` already recorded
    for that link, the existing conversion and False. Raises UnknownCode
    for a code no link has, ValidationError (by field) for a bad value,
    currency or reference."""
    if source not in Conversion.Source.values:
        raise ValueError(f"unknown conversion source {source!r}")
    amount = clean_value(value)
    reference = clean_external_id(external_id)
    link = find_link(code)
    currency = clean_currency(currency, link.campaign.account.currency)
    if reference:
        existing = Conversion.objects.filter(link=link, external_id=reference).first()
        if existing is not None:
            return existing, False
    message = link.message
    conversion = Conversion(
        link=link,
        message=message,
        campaign_id=link.campaign_id,
        variant_id=message.variant_id if message else None,
        value=amount,
        currency=currency,
        external_id=reference,
        source=source,
    )
    report = message is not None and logs_at_provider(message)
    if report:
        conversion.provider_answer = {"state": "queued", "at": _now()}
    try:
        with transaction.atomic():
            conversion.save()
    except IntegrityError:
        # The same reference recorded meanwhile by another request.
        existing = Conversion.objects.filter(link=link, external_id=reference).first()
        if existing is None:
            raise
        return existing, False
    if report:
        enqueue("campaigns.tasks.log_conversion", conversion.pk)
    return conversion, True


def logs_at_provider(message) -> bool:
    """Whether a conversion of ``message`` is reported to its provider: the
    account's backend can log conversions, the account tracks them (its
    ``conversion_tracking`` option, where the backend has one) or the
    campaign went with the provider's click tracking, and the provider gave
    the message an id."""
    account = message.account
    if not message.provider_message_id or not account.capabilities.conversion_tracking:
        return False
    options = {f.name for f in account.backend_class.option_fields}
    if "conversion_tracking" not in options or _on(account.options.get("conversion_tracking")):
        return True
    return Campaign.objects.filter(pk=message.campaign_id, click_tracking=True).exists()


def _on(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _now() -> str:
    return timezone.now().isoformat()


def log_at_provider(conversion_id: int, *, attempt: int = 1) -> ProviderError | None:
    """Report a conversion to the provider that sent its message, and keep
    what the provider answered on the conversion. Returns the error when
    the call failed in a way worth trying again (the caller decides), None
    when the answer is final: a success, or a refusal kept as it was said."""
    conversion = (
        Conversion.objects.select_related("message", "message__account")
        .filter(pk=conversion_id)
        .first()
    )
    if conversion is None or conversion.message is None:
        return None
    message = conversion.message
    try:
        answer = message.account.backend().log_conversion(message.provider_message_id)
    except ProviderError as error:
        again = not error.permanent and attempt < PROVIDER_TRIES
        conversion.provider_answer = {
            "state": "retrying" if again else "failed",
            "at": _now(),
            "attempt": attempt,
            "message_id": message.provider_message_id,
            "code": error.code,
            "error": error.message,
            "answer": _plain(error.raw),
        }
        conversion.save(update_fields=["provider_answer"])
        return error if again else None
    conversion.provider_answer = {
        "state": "logged",
        "at": _now(),
        "attempt": attempt,
        "message_id": message.provider_message_id,
        "answer": _plain(answer),
    }
    conversion.save(update_fields=["provider_answer"])
    return None


def _plain(raw):
    """What the provider sent, as JSON can keep it."""
    if raw is None or isinstance(raw, dict | list | str | int | float | bool):
        return raw
    return str(raw)


def provider_state(conversion: Conversion) -> tuple[str, str]:
    """(state, words) of reporting ``conversion`` to the provider, for the
    pages: "" when it is not reported there."""
    answer = conversion.provider_answer or {}
    state = answer.get("state", "")
    if state == "queued":
        return state, "being reported to the provider"
    if state == "logged":
        return state, "logged at the provider"
    if state == "retrying":
        return state, f"the provider did not answer ({answer.get('error', '')}); trying again"
    if state == "failed":
        return state, f"refused by the provider: {answer.get('error', '')}"
    return "", ""
