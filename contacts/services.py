"""Writes for contacts, lists and suppressions."""

from dataclasses import dataclass, field

from django.db import transaction

from smsportal import audit

from .models import Contact, ContactList, ListMembership, Suppression
from .phones import InvalidNumber, normalise


@dataclass
class AddResult:
    added: int = 0
    updated: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row, value, reason)


def contact_upsert(
    *,
    phone: str,
    default_region: str = "",
    first_name: str = "",
    last_name: str = "",
    attributes: dict | None = None,
) -> tuple[Contact, bool]:
    """Create the contact for this number, or update the one that exists
    (non-empty values win; attributes are merged)."""
    number = normalise(phone, default_region)
    contact, created = Contact.objects.get_or_create(
        phone=number.e164,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "attributes": attributes or {},
            "country": number.country,
            "time_zone": number.time_zone,
        },
    )
    if not created:
        changed = False
        for name, value in (("first_name", first_name), ("last_name", last_name)):
            if value and getattr(contact, name) != value:
                setattr(contact, name, value)
                changed = True
        if attributes:
            merged = {**contact.attributes, **attributes}
            if merged != contact.attributes:
                contact.attributes = merged
                changed = True
        if changed:
            contact.save()
    return contact, created


@transaction.atomic
def list_add_contacts(
    *, contact_list: ContactList, rows: list[dict], default_region: str = ""
) -> AddResult:
    """Add contacts given as dicts (phone, first_name, last_name, attributes)
    to a list. Invalid numbers are reported per row, the rest are kept."""
    result = AddResult()
    for index, row in enumerate(rows, start=1):
        raw = str(row.get("phone", ""))
        try:
            contact, created = contact_upsert(
                phone=raw,
                default_region=default_region,
                first_name=row.get("first_name", ""),
                last_name=row.get("last_name", ""),
                attributes=row.get("attributes"),
            )
        except InvalidNumber as exc:
            result.errors.append((index, raw, str(exc)))
            continue
        _, joined = ListMembership.objects.get_or_create(contact_list=contact_list, contact=contact)
        if created or joined:
            result.added += 1
        else:
            result.updated += 1
    return result


def parse_pasted_numbers(text: str) -> list[dict]:
    """One contact per line: "number[, first name[, last name]]"."""
    rows = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.replace(";", ",").replace("\t", ",").split(",")]
        if not parts or not parts[0]:
            continue
        rows.append(
            {
                "phone": parts[0],
                "first_name": parts[1] if len(parts) > 1 else "",
                "last_name": parts[2] if len(parts) > 2 else "",
            }
        )
    return rows


def list_create(*, name: str, description: str = "", user=None) -> ContactList:
    contact_list = ContactList.objects.create(name=name, description=description, created_by=user)
    audit.record("list.create", actor=user, obj=contact_list)
    return contact_list


def suppression_add(
    *,
    phone: str,
    reason: str = Suppression.Reason.MANUAL,
    note: str = "",
    user=None,
    default_region: str = "",
) -> Suppression:
    number = normalise(phone, default_region)
    suppression, created = Suppression.objects.get_or_create(
        phone=number.e164, defaults={"reason": reason, "note": note[:255], "created_by": user}
    )
    if created:
        audit.record("suppression.add", actor=user, obj=suppression, reason=reason)
    return suppression


def suppression_remove(*, suppression: Suppression, user) -> None:
    audit.record("suppression.remove", actor=user, obj=suppression, reason=suppression.reason)
    suppression.delete()
