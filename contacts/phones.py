"""Phone numbers in, E.164 out: the one place that parses them."""

from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as pn_timezone


class InvalidNumber(ValueError):
    pass


@dataclass(frozen=True)
class Number:
    e164: str
    country: str
    time_zone: str


_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong length for its country",
}


def normalise(raw: str, default_region: str | None = None) -> Number:
    """Parse a number as people type it (national with a default country, or
    international with + or 00) into E.164, its country and a time zone."""
    text = (raw or "").strip()
    if not text:
        raise InvalidNumber("empty")
    if len(text) > 40:
        raise InvalidNumber("too long to be a phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, (default_region or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise InvalidNumber(
                "no country: write it with + and the country code, or choose a default country"
            ) from exc
        raise InvalidNumber("not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        reason = _REASONS.get(
            phonenumbers.is_possible_number_with_reason(parsed), "not a valid number"
        )
        raise InvalidNumber(reason)
    zones = pn_timezone.time_zones_for_number(parsed)
    zone = zones[0] if zones and zones[0] != pn_timezone.UNKNOWN_TIMEZONE else ""
    return Number(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        country=phonenumbers.region_code_for_number(parsed) or "",
        time_zone=zone,
    )


@cache
def country_choices() -> list[tuple[str, str]]:
    """(code, "Name (+cc)") for every region phonenumbers knows, by name."""
    out = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        example = phonenumbers.example_number(region)
        name = geocoder.country_name_for_number(example, "en") if example else ""
        code = phonenumbers.country_code_for_region(region)
        out.append((region, f"{name or region} (+{code})"))
    return sorted(out, key=lambda item: item[1])
