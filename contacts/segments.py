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
from dataclasses import dataclass, field
from datetime import datetime, time
from time import monotonic

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
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
    # (stored value, label) pairs to pick the value from, when the values
    # are a known set (the builder then shows a choice, not a text box).
    choices: Callable[[], Iterable[tuple[str, str]]] | None = None


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


# ------------------------------------------------------------------ builder
#
# What the segment builder on the pages needs: the input each field takes,
# the attribute names the contacts have, and how many contacts conditions
# that are still being typed pick.

# How many attribute names the builder offers, and contacts it shows.
MAX_ATTRIBUTE_NAMES = 200
SAMPLE_SIZE = 5


@dataclass(frozen=True)
class ValueInput:
    """The input a condition's value is typed or picked in.

    kind: "none" (the test needs no value), "text", "date", "choice" (one
    of ``choices``) or "countries" (two-letter codes, comma-separated).
    ``suggestions`` are offered while typing a text."""

    kind: str
    choices: tuple[tuple[str, str], ...] = ()
    suggestions: tuple[str, ...] = ()
    placeholder: str = ""


def ops_for(name: str) -> list[tuple[str, str]]:
    """The tests that apply to a field, in order ([] for an unknown one)."""
    return list(FIELDS.get(name, ("", {}))[1].items())


def needs_value(op: str) -> bool:
    return NEEDS_VALUE.get(op, True)


def value_input(name: str, op: str = "") -> ValueInput:
    """How the value of a condition about ``name`` is entered."""
    if name not in FIELDS or (op and not needs_value(op)):
        return ValueInput("none")
    if name == "country":
        return ValueInput("countries", placeholder="DE, FR")
    if name == "consent":
        return ValueInput(
            "choice", choices=tuple((state, label.lower()) for state, label in Consent.choices)
        )
    if name == "created":
        return ValueInput("date", placeholder="YYYY-MM-DD")
    if name == "list":
        lists = ContactList.objects.order_by("name").values_list("pk", "name")[:500]
        return ValueInput("choice", choices=tuple((str(pk), str(n)) for pk, n in lists))
    if name in REGISTERED:
        condition = REGISTERED[name]
        if condition.choices is not None:
            return ValueInput("choice", choices=tuple(condition.choices()))
        return ValueInput("text", suggestions=tuple(condition.suggest()))
    return ValueInput("text")


def value_label(name: str, value: str) -> str:
    """How a stored value of a list or registered field reads (its name),
    or "" when it is not a valid one."""
    try:
        if name == "list":
            found = ContactList.objects.filter(pk=pick(ContactList.objects.all(), value, "list"))
            return str(found.first() or "")
        if name in REGISTERED:
            return REGISTERED[name].describe(REGISTERED[name].clean(value))
    except ValidationError:
        return ""
    return ""


def attribute_names() -> list[str]:
    """The attribute names contacts have (imported columns), by name. Read
    with one pass over the contacts and kept (in this process, for a few
    minutes) until a contact or an import is added or a contact's
    attributes are edited, so the builder does not scan the contacts on
    every change."""
    from .models import ContactImport

    newest_contact = Contact.objects.order_by("-pk").values_list("pk", flat=True).first()
    newest_import = (
        ContactImport.objects.filter(state=ContactImport.State.COMPLETED)
        .order_by("-finished_at")
        .values_list("pk", "finished_at")
        .first()
    )
    key = (
        newest_contact,
        newest_import,
        # Edits on the contact page, in any process (the shared cache).
        cache.get(ATTRIBUTE_NAMES_VERSION, 0),
    )
    now = monotonic()
    kept = _attribute_names.get("kept")
    if kept and kept[0] == key and now - kept[1] < ATTRIBUTE_NAMES_KEPT:
        return list(kept[2])
    names = _read_attribute_names()
    _attribute_names["kept"] = (key, now, tuple(names))
    return names


ATTRIBUTE_NAMES_KEPT = 300  # seconds
_attribute_names: dict[str, tuple] = {}


# Bumped when contacts change their attributes outside an import (the
# contact page): attribute_names reads them again.
ATTRIBUTE_NAMES_VERSION = "segments:attribute-names:version"


def attribute_names_changed() -> None:
    try:
        cache.incr(ATTRIBUTE_NAMES_VERSION)
    except ValueError:
        cache.set(ATTRIBUTE_NAMES_VERSION, 1, None)


def _read_attribute_names() -> list[str]:
    # The table name is the model's own; the limit is a parameter.
    table = Contact._meta.db_table
    if connection.vendor == "postgresql":
        sql = f"SELECT DISTINCT jsonb_object_keys(attributes) AS k FROM {table} ORDER BY k"  # noqa: S608
    else:
        sql = f"SELECT DISTINCT j.key FROM {table}, json_each({table}.attributes) j ORDER BY 1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} LIMIT %s", [MAX_ATTRIBUTE_NAMES])
        return [row[0] for row in cursor.fetchall()]


@dataclass
class Evaluation:
    """What conditions being built pick right now: the number of contacts
    (None while no condition is complete), a few of them, and the problems
    of the conditions left out, as (position from 1, message)."""

    count: int | None
    sample: list[Contact]
    problems: list[tuple[int, str]]
    counted: int
    # Positions of conditions still waiting for their value (not wrong yet).
    incomplete: list[int] = field(default_factory=list)


def evaluate(match: str, rows: list[dict]) -> Evaluation:
    """Count the contacts the complete conditions among ``rows`` pick (rows
    without a field are ignored; incomplete or wrong ones are reported)."""
    conditions, problems, incomplete = [], [], []
    for position, row in enumerate(rows, 1):
        if not row.get("field"):
            continue
        if (
            row["field"] in FIELDS
            and needs_value(row.get("op", ""))
            and not (row.get("value") or "").strip()
        ):
            incomplete.append(position)
            continue
        try:
            conditions.append(clean_condition(row))
        except ValidationError as exc:
            problems.append((position, " ".join(exc.messages)))
    if not conditions:
        return Evaluation(None, [], problems, 0, incomplete)
    match = match if match in Segment.Match.values else Segment.Match.ALL
    picked = contacts(Segment(match=match, conditions=conditions))
    return Evaluation(
        count=picked.count(),
        sample=list(picked.order_by("-id")[:SAMPLE_SIZE]),
        problems=problems,
        counted=len(conditions),
        incomplete=incomplete,
    )
