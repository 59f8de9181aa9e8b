"""The rules that guard every marketing send beyond a campaign's own
settings, each a site setting (see .env.example):

- quiet hours in each recipient's local time, held at dispatch;
- a frequency cap per contact, applied at launch;
- only contacts who opted in, for a campaign that asks for it, at launch;
- an opt-out instruction in the text, checked in the composer.

The composer (``compose.preview``) says what each holds back before launch;
``services.materialise`` and ``dispatch`` apply them with the definitions
here, so what the composer counts is what happens.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, reduce
from operator import or_

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.db.models.lookups import In

from providers.status import Status
from smsportal import phones

from .models import Campaign, Message

# ----------------------------------------------------------------- quiet hours

# The contact attribute (an imported "Time zone" column) that names a
# recipient's own zone; a known zone there wins over the number's.
OWN_ZONE_ATTRIBUTE = "time_zone"


@cache
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def zone_info(name: str) -> zoneinfo.ZoneInfo:
    """The zone of that name; the site's zone for a name this server does not
    know (and for none)."""
    if name in known_zones():
        return zoneinfo.ZoneInfo(name)
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class QuietHours:
    """From ``start`` to ``end`` in a recipient's local time nothing is sent
    (over midnight when ``start`` is the later time)."""

    start: dt.time
    end: dt.time

    def quiet_at_local(self, local: dt.datetime) -> bool:
        t = local.time()
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def quiet(self, at: dt.datetime, zone: str) -> bool:
        return self.quiet_at_local(at.astimezone(zone_info(zone)))

    def _over(self, at: dt.datetime, zone: str) -> dt.datetime:
        """When the quiet hours ``at`` is in end, in ``zone``."""
        tz = zone_info(zone)
        local = at.astimezone(tz)
        end = dt.datetime.combine(local.date(), self.end, tzinfo=tz)
        if end <= local:
            end = dt.datetime.combine(local.date() + dt.timedelta(days=1), self.end, tzinfo=tz)
        return end.astimezone(dt.UTC)

    def next_open(self, at: dt.datetime, zones) -> dt.datetime | None:
        """The first moment at or after ``at`` outside the quiet hours in
        every one of ``zones`` (``at`` itself when it is); None when the
        zones are too far apart ever to be out of them together."""
        t = at
        # Each step moves to the end of a zone's quiet hours, which every
        # zone still quiet must reach first; two days see every such end.
        horizon = at + dt.timedelta(days=2)
        while t <= horizon:
            quiet = [zone for zone in zones if self.quiet(t, zone)]
            if not quiet:
                return t
            t = max(self._over(t, zone) for zone in quiet)
        return None

    def describe(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


def quiet_hours() -> QuietHours | None:
    """The site's quiet hours; None when switched off."""
    if not settings.QUIET_HOURS_ENABLED:
        return None
    try:
        start = dt.time.fromisoformat(settings.QUIET_HOURS_START)
        end = dt.time.fromisoformat(settings.QUIET_HOURS_END)
    except ValueError as error:
        raise ImproperlyConfigured(f"QUIET_HOURS_START/END are HH:MM times: {error}") from error
    if start == end:
        raise ImproperlyConfigured(
            "QUIET_HOURS_START and QUIET_HOURS_END are the same time; "
            "set QUIET_HOURS_ENABLED=false to have no quiet hours."
        )
    return QuietHours(start, end)


def quiet_hours_for(campaign) -> QuietHours | None:
    """The quiet hours a campaign keeps: the site's, unless an Admin lifted
    them for it."""
    if campaign.quiet_hours_lifted:
        return None
    return quiet_hours()


# Zones of recipients. A message (or contact) has one stored zone: the
# contact's own, or the first zone phonenumbers gives its number. A number
# may be in several zones (a mobile of +7 in all of Russia's and
# Kazakhstan's); quiet hours must be over in every one, so recipients are
# read in groups of (stored zone, country, own zone or not) and, where the
# group does not tell the zones, by the first digits of their numbers, and
# only where those do not either (the kind of number decides), one by one.


