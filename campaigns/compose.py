"""Composing: placeholders, DLT matching, and the checks a campaign must pass
before it may go out. Used by the composer page, launch, and the admin."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from contacts.models import Consent, Contact, ListMembership, Suppression
from providers import segments

from . import compliance, dlt, links
from .models import Approval, Campaign

PLACEHOLDER = re.compile(
    r"\{\{\s*(?P<name>[A-Za-z_][\w]*)\s*(?:\|\s*default\s*:\s*(?P<q>[\"'])(?P<default>.*?)(?P=q)\s*)?\}\}"
)
# DLT rules allow at most 30 characters per variable part.
DLT_VAR = dlt.VAR
DLT_VAR_MAX = dlt.VAR_MAX
STANDARD_FIELDS = ("first_name", "last_name", "name", "phone")
INDIA = "IN"


def placeholders(text: str) -> list[str]:
    return [m.group("name") for m in PLACEHOLDER.finditer(text)]


def render(text: str, contact: dict) -> str:
    """Fill ``{{ name }}`` and ``{{ name|default:"friend" }}`` from a contact
    (a dict with first_name, last_name, phone and attributes)."""
    attributes = contact.get("attributes") or {}

    def value(match: re.Match) -> str:
        name = match.group("name")
        if name == "name":
            found = f"{contact.get('first_name', '')} {contact.get('last_name', '')}".strip()
        elif name in STANDARD_FIELDS:
            found = contact.get(name) or ""
        else:
            found = attributes.get(name, "")
        found = "" if found is None else str(found)
        return found if found.strip() else (match.group("default") or "")

    return PLACEHOLDER.sub(value, text)


def render_for(campaign: Campaign, contact: dict) -> str:
    """The text one recipient gets: placeholders filled, then GSM-7
    look-alikes substituted when the campaign opted in."""
    text = render(campaign.text, contact)
    return segments.to_gsm7(text) if campaign.keep_gsm7 else text


def dlt_pattern(content: str) -> dlt.Template:
    """The template ready to test many texts (linear time: see campaigns.dlt)."""
    return dlt.Template(content)


def dlt_matches(content: str, text: str) -> bool:
    return dlt.matches(content, text)


def audience(campaign: Campaign):
    """Contacts in the campaign's lists or matching its segments, minus its
    excluded lists; each number once, however many lists or segments it is
    in (contacts are unique by number)."""
    from contacts.segments import contact_ids

    included = Q(
        id__in=ListMembership.objects.filter(contact_list__in=campaign.lists.all()).values(
            "contact_id"
        )
    )
    for segment in campaign.segments.all():
        included |= Q(id__in=contact_ids(segment))
    excluded = ListMembership.objects.filter(contact_list__in=campaign.exclude_lists.all()).values(
        "contact_id"
    )
    return Contact.objects.filter(included).exclude(id__in=excluded)


def sendable(contacts):
    return contacts.exclude(phone__in=Suppression.objects.values("phone"))


@dataclass
class Recipients:
    """The audience through the rules materialise applies, in its order:
    suppressed, then (when the campaign asks) without consent, then over the
    frequency cap. Each figure is the number of contacts that rule skips."""

    total: int
    suppressed: int
    no_consent: int | None  # None: the campaign sends whatever the consent
    over_cap: int | None  # None: no frequency cap
    cap: compliance.FrequencyCap | None
    to_send: QuerySet


def recipients(campaign, *, now: dt.datetime | None = None) -> Recipients:
    now = now or timezone.now()
    everyone = audience(campaign)
    total = everyone.count()
    to_send = sendable(everyone)
    suppressed = total - to_send.count()
    no_consent = over_cap = None
    if campaign.consent_required:
        no_consent = to_send.exclude(consent=Consent.OPTED_IN).count()
        to_send = to_send.filter(consent=Consent.OPTED_IN)
    cap = compliance.frequency_cap()
    if cap:
        capped = Q(phone__in=compliance.capped_phones(cap, now))
        over_cap = to_send.filter(capped).count()
        to_send = to_send.exclude(capped)
    return Recipients(total, suppressed, no_consent, over_cap, cap, to_send)


def with_zones(contacts):
    """Contacts with the zone their messages will keep (``recipient_zone``)
    and whether it is their own (``own_zone``), as materialise stores them:
    the "time_zone" attribute when it names a known zone, else the
    number's."""
    is_own = Q(_own_zone__in=sorted(compliance.known_zones()))
    # As text (compared as JSON, SQLite would read each zone name as JSON).
    own_zone = Cast(KT(f"attributes__{compliance.OWN_ZONE_ATTRIBUTE}"), CharField())
    return contacts.alias(_own_zone=own_zone).annotate(
        recipient_zone=Case(
            When(is_own, then=F("_own_zone")), default=F("time_zone"), output_field=CharField()
        ),
        own_zone=Case(When(is_own, then=Value(True)), default=Value(False)),
    )


