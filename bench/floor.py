"""The site as scenario 6's gunicorn serves it, with the webhook door's floor.

A webhook request whose query carries ``FLOOR`` goes the whole way a
callback goes (the server, the middleware kept, the account, the body, the
one INSERT, the answer) but is neither screened nor parsed, tells no worker,
and stores no reports: what is left of a callback's cost in gunicorn and
PostgreSQL when the door does nothing but store it. Every other request,
the callbacks measured among them, is the site's own. The rows a floor turn
stores are deleted by the scenario before the applier may see them.

Benchmark only: ``gunicorn 'bench.floor:site()'``.
"""

from __future__ import annotations

FLOOR = "floor"


def site():
    """The site's WSGI application, its webhook door taking floor requests."""
    import smsportal.wsgi

    # Django is set up now, and the providers' modules may be imported.
    application = smsportal.wsgi.application
    from providers import services, timing, webhooks
    from providers.base import WebhookResult

    accept = webhooks.accept_webhook

    def accept_or_store(account, request):
        if FLOOR not in request.query:
            return accept(account, request)
        services._store(account, request, 0, None)
        timing.mark("insert")
        return WebhookResult()

    webhooks.accept_webhook = accept_or_store
    return application
