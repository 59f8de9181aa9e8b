from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from smsportal.models import APIToken


class APIRateThrottle(SimpleRateThrottle):
    """API_RATE_LIMIT requests per token (or per signed-in user browsing
    with a session), counted in the shared cache so every web process sees
    the same count."""

    scope = "api"

    def get_rate(self):
        # Read per request (DRF reads its own rates once, at import).
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request, view):
        if isinstance(request.auth, APIToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


_PERIODS = {1: "a second", 60: "a minute", 3600: "an hour", 86400: "a day"}


def rate_in_words() -> str:
    """API_RATE_LIMIT as the pages say it: "600 requests a minute"."""
    throttle = APIRateThrottle()
    count = throttle.num_requests
    return f"{count:,} request{'' if count == 1 else 's'} {_PERIODS[throttle.duration]}"
