from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.cache import patch_cache_control

from . import roles

# Reachable by a signed-in user who has no role yet (to log out, or an admin
# superuser fixing roles).
# The API checks roles itself and answers in JSON. The conversion pixel
# (/c/<code>.gif) is for anyone's browser, signed in or not.
_OPEN_PREFIXES = ("/accounts/", "/admin/", "/static/", "/hooks/", "/healthz", "/api/", "/c/")


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


class NoStoreMiddleware:
    """Pages and exports carry contact data (numbers, names, message texts):
    no browser or proxy keeps a copy (``Cache-Control: no-store``). Only our
    static files may be cached."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.static = "/" + settings.STATIC_URL.lstrip("/")

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(self.static):
            patch_cache_control(response, no_store=True)
        return response