@dataclass
class QuietSummary:
    """Recipients in quiet hours when the campaign would send (now, or its
    scheduled time), and when those end for them."""

    hours: str  # "21:00–08:00"
    at: dt.datetime
    scheduled: bool
    count: int
    first_release: dt.datetime | None
    last_release: dt.datetime | None


def quiet_summary(campaign, contacts, *, now: dt.datetime | None = None) -> QuietSummary | None:
    """None when quiet hours do not apply (off, or lifted for the campaign)."""
    rule = compliance.quiet_hours_for(campaign)
    if rule is None:
        return None
    now = now or timezone.now()
    scheduled = bool(campaign.scheduled_at and campaign.scheduled_at > now)
    at = campaign.scheduled_at if scheduled else now
    holds = compliance.quiet_holds(
        with_zones(contacts), at, rule, zone="recipient_zone", own="own_zone"
    )
    releases = [h.until for h in holds if h.count]
    return QuietSummary(
        hours=rule.describe(),
        at=at,
        scheduled=scheduled,
        count=sum(h.count or 0 for h in holds),
        first_release=min(releases, default=None),
        last_release=max(releases, default=None),
    )


@dataclass
class Check:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # (phone, reason) of recipients whose message breaks the DLT template.
    dlt_mismatches: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def sender_problems(campaign: Campaign) -> list[str]:
    sender, account = campaign.sender, campaign.account
    problems = []
    if sender.status != Approval.APPROVED:
        problems.append(f"The sender ID {sender} is not approved ({sender.get_status_display()}).")
    if (
        sender.pk
        and sender.accounts.exists()
        and not sender.accounts.filter(pk=account.pk).exists()
    ):
        problems.append(f"The sender ID {sender} is not registered with the account {account}.")
    problems.extend(account.backend_class(options=account.options).sender_errors(sender.value))
    return problems


def provider_schedule_problems(campaign) -> list[str]:
    """Why the schedule cannot be handed to the provider, if it is to be."""
    if not campaign.schedule_at_provider:
        return []
    problems = []
    account = campaign.account
    if account and not account.backend_class.capabilities.native_scheduling:
        problems.append(
            f"The provider of {account} cannot hold a schedule; let smsportal hold it instead."
        )
    if not campaign.scheduled_at:
        problems.append("Handing the schedule to the provider needs a send time.")
    if campaign.window_id and provider_window(campaign) is None:
        problems.append(
            "A delivery window is kept by smsportal as it sends; with the provider holding "
            "the schedule, choose one or the other. (A provider that keeps windows itself "
            "takes one in a fixed time zone that is not over midnight in UTC.)"
        )
    return problems


def provider_window(campaign):
    """The campaign's delivery window as its provider keeps it (a
    ``SendWindow`` in UTC), where the provider keeps windows and the window
    can be written so unchanged; else None."""
    from providers.base import SendWindow

    window, account = campaign.window, campaign.account
    if window is None or account is None or not campaign.scheduled_at:
        return None
    if not account.backend_class.capabilities.native_window:
        return None
    utc = window.in_utc(campaign.scheduled_at)
    return SendWindow(days=utc[0], start=utc[1], end=utc[2]) if utc else None


