"""Phone numbers in, E.164 out: the one place that parses them."""

from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    PhoneMetadata,
    PhoneNumberType,
    phonenumberutil,
    re_util,
)
from phonenumbers import timezone as pn_timezone

# phonenumbers recompiles its metadata patterns through re's small cache;
# with numbers from many countries (any real import) that cache thrashes.
re_util.enable_pattern_cache()


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
    if not text.startswith("+") and not text.startswith("0"):
        parsed = _international_without_plus(text, parsed)
    # One type lookup answers both "is it valid" and "which time zone": the
    # library's own helpers would each work it out again.
    region = phonenumbers.region_code_for_number(parsed)
    number_type = _number_type(parsed, region)
    if number_type == PhoneNumberType.UNKNOWN:
        reason = _REASONS.get(
            phonenumbers.is_possible_number_with_reason(parsed), "not a valid number"
        )
        raise InvalidNumber(reason)
    return Number(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        country=region or "",
        time_zone=_time_zone(parsed, number_type),
    )


# What phonenumbers.number_type does once it knows the region; with it the
# region found for the contact's country is not worked out a second time
# (for a code shared by several countries, such as +44 or +1, finding the
# region already runs the type patterns once).
_type_for_region = getattr(phonenumberutil, "_number_type_helper", None)


def _number_type(parsed, region):
    if _type_for_region is None:
        return phonenumbers.number_type(parsed)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(parsed.country_code, region)
    if metadata is None:
        return PhoneNumberType.UNKNOWN
    return _type_for_region(phonenumbers.national_significant_number(parsed), metadata)


def _international_without_plus(text: str, parsed):
    """Spreadsheets drop the "+" of numbers stored as numbers: 4915112345678
    read with Germany as the default comes out as +49 4915112345678, which
    German numbering happens to allow. A national number that starts with
    its own country code is taken as international when that is valid."""
    code = str(parsed.country_code)
    if not str(parsed.national_number).startswith(code):
        return parsed
    try:
        international = phonenumbers.parse("+" + text)
    except phonenumbers.NumberParseException:
        return parsed
    if international.country_code == parsed.country_code and phonenumbers.is_valid_number(
        international
    ):
        return international
    return parsed


_COUNTRY_ZONES: dict[int, str] = {}


def _time_zone(parsed, number_type) -> str:
    if pn_timezone.is_number_type_geographical(number_type, parsed.country_code):
        zones = pn_timezone.time_zones_for_geographical_number(parsed)
    else:
        # Mobiles mostly: the zone depends on the country code alone.
        cached = _COUNTRY_ZONES.get(parsed.country_code)
        if cached is not None:
            return cached
        zones = pn_timezone.time_zones_for_number(parsed)
    zone = zones[0] if zones and zones[0] != pn_timezone.UNKNOWN_TIMEZONE else ""
    if not pn_timezone.is_number_type_geographical(number_type, parsed.country_code):
        _COUNTRY_ZONES[parsed.country_code] = zone
    return zone


def time_zones(e164: str) -> tuple[str, ...]:
    """Every time zone phonenumbers gives the number, which for a number not
    tied to a place (most mobiles) is every zone of its country code: all of
    Russia's and Kazakhstan's for +7 9…, all of North America's for a
    Caribbean mobile. Empty when it knows none."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return ()
    return _known(pn_timezone.time_zones_for_number(parsed))


def area_time_zones(e164: str) -> tuple[str, ...]:
    """The zones of the number's longest known prefix (its area code),
    whatever the kind of number: narrower than ``time_zones`` for mobiles of
    a country code shared by many zones."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return ()
    return _known(pn_timezone.time_zones_for_geographical_number(parsed))


