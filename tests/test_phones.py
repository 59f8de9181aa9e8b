"""Numbers in, E.164 out: what normalise makes of numbers as people write
them, checked against phonenumbers' own public answers."""

import phonenumbers
import pytest
from phonenumbers import timezone as pn_timezone

from smsportal import phones
from smsportal.phones import InvalidNumber, normalise

# Shared country codes (+44 with Jersey, Guernsey and the Isle of Man, +1
# across North America and the Caribbean, +7) and plain ones, fixed and
# mobile, national and international, valid and not.
NUMBERS = [
    ("+49 151 7000 0002", "DE"),
    ("0151 70000002", "DE"),
    ("030 1234567", "DE"),
    ("+33 6 70 00 00 03", "DE"),
    ("+44 7911 123456", "DE"),
    ("+44 1534 456789", "DE"),  # Jersey, fixed
    ("+44 7797 123456", "DE"),  # Jersey, mobile
    ("+44 1481 256789", "DE"),  # Guernsey
    ("+44 1624 756789", "DE"),  # Isle of Man
    ("+44 20 7946 0018", "DE"),
    ("+1 212 555 0199", "DE"),
    ("+1 416 555 0199", "DE"),  # Canada
    ("+1 876 555 0199", "DE"),  # Jamaica
    ("(201) 555-0123", "US"),
    ("+7 912 345 6789", "DE"),
    ("+7 701 234 5678", "DE"),  # Kazakhstan
    ("+91 98765 43210", "DE"),
    ("4915112345678", "DE"),  # a spreadsheet dropped the +
    ("+49 151 12", "DE"),
    ("+44 1534 4567", "DE"),
    ("+1 555 555 0199", "DE"),
]


def public_answer(text, region):
    parsed = phonenumbers.parse(
        text.replace("00", "+", 1) if text.startswith("00") else text, region
    )
    if not phonenumbers.is_valid_number(parsed):
        return None
    zones = pn_timezone.time_zones_for_number(parsed)
    return (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        phonenumbers.region_code_for_number(parsed),
        zones[0] if zones and zones[0] != pn_timezone.UNKNOWN_TIMEZONE else "",
    )


def ours(text, region):
    try:
        number = normalise(text, region)
    except InvalidNumber:
        return None
    return number.e164, number.country, number.time_zone


@pytest.mark.parametrize(("text", "region"), NUMBERS)
def test_it_agrees_with_the_public_api(text, region):
    if text == "4915112345678":
        # Read with Germany as the default, the public parse keeps it national.
        assert ours(text, region)[:2] == ("+4915112345678", "DE")
        return
    assert ours(text, region) == public_answer(text, region)


@pytest.mark.parametrize(("text", "region"), NUMBERS)
def test_without_the_shortcut_the_answers_are_the_same(text, region, monkeypatch):
    expected = ours(text, region)
    monkeypatch.setattr(phones, "_type_for_region", None)
    assert ours(text, region) == expected


def test_the_regions_of_a_shared_country_code_are_told_apart():
    assert normalise("+44 1534 456789").country == "JE"
    assert normalise("+44 1624 756789").country == "IM"
    assert normalise("+1 416 555 0199").country == "CA"
    assert normalise("+44 20 7946 0018").time_zone == "Europe/London"
