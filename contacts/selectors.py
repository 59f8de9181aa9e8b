"""Reads for the contact pages."""

from collections.abc import Callable

from django.db.models import Exists, OuterRef, Q, QuerySet

from smsportal.phones import InvalidNumber, normalise

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
        try:
            number = normalise(query, default_region)
            exact = contacts.filter(phone=number.e164)
            if exact.exists():
                return exact
        except InvalidNumber:
            pass
        national = digits.lstrip("0")
        return contacts.filter(phone__contains=national or digits)
    words = query.split()
    condition = Q()
    for word in words:
        condition &= Q(first_name__icontains=word) | Q(last_name__icontains=word)
    return contacts.filter(condition)


# The messages sent to a contact, newest first. The app that sends them
# provides it (``register_message_history``): contacts never imports it.
_message_history: list[Callable[[Contact], QuerySet]] = []


def register_message_history(history: Callable[[Contact], QuerySet]) -> None:
    _message_history[:] = [history]


def message_history(contact: Contact) -> QuerySet:
    return _message_history[0](contact) if _message_history else Contact.objects.none()