def provider_list_problems(campaign, *, has_own_audience: bool) -> list[str]:
    """Why the campaign cannot go to contact lists kept at the provider, if
    it is to."""
    if not campaign.provider_list_ids:
        return []
    problems = []
    account = campaign.account
    if account and not account.backend_class.capabilities.provider_side_lists:
        problems.append(f"{account} cannot send to contact lists kept at its provider.")
    if has_own_audience:
        problems.append(
            "Send either to smsportal's lists and segments or to the provider's lists, not both."
        )
    if placeholders(campaign.text or ""):
        problems.append(
            "The provider sends one text to its lists: placeholders cannot be filled in."
        )
    if campaign.window_id:
        problems.append("A delivery window cannot be kept for the provider's lists.")
    if getattr(campaign, "consent_required", False):
        problems.append(
            "Consent is recorded for smsportal's contacts only: “only contacts with recorded "
            "consent” cannot apply to the provider's lists."
        )
    bad = [i for i in campaign.provider_list_ids if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", i)]
    if bad:
        problems.append(f"{bad[0][:40]!r} is not a list id (letters and digits).")
    return problems


def text_length_problem(text: str) -> str | None:
    """Why a text is too long to send, if it is: the one rule the composer's
    preview, its save and launch apply."""
    if len(text) > segments.MAX_TEXT_CHARS:
        return (
            f"A message has at most {segments.MAX_TEXT_CHARS:,} characters; this one has "
            f"{len(text):,}."
        )
    return None


def check(
    campaign: Campaign, *, sample_limit: int = 50_000, preview: Preview | None = None
) -> Check:
    """Everything that would make the campaign fail or be refused. With the
    campaign's ``preview``, also what it says about cost (a text that goes
    as UCS-2)."""
    result = Check()
    if preview is not None and preview.ucs2:
        result.warnings.append(preview.ucs2.warning(preview.currency))
    if not campaign.account.enabled:
        result.errors.append(f"The provider account {campaign.account} is disabled.")
    result.errors.extend(sender_problems(campaign))
    if campaign.scheduled_at and campaign.scheduled_at < timezone.now() and campaign.is_editable:
        result.errors.append("The scheduled time is in the past.")
    result.errors.extend(provider_schedule_problems(campaign))
    too_long = text_length_problem(campaign.text)
    if too_long:
        result.errors.append(too_long)
    if not campaign.text.strip():
        result.errors.append("The message is empty.")
    elif opt_out_missing(campaign):
        result.warnings.append(
            "The message does not say how to opt out: add an instruction such as "
            f"“{compliance.opt_out_instruction()}”."
        )
    from . import abtest

    # An A/B test's variants, each checked as the text is.
    abtest.check(campaign, result)
    if campaign.provider_list_ids:
        # The recipients are the provider's: nothing here to check them by.
        own = campaign.pk is not None and (campaign.lists.exists() or campaign.segments.exists())
        result.errors.extend(provider_list_problems(campaign, has_own_audience=own))
        if campaign.track_links and not campaign.click_tracking and links.find_urls(campaign.text):
            result.warnings.append(
                "Links go to the provider's lists as written, not tracked: the provider sends "
                "one text to everyone, and a tracked link is each recipient's own."
            )
        if compliance.quiet_hours_for(campaign) or compliance.frequency_cap():
            result.warnings.append(
                "Quiet hours and the frequency cap are not applied to the provider's lists: "
                "their recipients are not known here."
            )
        return result
    if campaign.schedule_at_provider and campaign.scheduled_at:
        quiet = quiet_summary(campaign, recipients(campaign).to_send)
        if quiet and quiet.count:
            result.errors.append(
                f"{quiet.count} recipient(s) are in quiet hours ({quiet.hours} their time) at "
                "the send time, and a schedule handed to the provider is not held for them: "
                "choose another time, or let smsportal hold the schedule."
            )
    contacts = sendable(audience(campaign))
    indian = contacts.filter(country=INDIA)
    template = campaign.dlt_template
    if template is None:
        if indian.exists():
            result.warnings.append(
                "Some recipients are in India and no DLT template is chosen: they will be "
                "skipped (outside DLT)."
            )
    else:
        if template.status != Approval.APPROVED:
            result.errors.append(f"The DLT template {template} is not approved.")
        if template.header_id != campaign.sender_id:
            result.errors.append(
                f"The DLT template {template} is registered with the header "
                f"{template.header}, not {campaign.sender}."
            )
        fields = ("phone", "first_name", "last_name", "attributes")
        pattern = dlt_pattern(template.content)
        # Tracked links in messages to India: only in the template's variable parts.
        tracked = links.DltLinks(pattern) if links.uses_short_links(campaign) else None
        for row in indian.values(*fields).iterator(chunk_size=2000):
            text = render_for(campaign, row)
            if tracked:
                tracked.see(text)
            if not pattern.matches(text):
                result.dlt_mismatches.append(
                    (row["phone"], "the message does not match the registered template")
                )
                if len(result.dlt_mismatches) >= sample_limit:
                    break
        if tracked:
            errors, warnings = tracked.problems()
            result.errors.extend(errors)
            result.warnings.extend(warnings)
        if result.dlt_mismatches:
            result.errors.append(
                f"{len(result.dlt_mismatches)} message(s) to India do not match the DLT "
                f"template {template.template_id}."
            )
    abtest.check_dlt(campaign, result)
    return result


@dataclass
class Preview:
    encoding: str
    segments: int
    characters_remaining: int
    length: int
    gsm7_alternative: str | None
    gsm7_segments: int | None
    samples: list[tuple[str, str, int]]  # (phone, text, segments)
    audience: int
    suppressed: int
    estimated_cost: Decimal
    currency: str
    cost_by_country: list[tuple[str, int, Decimal]]  # (country, recipients, cost)
    # Skipped at launch by the campaign's consent option and the frequency
    # cap (None: the rule does not apply), and held by quiet hours.
    no_consent: int | None = None
    over_cap: int | None = None
    cap: compliance.FrequencyCap | None = None
    quiet: QuietSummary | None = None
    opt_out: OptOutOffer | None = None
    # (parts, recipients getting that many) over the rendered texts, fewest
    # parts first: every recipient counted, never a sample.
    parts: list[tuple[int, int]] = field(default_factory=list)
    ucs2: Ucs2Cost | None = None
    # URLs of the text that go as tracked short links (counted above with
    # the short link's length), and that length.
    tracked_links: int = 0
    short_link_length: int = 0
    # An A/B test's variants, test part and rest (``estimated_cost`` is then
    # theirs): campaigns.abtest.ABPreview.
    ab: object | None = None

    @property
    def links_note(self) -> str:
        """What the preview says about tracked links."""
        if not self.tracked_links:
            return ""
        n = self.tracked_links
        own = "a short link" if n == 1 else "short links"
        each = "" if n == 1 else " each"
        return (
            f"{n} tracked, as {own} of each recipient's own ({self.short_link_length} "
            f"characters{each}, as in the samples); link previews by chat apps are not "
            "counted as clicks."
        )

    @property
    def parts_range(self) -> str:
        """ "2", or "1–3" when recipients' texts differ; the text's own count
        before there is an audience."""
        if not self.parts:
            return str(self.segments)
        low, high = self.parts[0][0], self.parts[-1][0]
        return str(low) if low == high else f"{low}–{high}"


def _char_name(c: str) -> str:
    if c.isprintable() and not c.isspace():
        return f"“{c}”"
    return f"U+{ord(c):04X} ({unicodedata.name(c, 'control character').lower()})"


@dataclass
class Ucs2Cost:
    """Recipients whose text goes as UCS-2 (70 characters a part, not 160),
    the characters that make it so, and what those texts cost as they are
    and as GSM-7 (look-alikes replaced, the rest left out)."""

    recipients: int
    of: int  # recipients in all
    characters: list[str]  # outside GSM-7, in the order first met (at most 20)
    estimated_cost: Decimal
    gsm7_cost: Decimal

    @property
    def lookalikes(self) -> list[tuple[str, str]]:
        """(character, its GSM-7 look-alike) where the GSM-7 option has one."""
        found = [(c, segments.gsm7_lookalike(c)) for c in self.characters]
        return [(c, alike) for c, alike in found if alike is not None]

    @property
    def without_lookalike(self) -> list[str]:
        return [c for c in self.characters if segments.gsm7_lookalike(c) is None]

    def warning(self, currency: str) -> str:
        from smsportal.templatetags.ui import format_money

        who = (
            "Every message goes"
            if self.recipients == self.of
            else f"{self.recipients:,} of {self.of:,} messages go"
        )
        chars = ", ".join(_char_name(c) for c in self.characters)
        text = (
            f"{who} as UCS-2 (70 characters a part instead of 160) because of {chars}: "
            f"about {format_money(self.estimated_cost, currency)} instead of "
            f"{format_money(self.gsm7_cost, currency)} as GSM-7 "
            f"({format_money(self.estimated_cost - self.gsm7_cost, currency)} more)."
        )
        fixes = []
        if self.lookalikes:
            pairs = ", ".join(f"{_char_name(c)} → “{alike}”" for c, alike in self.lookalikes)
            fixes.append(f"tick “Replace special characters” ({pairs})")
        if self.without_lookalike:
            fixes.append("remove " + ", ".join(_char_name(c) for c in self.without_lookalike))
        if fixes:
            text += " To send GSM-7: " + " and ".join(fixes) + "."
        return text


@dataclass
class OptOutOffer:
    """The opt-out instruction the text lacks, and what appending it does."""

    wording: str  # as configured (a text kept in GSM-7 gets it converted, as the rest)
    segments: int  # parts of the text with it
    estimated_cost: Decimal


def opt_out_missing(campaign) -> bool:
    """A marketing text without an opt-out instruction, the check being on."""
    return bool(
        compliance.opt_out_instruction()
        and getattr(campaign, "purpose", Campaign.Purpose.MARKETING) == Campaign.Purpose.MARKETING
        and campaign.text.strip()
        and not compliance.has_opt_out_instruction(campaign.text)
    )


def preview(campaign: Campaign, *, samples: int = 3) -> Preview:
    """What the composer shows: encoding, parts, samples, audience, cost.
    Texts are counted as they go: tracked URLs as short links."""
    short = links.uses_short_links(campaign)
    template = campaign.dlt_template if short else None
    india_pattern = dlt_pattern(template.content) if template else None

    def sent(text: str, country: str = "") -> str:
        if not short:
            return text
        return links.sample_text(text, india_pattern if country == INDIA else None)

    written = segments.to_gsm7(campaign.text) if campaign.keep_gsm7 else campaign.text
    base_text = sent(written)
    info = segments.count(base_text)
    # Messages to India under a DLT template may keep the template's own links.
    india_info = segments.count(sent(written, INDIA)) if india_pattern else info
    alternative = segments.to_gsm7(campaign.text)
    alt_info = segments.count(sent(alternative)) if alternative != campaign.text else None
    account = campaign.account
    rates = {r.country: r.price for r in account.rates.all()}
    found = recipients(campaign)
    to_send = found.to_send
    # The instruction the composer offers to append, priced beside the text.
    wording = compliance.opt_out_instruction() if opt_out_missing(campaign) else None
    if wording and campaign.keep_gsm7:
        wording = segments.to_gsm7(wording)
    with_wording = {}  # country -> cost with the instruction
    fields = ("phone", "first_name", "last_name", "attributes", "country")
    sample_rows = [
        (row["phone"], text, segments.count(text).segments)
        for row in to_send.order_by("id").values(*fields)[:samples]
        for text in [sent(render_for(campaign, row), row["country"])]
    ]
    by_country: dict[str, list] = {}
    parts_count: Counter = Counter()
    # UCS-2 texts: [recipients, cost, cost as GSM-7], and their characters.
    ucs2 = [0, Decimal(0), Decimal(0)]
    ucs2_chars: dict[str, None] = {}
    if placeholders(campaign.text):
        # Personalised lengths differ: price each rendered message.
        for row in to_send.values(*fields).iterator(chunk_size=5000):
            text = sent(render_for(campaign, row), row["country"])
            counted = segments.count(text)
            parts = counted.segments
            parts_count[parts] += 1
            price = rates.get(row["country"], account.default_price)
            entry = by_country.setdefault(row["country"], [0, Decimal(0)])
            entry[0] += 1
            entry[1] += parts * price
            if counted.encoding == segments.UCS2:
                ucs2[0] += 1
                ucs2[1] += parts * price
                ucs2[2] += segments.count(segments.without_ucs2(text)).segments * price
                if len(ucs2_chars) < 20:
                    ucs2_chars.update(dict.fromkeys(segments.not_gsm7(text)))
            if wording:
                longer = compliance.with_opt_out_instruction(text, wording)
                with_wording[row["country"]] = (
                    with_wording.get(row["country"], Decimal(0))
                    + segments.count(longer).segments * price
                )
    else:
        longer_parts = (
            segments.count(compliance.with_opt_out_instruction(base_text, wording)).segments
            if wording
            else 0
        )
        gsm7_parts = segments.count(segments.without_ucs2(base_text)).segments
        for row in to_send.values("country").annotate(n=Count("id")):
            price = rates.get(row["country"], account.default_price)
            counted = india_info if row["country"] == INDIA else info
            by_country[row["country"]] = [row["n"], row["n"] * counted.segments * price]
            with_wording[row["country"]] = row["n"] * longer_parts * price
            parts_count[counted.segments] += row["n"]
            if counted.encoding == segments.UCS2:
                ucs2[0] += row["n"]
                ucs2[1] += row["n"] * counted.segments * price
                ucs2[2] += row["n"] * gsm7_parts * price
        if ucs2[0]:
            ucs2_chars.update(dict.fromkeys(segments.not_gsm7(base_text)[:20]))
    sendable_count = sum(n for n, _ in by_country.values())
    opt_out = None
    if wording:
        opt_out = OptOutOffer(
            wording=compliance.opt_out_instruction(),
            segments=segments.count(
                compliance.with_opt_out_instruction(base_text, wording)
            ).segments,
            estimated_cost=sum(with_wording.values(), Decimal(0)),
        )
    result = Preview(
        encoding=info.encoding,
        segments=info.segments,
        characters_remaining=info.characters_remaining,
        length=len(campaign.text),
        gsm7_alternative=alternative if alt_info and alt_info.encoding == segments.GSM7 else None,
        gsm7_segments=alt_info.segments if alt_info else None,
        samples=sample_rows,
        audience=sendable_count,
        suppressed=found.suppressed,
        estimated_cost=sum((c for _, c in by_country.values()), Decimal(0)),
        currency=account.currency,
        cost_by_country=sorted(
            ((country or "??", n, cost) for country, (n, cost) in by_country.items()),
            key=lambda item: -item[2],
        ),
        no_consent=found.no_consent,
        over_cap=found.over_cap,
        cap=found.cap,
        quiet=quiet_summary(campaign, to_send),
        opt_out=opt_out,
        parts=sorted(parts_count.items()),
        ucs2=Ucs2Cost(
            recipients=ucs2[0],
            of=sendable_count,
            characters=list(ucs2_chars)[:20],
            estimated_cost=ucs2[1],
            gsm7_cost=ucs2[2],
        )
        if ucs2[0]
        else None,
        tracked_links=links.tracked_count(written) if short else 0,
        short_link_length=links.short_length() if short else 0,
    )
    # An A/B test: each variant's parts and cost, the test part and the
    # rest, and what they cost together (campaigns.abtest).
    from . import abtest

    result.ab = abtest.preview(campaign, found, rates, account)
    if result.ab is not None:
        result.estimated_cost = result.ab.estimated_cost
    return result


class _Composed:
    """An unsaved campaign read through the lists chosen in the composer, so
    ``check`` and ``preview`` see it exactly as they will see it once saved:
    a list's many-to-many manager only exists for a saved row."""

    def __init__(self, campaign: Campaign, lists, exclude_lists, segments=()):
        from contacts.models import ContactList, Segment

        self._campaign = campaign
        self.lists = ContactList.objects.filter(pk__in=[c.pk for c in lists])
        self.exclude_lists = ContactList.objects.filter(pk__in=[c.pk for c in exclude_lists])
        self.segments = Segment.objects.filter(pk__in=[c.pk for c in segments])

    def __getattr__(self, name):
        return getattr(self._campaign, name)


def preview_draft(
    campaign: Campaign, *, lists, exclude_lists, segments=(), samples: int = 3
) -> Preview:
    """``preview`` for what the composer form holds now, saved or not."""
    return preview(_Composed(campaign, lists, exclude_lists, segments), samples=samples)


def check_draft(
    campaign: Campaign, *, lists, exclude_lists, segments=(), preview: Preview | None = None
) -> Check:
    """``check`` for what the composer form holds now, saved or not."""
    return check(_Composed(campaign, lists, exclude_lists, segments), preview=preview)
