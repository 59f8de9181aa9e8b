from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, JsonResponse

from . import roles

# Reachable by a signed-in user who has no role yet (to log out, or an admin
# superuser fixing roles).
# The API checks roles itself and answers in JSON.
_OPEN_PREFIXES = ("/accounts/", "/admin/", "/static/", "/hooks/", "/healthz", "/api/")


class RoleRequiredMiddleware:
    """Signed in is not enough: every page needs one of the three roles."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and roles.role_of(user) is None
            and not request.path.startswith(_OPEN_PREFIXES)
        ):
            raise PermissionDenied("Your account has no role yet; ask an Admin to give you one.")
        return self.get_response(request)


class RejectNullBytesMiddleware:
    """A null byte in the query string is never meant: refuse it clearly
    (PostgreSQL cannot even compare text with one). Forms refuse them in
    posted fields themselves."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any("\x00" in key or "\x00" in value for key, value in request.GET.items()):
            message = "The address contains a null character; remove it and try again."
            if request.path.startswith("/api/"):
                # The API answers errors in JSON, as its schema documents.
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
