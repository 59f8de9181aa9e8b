"""The people who sign in: invited by an Admin, given one role each, without
the Django admin and without email.

An invitation creates the user with no password and gives the Admin a
one-time link to pass on; opening it, the person sets a password and is
signed in. The link works once (setting the password changes what it was
made from) and for PASSWORD_RESET_TIMEOUT (three days by default). A new
link for someone who forgot their password is made the same way; it also
ends the old password, so only the link's holder can set one.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from . import audit, roles

NO_ROLE = ""


def role_choices() -> list[tuple[str, str]]:
    return [
        (roles.ADMIN, "Admin: everything, provider accounts and approvals too"),
        (roles.MANAGER, "Campaign manager: contacts, lists, campaigns and sending"),
        (roles.ANALYST, "Analyst: reads everything, changes and sends nothing"),
        (NO_ROLE, "No role: cannot use smsportal"),
    ]


def link_days() -> int:
    return max(1, round(settings.PASSWORD_RESET_TIMEOUT / 86400))


def sign_in_link(user) -> str:
    """The path of a one-time link on which ``user`` sets a password."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("welcome", args=[uid, default_token_generator.make_token(user)])


def invite(*, username: str, email: str, first_name: str, last_name: str, role: str, by):
    """Create the user with ``role`` and no password; returns the user and
    the path of the link on which they set one."""
    User = get_user_model()
    username = username.strip()
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"There is already a user called “{username}”."})
    with transaction.atomic():
        user = User(
            username=username,
            email=email.strip(),
            first_name=first_name.strip(),
            last_name=last_name.strip(),
        )
        user.set_unusable_password()
        user.save()
        audit.record("user.invite", actor=by, obj=user, role=role or "none")
        _give_role(user, role)
    return user, sign_in_link(user)


def new_sign_in_link(*, user, by) -> str:
    """A fresh one-time link for ``user`` (who forgot the password, or lost
    the invitation): the old password and earlier links stop working."""
    if user.pk == by.pk:
        raise ValidationError("Change your own password with “Change password”, not a link.")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    audit.record("user.sign_in_link", actor=by, obj=user)
    return sign_in_link(user)


def set_role(*, user, role: str, by) -> None:
    """Give ``user`` exactly one role (or none, which shuts them out)."""
    if role not in dict(role_choices()):
        raise ValidationError("Choose one of the roles.")
    if user.pk == by.pk and role != roles.role_of(user):
        raise ValidationError("You cannot change your own role; ask another Admin.")
    if roles.role_of(user) == roles.ADMIN and role != roles.ADMIN and not _other_admins(user):
        raise ValidationError(
            f"{user.get_username()} is the only Admin; make someone else an Admin first."
        )
    with transaction.atomic():
        _give_role(user, role)


def _other_admins(user) -> bool:
    User = get_user_model()
    others = User.objects.filter(is_active=True).exclude(pk=user.pk)
    return (
        others.filter(is_superuser=True).exists()
        or others.filter(groups__name=roles.ADMIN).exists()
    )


def _give_role(user, role: str) -> None:
    # Admins also work in the Django admin, with every permission there;
    # nobody else gets in (a superuser would count as an Admin whatever
    # the group).
    admin = role == roles.ADMIN
    if (user.is_staff, user.is_superuser) != (admin, admin):
        user.is_staff = user.is_superuser = admin
        user.save(update_fields=["is_staff", "is_superuser"])
    wanted = [Group.objects.get_or_create(name=role)[0]] if role else []
    current = set(user.groups.filter(name__in=roles.ROLES))
    if current != set(wanted):
        # The role signals write the change to the audit log.
        user.groups.remove(*current)
        user.groups.add(*wanted)
    user.__dict__.pop("_smsportal_role", None)


def people():
    """Everyone who may sign in, with their groups, by name."""
    return get_user_model().objects.prefetch_related("groups").order_by("username")


def state_of(user) -> str:
    """Invited (no password yet), Active or Deactivated, as the page says."""
    if not user.is_active:
        return "Deactivated"
    if not user.has_usable_password():
        return "Invited" if user.last_login is None else "Waiting for a new password"
    return "Active"
