from rest_framework import permissions

from smsportal import roles
from smsportal.models import APIToken


class HasRole(permissions.BasePermission):
    """Signed in (by token or session) and given one of the three roles. Every
    role may read everything the export offers."""

    message = "Your account has no role yet; ask an Admin to give you one."

    def has_permission(self, request, view):
        return roles.can_view(request.user)


class CanRecordConversions(permissions.BasePermission):
    """The one write: an API token (never a signed-in session) that an Admin
    gave the "record conversions" permission."""

    message = (
        "This API token may not record conversions: an Admin creates tokens with the "
        "“record conversions” permission on the API tokens page."
    )

    def has_permission(self, request, view):
        return isinstance(request.auth, APIToken) and request.auth.can_record_conversions
