from rest_framework import permissions

from smsportal import roles


class HasRole(permissions.BasePermission):
    """Signed in (by token or session) and given one of the three roles. Every
    role may read everything the export offers."""

    message = "Your account has no role yet; ask an Admin to give you one."

    def has_permission(self, request, view):
        return roles.can_view(request.user)