def prefix_time_zones(e164: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the zones of the number's longest known prefix, the zones of its
    country code), from its first digits, without parsing it: its
    ``time_zones`` are the first for a number tied to a place, the second
    for any other. Numbers sharing the first ``ZONE_PREFIX_DIGITS`` digits
    share both."""
    digits = e164.lstrip("+")[:ZONE_PREFIX_DIGITS]
    area: tuple[str, ...] = ()
    for n in range(len(digits), 0, -1):
        if digits[:n] in pn_timezone.TIMEZONE_DATA:
            area = _known(pn_timezone.TIMEZONE_DATA[digits[:n]])
            break
    code = next(
        (digits[:n] for n in (1, 2, 3) if int(digits[:n] or 0) in COUNTRY_CODE_TO_REGION_CODE),
        "",
    )
    return area, _known(pn_timezone.TIMEZONE_DATA.get(code, ()))


# The longest prefix phonenumbers keeps time zones for.
ZONE_PREFIX_DIGITS = pn_timezone.TIMEZONE_LONGEST_PREFIX


def _known(zones) -> tuple[str, ...]:
    return tuple(z for z in zones if z != pn_timezone.UNKNOWN_TIMEZONE)


def zone_sets(country: str, first_zone: str) -> frozenset[tuple[str, ...]]:
    """Every set of zones (``time_zones``) a number of ``country`` may have
    whose first zone, the one ``normalise`` keeps, is ``first_zone``: from
    that zone alone it is known whether the number may also be in others."""
    if not country:
        return frozenset()
    code = phonenumbers.country_code_for_region(country.upper())
    return _zone_sets_by_first(code).get(first_zone, frozenset()) if code else frozenset()


@cache
def _zone_sets_by_first(calling_code: int) -> dict[str, frozenset[tuple[str, ...]]]:
    # Calling codes are prefix-free: every prefix starting with this one is
    # a number of this code.
    code = str(calling_code)
    found: dict[str, set[tuple[str, ...]]] = {}
    for prefix, zones in pn_timezone.TIMEZONE_DATA.items():
        zones = _known(zones)
        if prefix.startswith(code) and zones:
            found.setdefault(zones[0], set()).add(zones)
    return {first: frozenset(sets) for first, sets in found.items()}


@cache
def country_choices() -> list[tuple[str, str]]:
    """(code, "Name (+cc)") for every region phonenumbers knows, by name."""
    from .countries import NAMES

    out = [
        (region, f"{NAMES.get(region, region)} (+{phonenumbers.country_code_for_region(region)})")
        for region in phonenumbers.SUPPORTED_REGIONS
    ]
    return sorted(out, key=lambda item: item[1])


def default_country() -> str:
    """The site's country for numbers written without +country code:
    DEFAULT_COUNTRY, else the one country whose numbers are all in the zone
    of TIME_ZONE (Europe/Berlin: DE), else none."""
    from django.conf import settings

    configured = getattr(settings, "DEFAULT_COUNTRY", "")
    if configured:
        return configured.upper()
    return _zone_country(settings.TIME_ZONE)


@cache
def _zone_country(zone: str) -> str:
    # Country codes whose numbers are all in that one zone (49: Berlin).
    codes = {
        int(prefix)
        for prefix, zones in pn_timezone.TIMEZONE_DATA.items()
        if prefix.isdigit() and int(prefix) in COUNTRY_CODE_TO_REGION_CODE and zones == (zone,)
    }
    if len(codes) != 1:
        return ""
    region = phonenumbers.region_code_for_country_code(codes.pop())
    return "" if region == phonenumbers.UNKNOWN_REGION else region


def search_prefix(raw: str, default_region: str = "") -> str:
    """What the E.164 numbers a search box's text stands for start with:
    the whole number when it is one ("0176 10033621" with Germany, or
    "+49 176 10033621": "+4917610033621"), else the digits typed with the
    country code in front ("0176" with Germany: "+49176"; "+4915" or
    "4915": "+4915"). Empty when it has no digits."""
    text = (raw or "").strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits:
        return ""
    international = text.startswith("+") or text.startswith("00")
    try:
        return normalise(text, default_region or None).e164
    except InvalidNumber:
        pass
    if international:
        return "+" + (digits[2:] if text.startswith("00") else digits)
    region = (default_region or "").upper()
    metadata = PhoneMetadata.metadata_for_region(region) if region else None
    trunk = metadata.national_prefix if metadata is not None else None
    if trunk and digits.startswith(trunk):
        return f"+{metadata.country_code}{digits[len(trunk) :]}"
    # Digits without a trunk prefix: taken as written with their country
    # code, as spreadsheets keep numbers ("4915…").
    return "+" + digits
