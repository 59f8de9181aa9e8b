"""The three roles and the few helpers every permission check goes through.

Roles are Django groups (created by a migration):
- Admin: everything, including provider accounts and approvals.
- Campaign manager: contacts, lists, campaigns, test and live sends.
- Analyst: reads everything, holds API tokens; cannot change or send anything.
Every role may export what it reads as CSV, on the pages and through the API.
Superusers count as Admin.
"""

from django.core.exceptions import PermissionDenied

ADMIN = "Admin"
MANAGER = "Campaign manager"
ANALYST = "Analyst"
ROLES = (ADMIN, MANAGER, ANALYST)


def role_of(user) -> str | None:
    if not user or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return ADMIN
    # Cached on the user object: templates ask several times per page.
    if not hasattr(user, "_smsportal_role"):
        names = set(user.groups.values_list("name", flat=True))
        user._smsportal_role = next((r for r in ROLES if r in names), None)
    return user._smsportal_role


def can_view(user) -> bool:
    return role_of(user) is not None


def can_send(user) -> bool:
    """Manage contacts and campaigns, and send."""
    return role_of(user) in (ADMIN, MANAGER)


def can_administer(user) -> bool:
    """Provider accounts, sender and template approval, roles."""
    return role_of(user) == ADMIN


def can_export(user) -> bool:
    """Hold API tokens (a Campaign manager reads the API through the browser)."""
    return role_of(user) in (ADMIN, ANALYST)


def can_export_csv(user) -> bool:
    """Download as CSV what they can read (lists, segments, suppressions):
    every role, on the pages as through the API, which every role reads."""
    return can_view(user)


def require(check, user) -> None:
    if not check(user):
        raise PermissionDenied("Your role does not allow this.")
