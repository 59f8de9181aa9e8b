"""The template filters every page uses: money with its currency's usual
decimals, numbers as people read them, and icons from the vendored sprite."""

from decimal import Decimal

import pytest
from django.template import Context, Template

from smsportal.templatetags.ui import format_money, format_phone


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("84.45123"), "EUR", "84.45 EUR"),
        (Decimal("1234.5"), "EUR", "1,234.50 EUR"),
        (Decimal("0"), "EUR", "0.00 EUR"),
        (Decimal("0.1"), "EUR", "0.10 EUR"),
        # One message's price keeps what it has (never rounded to 0.08).
        (Decimal("0.07500"), "EUR", "0.075 EUR"),
        (Decimal("0.00001"), "EUR", "0.00001 EUR"),
        (Decimal("1500"), "JPY", "1,500 JPY"),
        (Decimal("1.2345"), "KWD", "1.235 KWD"),
        (Decimal("-0.004"), "EUR", "-0.004 EUR"),
        (None, "EUR", ""),
        ("12.3", "", "12.30"),
    ],
)
def test_money_has_its_currencys_decimals(amount, currency, shown):
    assert format_money(amount, currency) == shown


def test_the_filters_work_in_any_template_without_loading():
    html = Template("{{ cost|money:'EUR' }} · {{ number|phone }} · {% icon 'menu' %}").render(
        Context({"cost": Decimal("84.4512"), "number": "+4915112345601"})
    )
    assert html.startswith('84.45 EUR · +49 1511 2345601 · <svg class="icon"')
    assert 'aria-hidden="true"' in html and "icons.svg#menu" in html


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+4915112345601", "+49 1511 2345601"),
        ("+33612349999", "+33 6 12 34 99 99"),
        ("+12025550123", "+1 202-555-0123"),
        ("12345", "12345"),
        ("+999", "+999"),
        ("", ""),
    ],
)
def test_numbers_are_shown_in_the_international_format(stored, shown):
    assert format_phone(stored) == shown


def test_every_icon_a_template_uses_is_in_the_sprite():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sprite = (root / "static" / "vendor" / "icons.svg").read_text()
    have = set(re.findall(r'<symbol id="([a-z0-9-]+)"', sprite))
    used = set()
    for template in (root / "templates").rglob("*.html"):
        used |= set(re.findall(r'{% icon "([a-z0-9-]+)"', template.read_text()))
    assert used and used <= have, f"missing from the sprite: {sorted(used - have)}"
