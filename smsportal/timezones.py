"""Times shown in each user's own time zone.

The browser knows the zone (Intl.DateTimeFormat) and static/js/app.js keeps it
in a cookie; every request activates it, so templates and forms (a schedule
typed in) read and write local times. Without the cookie, or with a zone
this server does not know, settings.TIME_ZONE applies."""

import zoneinfo
from functools import lru_cache

from django.utils import timezone

COOKIE = "tz"


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    if not name or len(name) > 64:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class UserTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = _zone(request.COOKIES.get(COOKIE, ""))
        if zone:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        return self.get_response(request)