@dataclass(frozen=True)
class Hold:
    """Recipients (``rows``: a filter on the rows being read) in quiet hours,
    and when they are over for them."""

    rows: Q
    until: dt.datetime
    count: int | None


def _release(rule: QuietHours, at: dt.datetime, candidates) -> dt.datetime | None:
    """When quiet hours are over for a recipient whose zones are one of
    ``candidates``, if that is the same whichever they are."""
    found = {rule.next_open(at, zones) for zones in candidates}
    if len(found) == 1 and None not in found:
        return found.pop()
    return None


def _group_candidates(zone: str, country: str, own: bool):
    """The zone sets a recipient of a group may have; None when its zone is
    not one this server knows (each number is read instead)."""
    if own:
        return {(zone,)}
    if not zone:
        return {(settings.TIME_ZONE,)}
    if zone not in known_zones():
        return None
    # A zone that is not the first of any of the number's sets was set by
    # hand on the contact: it stands.
    return phones.zone_sets(country, zone) or {(zone,)}


def _prefix_candidates(zone: str, prefix: str):
    """The zone sets numbers starting with ``prefix`` (ZONE_PREFIX_DIGITS
    digits) may have, given the first one is ``zone``."""
    area, country = phones.prefix_time_zones(prefix)
    found = {zones for zones in (area, country) if zones and zones[0] == zone}
    return found or {(zone,)}


def number_zones(rule: QuietHours, at: dt.datetime, phone: str, zone: str) -> tuple[str, ...]:
    """The zones one number's quiet hours are read in: all phonenumbers
    gives it, unless they never leave quiet hours together (a Caribbean
    mobile is given every North American zone from Guam to Newfoundland);
    then those of its area code; then its stored zone."""
    zones = phones.time_zones(phone)
    if zone in known_zones() and zones and zones[0] != zone:
        return (zone,)  # set by hand on the contact
    for candidate in (zones, phones.area_time_zones(phone)):
        if candidate and rule.next_open(at, candidate) is not None:
            return candidate
    return (zone or settings.TIME_ZONE,)


def quiet_holds(
    rows, at: dt.datetime, rule: QuietHours, *, zone: str, own: str, groups=None
) -> list[Hold]:
    """The recipients of ``rows`` in quiet hours at ``at``, with when those
    end for them. ``zone`` and ``own`` name the fields (or annotations) with
    each row's stored zone and whether it is the contact's own; ``groups``
    are the rows' (zone, country, own) when already known, else they are
    read (with their counts)."""
    if groups is None:
        groups = list(
            rows.order_by()
            .values_list(zone, "country", own)
            .annotate(n=Count("pk"))
            .values_list(zone, "country", own, "n")
        )
    holds = []
    for stored, country, is_own, *n in groups:
        in_group = Q(**{zone: stored, "country": country, own: bool(is_own)})
        candidates = _group_candidates(stored, country, bool(is_own))
        until = _release(rule, at, candidates) if candidates is not None else None
        if until is not None:
            if until > at:
                holds.append(Hold(in_group, until, n[0] if n else None))
            continue
        holds += _holds_by_prefix(rows.filter(in_group), in_group, stored, rule, at)
    return holds


def _holds_by_prefix(rows, in_group: Q, zone: str, rule: QuietHours, at) -> list[Hold]:
    prefix = Substr("phone", 1, phones.ZONE_PREFIX_DIGITS + 1)
    by_until: dict[dt.datetime, list] = defaultdict(lambda: [[], 0])
    one_by_one = []
    for digits, n in rows.order_by().annotate(p=prefix).values_list("p").annotate(n=Count("pk")):
        until = None
        if zone in known_zones():
            until = _release(rule, at, _prefix_candidates(zone, digits))
        if until is None:
            one_by_one.append(digits)
        elif until > at:
            by_until[until][0].append(digits)
            by_until[until][1] += n
    holds = [
        Hold(in_group & Q(In(prefix, prefixes)), until, n)
        for until, (prefixes, n) in by_until.items()
    ]
    if one_by_one:
        ids: dict[dt.datetime, list[int]] = defaultdict(list)
        for pk, phone in (
            rows.filter(In(prefix, one_by_one)).values_list("pk", "phone").iterator(chunk_size=5000)
        ):
            until = rule.next_open(at, number_zones(rule, at, phone, zone))
            if until and until > at:
                ids[until].append(pk)
        holds += [Hold(Q(pk__in=pks), until, len(pks)) for until, pks in ids.items()]
    return holds


