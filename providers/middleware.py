"""Provider callbacks take a short way through the site.

A callback is a machine posting to its account's secret URL: no session,
user, role, CSRF token, messages, time zone, htmx, Content Security Policy
or sign-in throttling has anything to do with it, and finding its view
among every page's URL patterns costs more than the view's own work. This
middleware sits after the few a callback does need (the security
middleware's redirect and headers, ``Cache-Control: no-store``, null bytes
in the address) and before all the others: a request for a webhook URL is
answered here by the webhook view, with the host checked against
``ALLOWED_HOSTS`` as on every other URL; any other request goes on down the
list. The URLs are those ``providers/urls.py`` gives the webhook view, read
from there.
"""

from __future__ import annotations

from django.urls.resolvers import RoutePattern

from . import timing, webhooks


def webhook_routes() -> list[RoutePattern]:
    """The route patterns of the webhook view (mounted at the site's root)."""
    from . import urls

    return [
        p.pattern
        for p in urls.urlpatterns
        if p.callback is webhooks.webhook and isinstance(p.pattern, RoutePattern)
    ]


def prefix_of(routes: list[RoutePattern]) -> str:
    """The path every webhook URL starts with ("/hooks/")."""
    literal = {"/" + str(route).split("<", 1)[0] for route in routes}
    if len(literal) != 1:
        raise ValueError(f"the webhook routes do not share one prefix: {sorted(literal)}")
    return literal.pop()


class WebhookShortcutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.routes = webhook_routes()
        self.prefix = prefix_of(self.routes)

    def match(self, path: str) -> dict | None:
        """The view's arguments when ``path`` is a webhook URL, else None."""
        if not path.startswith(self.prefix):
            return None
        for route in self.routes:
            found = route.match(path[1:])
            if found is not None:
                return found[2]
        return None

    def __call__(self, request):
        kwargs = self.match(request.path_info)
        if kwargs is None:
            return self.get_response(request)
        timing.claim()
        # As every other URL is (CommonMiddleware): a Host not in
        # ALLOWED_HOSTS is refused with 400.
        request.get_host()
        response = webhooks.webhook(request, **kwargs)
        timing.mark("answer")
        return response
