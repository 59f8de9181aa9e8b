"""Segments: contacts chosen by conditions, turned into one queryset.

A condition is a dict {"field", "op", "key", "value"}:

    country     in / not_in        value: "DE, FR"
    consent     is / is_not        value: opted in, unknown or opted out
    attribute   equals / not_equals / contains / is_set / is_not_set
                                   key: the attribute, value: the text
    created     before / after     value: YYYY-MM-DD (the site's time zone)
    list        in / not_in        value: list id

Conditions about things contacts do not know (what campaigns sent) are
registered by the app that knows them (``register``): contacts never
imports the apps above it.

``contacts(segment)`` is the queryset; ``contact_ids(segment)`` its ids, for
use as a subquery (a campaign audience: ``Contact.objects.filter(id__in=
contact_ids(segment))``, minus suppressions as for lists).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from .imports import attribute_key
from .models import Consent, Contact, ContactList, ListMembership, Segment

FIELDS = {
    "country": ("Country", {"in": "is one of", "not_in": "is not one of"}),
    "consent": ("Consent", {"is": "is", "is_not": "is not"}),
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
    "list": ("List", {"in": "is in", "not_in": "is not in"}),
}
NEEDS_VALUE = {"is_set": False, "is_not_set": False}


@dataclass(frozen=True)
class Condition:
    """A condition an app above contacts provides. ``clean`` turns what the
    user typed into the stored value (raising ValidationError), ``q`` is the
    filter on contacts for (op, value), ``describe`` names a stored value,
    and ``suggest`` gives values to offer while typing."""

    clean: Callable[[str], str]
    q: Callable[[str, str], Q]
    describe: Callable[[str], str]
    suggest: Callable[[], Iterable[str]]


REGISTERED: dict[str, Condition] = {}


def register(
    name: str, label: str, ops: dict[str, str], condition: Condition, *, before: str = ""
) -> None:
    """Add a condition field (placed before the field ``before`` in the
    choices, else last). Registering a name again replaces it."""
    items = [(k, v) for k, v in FIELDS.items() if k != name]
    at = next((i for i, (k, _) in enumerate(items) if k == before), len(items))
    items.insert(at, (name, (label, ops)))
    FIELDS.clear()
    FIELDS.update(items)
    REGISTERED[name] = condition


def pick(objects, value: str, what: str) -> str:
    """A campaign or list by id or by name, stored as its id."""
    found = objects.filter(pk=value).first() if value.isdigit() else None
    found = found or objects.filter(name__iexact=value).first()
    if found is None:
        raise ValidationError(f"There is no {what} called “{value}”.")
    return str(found.pk)


def value_suggestions() -> list[str]:
    """Names offered in the value box: lists, and what registered fields offer."""
    names = list(ContactList.objects.values_list("name", flat=True)[:200])
    names += [label.lower() for label in Consent.labels]
    for condition in REGISTERED.values():
        names += list(condition.suggest())
    return names


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
    elif name == "consent":
        value = clean_consent(value)
    elif name == "created":
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError as exc:
            raise ValidationError("Give the date as YYYY-MM-DD.") from exc
    elif name in REGISTERED:
        value = REGISTERED[name].clean(value)
    elif name == "list":
        value = pick(ContactList.objects.all(), value, "list")
    return {"field": name, "op": op, "key": key if name == "attribute" else "", "value": value}


def clean_consent(value: str) -> str:
    """A consent state as typed ("opted in", "Opted_in", "unknown") as its
    stored value."""
    typed = " ".join(value.replace("_", " ").replace("-", " ").split()).casefold()
    for state, label in Consent.choices:
        if typed in (label.casefold(), state.replace("_", " ")):
            return state
    names = ", ".join(label.lower() for label in Consent.labels)
    raise ValidationError(f"Consent is one of: {names}.")


def condition_q(condition: dict) -> Q:
    name, op = condition["field"], condition["op"]
    key, value = condition.get("key", ""), condition.get("value", "")
    if name == "country":
        q = Q(country__in=[c.strip() for c in value.split(",") if c.strip()])
        return q if op == "in" else ~q
    if name == "consent":
        q = Q(consent=value)
        return q if op == "is" else ~q
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
    if name in REGISTERED:
        return REGISTERED[name].q(op, value)
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
    elif condition["field"] in REGISTERED:
        value = REGISTERED[condition["field"]].describe(value)
    elif condition["field"] == "list":
        value = str(ContactList.objects.filter(pk=value).first() or f"#{value}")
    elif condition["field"] == "consent":
        value = dict(Consent.choices).get(value, value).lower()
    return f"{label} {op} {value}".strip()
