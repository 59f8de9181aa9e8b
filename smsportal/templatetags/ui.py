"""Template filters and tags every page uses, loaded as builtins (see
TEMPLATES in settings): no ``{% load %}`` needed.

    {{ amount|money:currency }}   84.45 EUR; 0.075 EUR for one message's price
    {{ contact.phone|phone }}     +49 151 12345601 (from +4915112345601)
    {% icon "menu" %}             an icon of the vendored sprite, hidden from
                                  screen readers (the text beside it names it)
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

import phonenumbers
from django import template
from django.templatetags.static import static
from django.utils.html import format_html

register = template.Library()

# ISO 4217 minor units where they are not 2.
MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW"), 0),
    **dict.fromkeys(("PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
# Prices are stored with five decimal places.
MAX_DECIMALS = 5


def currency_decimals(currency: str) -> int:
    return MINOR_UNITS.get((currency or "").upper(), 2)


def format_money(value, currency: str = "") -> str:
    """An amount with its currency's usual decimals ("1,234.50 EUR"). An
    amount under one unit that those decimals would round (one message's
    price, 0.075 EUR) keeps what it has, up to five decimals, so a price is
    never shown as something it is not. Empty for no amount."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    decimals = currency_decimals(currency)
    rounded = amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded != amount and abs(amount) < 1:
        precise = amount.quantize(Decimal(1).scaleb(-MAX_DECIMALS), rounding=ROUND_HALF_UP)
        digits = len(str(precise.normalize()).partition(".")[2])
        decimals = max(decimals, min(digits, MAX_DECIMALS))
        rounded = precise.quantize(Decimal(1).scaleb(-decimals))
    text = f"{rounded:,.{decimals}f}"
    if text.startswith("-") and rounded == 0:
        text = text[1:]
    return f"{text} {currency}".strip() if currency else text


@register.filter
def money(value, currency=""):
    """``{{ amount|money:currency }}``: see ``format_money``."""
    return format_money(value, str(currency or ""))


@lru_cache(maxsize=8192)
def format_phone(number: str) -> str:
    """An E.164 number as people read it: +49 151 12345601. Anything that
    does not parse is shown as it is."""
    if not number or not number.startswith("+"):
        return number or ""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@register.filter
def phone(value):
    """``{{ contact.phone|phone }}``: see ``format_phone``."""
    return format_phone(str(value)) if value else ""


@register.simple_tag
def icon(name, extra_class=""):
    """An icon from the vendored sprite (static/vendor/icons.svg)."""
    href = f"{static('vendor/icons.svg')}#{name}"
    classes = f"icon {extra_class}".strip()
    return format_html(
        '<svg class="{}" aria-hidden="true" focusable="false"><use href="{}"></use></svg>',
        classes,
        href,
    )