def any_of(holds: list[Hold]) -> Q:
    return reduce(or_, (h.rows for h in holds))


# --------------------------------------------------------------- frequency cap


@dataclass(frozen=True)
class FrequencyCap:
    """At most ``messages`` marketing messages per contact in ``days`` days."""

    messages: int
    days: int

    def describe(self) -> str:
        return f"{self.messages} in {self.days} day{'s' if self.days != 1 else ''}"


# What the cap counts: messages that reached a person or still may; not
# those that never went or were not delivered.
NOT_COUNTED = {
    Status.SKIPPED,
    Status.CANCELLED,
    Status.FAILED,
    Status.REJECTED,
    Status.UNDELIVERED,
    Status.EXPIRED,
}
CAPPED_STATUSES = tuple(s.value for s in Status if s not in NOT_COUNTED)


def frequency_cap() -> FrequencyCap | None:
    if not settings.FREQUENCY_CAP_ENABLED:
        return None
    if settings.FREQUENCY_CAP_MESSAGES < 1 or settings.FREQUENCY_CAP_DAYS < 1:
        raise ImproperlyConfigured("FREQUENCY_CAP_MESSAGES and FREQUENCY_CAP_DAYS are at least 1.")
    return FrequencyCap(settings.FREQUENCY_CAP_MESSAGES, settings.FREQUENCY_CAP_DAYS)


def capped_phones(cap: FrequencyCap, now: dt.datetime):
    """The numbers that already had ``cap.messages`` marketing messages in
    the last ``cap.days`` days (test sends and keyword replies are not
    marketing), as one grouped subquery over those days' messages."""
    return (
        Message.objects.filter(
            created_at__gte=now - dt.timedelta(days=cap.days),
            is_test=False,
            status__in=CAPPED_STATUSES,
            campaign__purpose=Campaign.Purpose.MARKETING,
        )
        .order_by()
        .values("phone")
        .annotate(n=Count("id"))
        .filter(n__gte=cap.messages)
        .values("phone")
    )


# ------------------------------------------------------- opt-out instruction


def opt_out_instruction() -> str | None:
    """The wording the composer offers to append; None when the check is off."""
    if not settings.OPT_OUT_CHECK:
        return None
    return settings.OPT_OUT_INSTRUCTION.strip() or None


def _opt_out_words() -> list[str]:
    words = [*settings.STOP_KEYWORDS, *getattr(settings, "STOP_KEYWORDS_LOCAL", [])]
    return sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)


def has_opt_out_instruction(text: str) -> bool:
    """Does the text tell the reader how to opt out? The site's wording, an
    opt-out keyword written in capitals ("STOP", "BAJA"), a keyword after
    "reply", "text" or "send", or "opt out" / "unsubscribe" in any case."""
    wording = opt_out_instruction() or settings.OPT_OUT_INSTRUCTION
    flat = " ".join(text.split()).casefold()
    if wording and " ".join(wording.split()).casefold() in flat:
        return True
    if re.search(r"\bopt[\s-]?out\b|\bunsubscribe\b", text, re.IGNORECASE):
        return True
    words = _opt_out_words()
    if not words:
        return False
    keyword = "|".join(re.escape(w) for w in words)
    if re.search(rf"(?<!\w)(?:{keyword})(?!\w)", text):
        return True
    return bool(
        re.search(
            rf"\b(?:reply|text|txt|send|sms)\s+[\"'“‘]?(?:{keyword})(?!\w)", text, re.IGNORECASE
        )
    )


def with_opt_out_instruction(text: str, wording: str) -> str:
    """The text with the instruction appended (as the composer's button
    does it: after a space, trailing spaces dropped)."""
    kept = text.rstrip()
    return f"{kept} {wording}" if kept else wording
