"""Composing: placeholders, DLT matching, and the checks a campaign must pass
before it may go out. Used by the composer page, launch, and the admin."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q
from django.utils import timezone

from contacts.models import Contact, ListMembership, Suppression
from providers import segments

from .models import Approval, Campaign

PLACEHOLDER = re.compile(
    r"\{\{\s*(?P<name>[A-Za-z_][\w]*)\s*(?:\|\s*default\s*:\s*(?P<q>[\"'])(?P<default>.*?)(?P=q)\s*)?\}\}"
)
# DLT rules allow at most 30 characters per variable part.
DLT_VAR = "{#var#}"
DLT_VAR_MAX = 30
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


def dlt_pattern(content: str) -> re.Pattern:
    literal = [re.escape(part) for part in content.split(DLT_VAR)]
    return re.compile(f"[\\s\\S]{{0,{DLT_VAR_MAX}}}".join(literal))


def dlt_matches(content: str, text: str) -> bool:
    return dlt_pattern(content).fullmatch(text) is not None


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
    if campaign.window_id:
        problems.append(
            "A delivery window is kept by smsportal as it sends; with the provider holding "
            "the schedule, choose one or the other."
        )
    return problems


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
    bad = [i for i in campaign.provider_list_ids if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", i)]
    if bad:
        problems.append(f"{bad[0][:40]!r} is not a list id (letters and digits).")
    return problems


def check(campaign: Campaign, *, sample_limit: int = 50_000) -> Check:
    """Everything that would make the campaign fail or be refused."""
    result = Check()
    if not campaign.account.enabled:
        result.errors.append(f"The provider account {campaign.account} is disabled.")
    result.errors.extend(sender_problems(campaign))
    if campaign.scheduled_at and campaign.scheduled_at < timezone.now() and campaign.is_editable:
        result.errors.append("The scheduled time is in the past.")
    result.errors.extend(provider_schedule_problems(campaign))
    if not campaign.text.strip():
        result.errors.append("The message is empty.")
    if campaign.provider_list_ids:
        # The recipients are the provider's: nothing here to check them by.
        own = campaign.pk is not None and (campaign.lists.exists() or campaign.segments.exists())
        result.errors.extend(provider_list_problems(campaign, has_own_audience=own))
        return result
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
        for row in indian.values(*fields).iterator(chunk_size=2000):
            text = render_for(campaign, row)
            if pattern.fullmatch(text) is None:
                result.dlt_mismatches.append(
                    (row["phone"], "the message does not match the registered template")
                )
                if len(result.dlt_mismatches) >= sample_limit:
                    break
        if result.dlt_mismatches:
            result.errors.append(
                f"{len(result.dlt_mismatches)} message(s) to India do not match the DLT "
                f"template {template.template_id}."
            )
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


def preview(campaign: Campaign, *, samples: int = 3) -> Preview:
    """What the composer shows: encoding, parts, samples, audience, cost."""
    base_text = segments.to_gsm7(campaign.text) if campaign.keep_gsm7 else campaign.text
    info = segments.count(base_text)
    alternative = segments.to_gsm7(campaign.text)
    alt_info = segments.count(alternative) if alternative != campaign.text else None
    account = campaign.account
    rates = {r.country: r.price for r in account.rates.all()}
    everyone = audience(campaign)
    to_send = sendable(everyone)
    total = everyone.count()
    fields = ("phone", "first_name", "last_name", "attributes", "country")
    sample_rows = [
        (row["phone"], text, segments.count(text).segments)
        for row in to_send.order_by("id").values(*fields)[:samples]
        for text in [render_for(campaign, row)]
    ]
    by_country: dict[str, list] = {}
    if placeholders(campaign.text):
        # Personalised lengths differ: price each rendered message.
        for row in to_send.values(*fields).iterator(chunk_size=5000):
            parts = segments.count(render_for(campaign, row)).segments
            entry = by_country.setdefault(row["country"], [0, Decimal(0)])
            entry[0] += 1
            entry[1] += parts * rates.get(row["country"], account.default_price)
    else:
        for row in to_send.values("country").annotate(n=Count("id")):
            price = rates.get(row["country"], account.default_price)
            by_country[row["country"]] = [row["n"], row["n"] * info.segments * price]
    sendable_count = sum(n for n, _ in by_country.values())
    return Preview(
        encoding=info.encoding,
        segments=info.segments,
        characters_remaining=info.characters_remaining,
        length=len(campaign.text),
        gsm7_alternative=alternative if alt_info and alt_info.encoding == segments.GSM7 else None,
        gsm7_segments=alt_info.segments if alt_info else None,
        samples=sample_rows,
        audience=sendable_count,
        suppressed=total - sendable_count,
        estimated_cost=sum((c for _, c in by_country.values()), Decimal(0)),
        currency=account.currency,
        cost_by_country=sorted(
            ((country or "??", n, cost) for country, (n, cost) in by_country.items()),
            key=lambda item: -item[2],
        ),
    )


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


def check_draft(campaign: Campaign, *, lists, exclude_lists, segments=()) -> Check:
    """``check`` for what the composer form holds now, saved or not."""
    return check(_Composed(campaign, lists, exclude_lists, segments))
