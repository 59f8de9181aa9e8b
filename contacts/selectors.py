"""Reads for the contact pages."""

from collections.abc import Callable

from django.db.models import Exists, OuterRef, Q, QuerySet

from smsportal.phones import InvalidNumber, default_country, normalise, search_prefix

from .models import Contact, Suppression


def contact_search(query: str, default_region: str = "") -> QuerySet[Contact]:
    """Contacts by number in any format (exact once normalised, else by the
    digits typed) or by name (every word must match a first or last name)."""
    query = query.strip()
    contacts = Contact.objects.annotate(
        suppressed=Exists(Suppression.objects.filter(phone=OuterRef("phone")))
    )
    if not query:
        return contacts.none()
    digits = "".join(ch for ch in query if ch.isdigit())
    if digits and len(digits) >= max(3, len(query.replace(" ", "")) // 2):
        # National numbers ("0176 10033621") are read in the site's country
        # unless the search names another.
        region = default_region or default_country()
        try:
            number = normalise(query, region)
            exact = contacts.filter(phone=number.e164)
            if exact.exists():
                return exact
        except InvalidNumber:
            pass
        prefix = search_prefix(query, region)
        if len(prefix) > 3 and contacts.filter(phone__startswith=prefix).exists():
            return contacts.filter(phone__startswith=prefix)
        national = digits.lstrip("0")
        return contacts.filter(phone__contains=national or digits)
    words = query.split()
    condition = Q()
    for word in words:
        condition &= Q(first_name__icontains=word) | Q(last_name__icontains=word)
    return contacts.filter(condition)


def import_preview(
    contact_import, *, mapping: dict, default_country: str, has_header: bool
) -> tuple[list, str]:
    """The import's first rows as they will be read with this mapping and
    country: ([RowPreview], "") or ([], why none can be read yet). The header
    switch moves the first row in or out of them."""
    from .imports import ImportFileError, preview_rows

    rows = [list(row) for row in contact_import.sample_rows]
    # At the mapping stage has_header is what the first look found.
    if contact_import.has_header and not has_header:
        rows = [list(contact_import.columns), *rows]
    elif has_header and not contact_import.has_header:
        rows = rows[1:]
    try:
        return preview_rows(rows, contact_import.columns, mapping, default_country), ""
    except ImportFileError as exc:
        return [], str(exc)


# The messages sent to a contact, newest first. The app that sends them
# provides it (``register_message_history``): contacts never imports it.
_message_history: list[Callable[[Contact], QuerySet]] = []


def register_message_history(history: Callable[[Contact], QuerySet]) -> None:
    _message_history[:] = [history]


def message_history(contact: Contact) -> QuerySet:
    return _message_history[0](contact) if _message_history else Contact.objects.none()
