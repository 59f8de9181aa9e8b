"""Segments: contacts chosen by conditions, turned into one queryset.

A condition is a dict {"field", "op", "key", "value"}:

    country     in / not_in        value: "DE, FR"
    attribute   equals / not_equals / contains / is_set / is_not_set
                                   key: the attribute, value: the text
    created     before / after     value: YYYY-MM-DD (the site's time zone)
    campaign    received / not_received
                                   value: campaign id; "received" means a
                                   message to the contact was submitted
    list        in / not_in        value: list id

``contacts(segment)`` is the queryset; ``contact_ids(segment)`` its ids, for
use as a subquery (a campaign audience: ``Contact.objects.filter(id__in=
contact_ids(segment))``, minus suppressions as for lists).
"""

from __future__ import annotations

from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from providers.status import SUBMITTED

from .imports import attribute_key
from .models import Contact, ContactList, ListMembership, Segment

FIELDS = {
    "country": ("Country", {"in": "is one of", "not_in": "is not one of"}),
    "attribute": (
        "Attribute",
        {
            "equals": "equals",
            "not_equals": "does not equal",
            "contains": "contains",
            "is_set": "is set",
            "is_not_set": "is not set",
        },
    ),
    "created": ("Added", {"before": "before", "after": "on or after"}),
    "campaign": (
        "Campaign",
        {"received": "was sent a message from", "not_received": "was not sent a message from"},
    ),
    "list": ("List", {"in": "is in", "not_in": "is not in"}),
}
NEEDS_VALUE = {"is_set": False, "is_not_set": False}


def field_choices():
    return [(name, label) for name, (label, _) in FIELDS.items()]


def op_choices():
    seen: dict[str, str] = {}
    for _, ops in FIELDS.values():
        for op, label in ops.items():
            seen.setdefault(op, label)
    return list(seen.items())


def clean_condition(condition: dict) -> dict:
    """The condition with its value checked and normalised; ValidationError
    with a message for the user otherwise."""
    name = condition.get("field", "")
    op = condition.get("op", "")
    # Keys as imports write them, and never with "__" (a path to Django).
    key = attribute_key(condition.get("key") or "")
    value = (condition.get("value") or "").strip()
    if name not in FIELDS:
        raise ValidationError("Choose what the condition is about.")
    label, ops = FIELDS[name]
    if op not in ops:
        raise ValidationError(f"“{op}” does not apply to {label.lower()}.")
    if name == "attribute" and not key:
        raise ValidationError("Name the attribute (e.g. city).")
    if NEEDS_VALUE.get(op, True) and not value:
        raise ValidationError(f"{label} {ops[op]} what? Give a value.")
    if name == "country":
        codes = [c.strip().upper() for c in value.replace(";", ",").split(",") if c.strip()]
        bad = [c for c in codes if len(c) != 2 or not c.isalpha()]
        if bad:
            raise ValidationError(f"Countries are two-letter codes (DE, FR); not {', '.join(bad)}.")
        value = ", ".join(codes)
    elif name == "created":
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError as exc:
            raise ValidationError("Give the date as YYYY-MM-DD.") from exc
    elif name == "campaign":
        from campaigns.models import Campaign

        value = _pick(Campaign.objects.all(), value, "campaign")
    elif name == "list":
        value = _pick(ContactList.objects.all(), value, "list")
    return {"field": name, "op": op, "key": key if name == "attribute" else "", "value": value}


def _pick(objects, value: str, what: str) -> str:
    """A campaign or list by id or by name, stored as its id."""
    found = objects.filter(pk=value).first() if value.isdigit() else None
    found = found or objects.filter(name__iexact=value).first()
    if found is None:
        raise ValidationError(f"There is no {what} called “{value}”.")
    return str(found.pk)


def condition_q(condition: dict) -> Q:
    name, op = condition["field"], condition["op"]
    key, value = condition.get("key", ""), condition.get("value", "")
    if name == "country":
        q = Q(country__in=[c.strip() for c in value.split(",") if c.strip()])
        return q if op == "in" else ~q
    if name == "attribute":
        path = f"attributes__{key}"
        if op in ("is_set", "is_not_set"):
            q = Q(**{"attributes__has_key": key})
            return q if op == "is_set" else ~q
        if op == "contains":
            # Attribute values are stored as text, so this is a text search.
            return Q(**{f"{path}__icontains": value})
        q = Q(**{path: value})
        return q if op == "equals" else ~Q(**{"attributes__has_key": key}) | ~q
    if name == "created":
        day = datetime.strptime(value, "%Y-%m-%d").date()
        moment = timezone.make_aware(datetime.combine(day, time.min))
        return Q(created_at__lt=moment) if op == "before" else Q(created_at__gte=moment)
    if name == "campaign":
        from campaigns.models import Message

        sent = Message.objects.filter(
            contact_id=OuterRef("pk"),
            campaign_id=int(value),
            is_test=False,
            status__in=sorted(SUBMITTED),
        )
        return Q(Exists(sent)) if op == "received" else ~Q(Exists(sent))
    if name == "list":
        member = ListMembership.objects.filter(
            contact_id=OuterRef("pk"), contact_list_id=int(value)
        )
        return Q(Exists(member)) if op == "in" else ~Q(Exists(member))
    raise ValueError(f"unknown segment field {name!r}")


def contacts(segment: Segment) -> QuerySet[Contact]:
    """Every contact the segment's conditions pick (all of them, or any)."""
    conditions = [condition_q(c) for c in segment.conditions]
    if not conditions:
        return Contact.objects.none()
    combined = conditions[0]
    for q in conditions[1:]:
        combined = combined & q if segment.match == Segment.Match.ALL else combined | q
    return Contact.objects.filter(combined)


def contact_ids(segment: Segment) -> QuerySet:
    """The segment's contact ids, to use as a subquery."""
    return contacts(segment).values("id")


def describe(condition: dict) -> str:
    label, ops = FIELDS.get(condition["field"], (condition["field"], {}))
    op = ops.get(condition["op"], condition["op"])
    value = condition.get("value", "")
    if condition["field"] == "attribute":
        label = f"Attribute “{condition.get('key')}”"
    elif condition["field"] == "campaign":
        from campaigns.models import Campaign

        value = str(Campaign.objects.filter(pk=value).first() or f"#{value}")
    elif condition["field"] == "list":
        value = str(ContactList.objects.filter(pk=value).first() or f"#{value}")
    return f"{label} {op} {value}".strip()
