"""Personal API tokens: creating, revoking and checking them.

A token is ``smsp_`` followed by 40 random URL-safe characters. Only its
SHA-256 is stored; the token itself exists once, in the response that
creates it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from . import audit, roles
from .models import APIToken

TOKEN_PREFIX = "smsp_"
# How stale last_used_at may get: writing it on every request would turn each
# read into a write.
LAST_USED_PRECISION = dt.timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(*, user, name: str, can_record_conversions: bool = False) -> tuple[APIToken, str]:
    """A new token for ``user``; returns it with the raw token, which is not
    kept anywhere. Only an Admin gives a token the one write the API has,
    recording conversions (``can_record_conversions``)."""
    if not roles.can_export(user):
        raise PermissionDenied("Only Admins and Analysts may create API tokens.")
    if can_record_conversions and not roles.can_administer(user):
        raise PermissionDenied("Only Admins may create tokens that record conversions.")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, e.g. what will use it."})
    if len(name) > 100:
        raise ValidationError({"name": "Keep the name to 100 characters."})
    if APIToken.objects.filter(user=user, name__iexact=name, revoked_at=None).exists():
        raise ValidationError({"name": f"You already have an active token named “{name}”."})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = APIToken.objects.create(
        user=user,
        name=name,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        key_hash=hash_token(raw),
        can_record_conversions=bool(can_record_conversions),
    )
    audit.record(
        "api_token.create",
        actor=user,
        obj=token,
        can_record_conversions=token.can_record_conversions,
    )
    return token, raw


def tokens_for_user(user):
    """The tokens ``user`` may see: their own, or everyone's for an Admin."""
    tokens = APIToken.objects.select_related("user")
    if roles.can_administer(user):
        return tokens
    return tokens.filter(user=user)


def token_revoke(*, token: APIToken, user) -> APIToken:
    """Revoke ``token``: its owner or an Admin may. Revoking twice is harmless."""
    if token.user_id != user.pk and not roles.can_administer(user):
        raise PermissionDenied("Only the token's owner or an Admin may revoke it.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.revoked_by = user
        token.save(update_fields=["revoked_at", "revoked_by"])
        audit.record("api_token.revoke", actor=user, obj=token, owner=token.user.get_username())
    return token


def token_authenticate(raw: str) -> APIToken | None:
    """The active token ``raw`` is, with its owner loaded; None when it is
    unknown, revoked or its owner is deactivated. A token acts with its
    owner's role as it is now, read on every request: an owner who has a
    role that holds no tokens now (a Campaign manager) is refused
    (PermissionDenied), as one with no role at all is by the API, and the
    token works again only if the role comes back."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        APIToken.objects.select_related("user")
        .filter(key_hash=hash_token(raw), revoked_at=None, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    if roles.can_view(token.user) and not roles.can_export(token.user):
        raise PermissionDenied(
            "This token's owner is no longer an Admin or Analyst, whose roles hold API tokens; "
            "the token works again only if an Admin gives that role back."
        )
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
