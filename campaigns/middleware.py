"""Tracked short links take a short way through the site.

A tap on a short link needs none of what the pages need (session, user,
role, CSRF token, messages, time zone, htmx, Content Security Policy,
sign-in throttling) and finding its view among every page's URL patterns
would cost more than its own work. Like the webhook path
(providers/middleware.py), this middleware sits after the few it does need
(the security middleware's redirect and headers, ``Cache-Control:
no-store``, null bytes in the address) and answers:

- ``/l/<code>`` on any of the site's hosts (``ALLOWED_HOSTS``);
- ``<path of SHORT_LINK_BASE_URL><code>`` where that path is another one
  (``https://example.com/go/``);
- ``/<code>`` on the short host when SHORT_LINK_BASE_URL is a host's root
  (``https://s.example.com/``). Where that host is the site's own, a code
  no link has is left to the site's pages (``/messages`` is eight letters
  too).

Anything else goes on down the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings

from . import links, redirect

ALWAYS = "/l/"


@dataclass(frozen=True)
class Routes:
    prefix: str  # the path of SHORT_LINK_BASE_URL
    host: str  # its host
    own_host: bool  # the site's own host (PUBLIC_BASE_URL's)


@lru_cache(maxsize=8)
def routes(base_url: str, site_url: str) -> Routes:
    base = urlsplit(base_url)
    return Routes(
        prefix=base.path or "/",
        host=(base.hostname or "").lower(),
        own_host=(base.hostname or "").lower() == (urlsplit(site_url).hostname or "").lower(),
    )


def _hostname(request) -> str:
    """The request's host without its port; a host outside ALLOWED_HOSTS is
    refused with 400 here, as on every other URL."""
    host = request.get_host().lower()
    if host.endswith("]"):
        return host
    return host.rsplit(":", 1)[0] if ":" in host else host


class ShortLinkMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(ALWAYS):
            _hostname(request)
            return redirect.follow(request, path[len(ALWAYS) :])
        found = routes(settings.SHORT_LINK_BASE_URL, settings.PUBLIC_BASE_URL)
        if found.prefix == ALWAYS or not path.startswith(found.prefix):
            return self.get_response(request)
        code = path[len(found.prefix) :]
        if not links.is_code(code):
            return self.get_response(request)
        if found.prefix != "/":
            _hostname(request)
            return redirect.follow(request, code)
        if _hostname(request) != found.host:
            return self.get_response(request)
        if found.own_host:
            # The site's own root: only a code some link has is ours.
            if request.method not in ("GET", "HEAD"):
                return self.get_response(request)
            return redirect.follow(request, code, unknown=self.get_response)
        return redirect.follow(request, code)
