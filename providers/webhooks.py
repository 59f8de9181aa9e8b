"""Provider callbacks: one endpoint per account, keyed by its secret.

The secret in the URL is what authenticates most providers (their callbacks
carry no signature), so it is long, random, and compared in constant time.
An unknown secret, a disabled account or a malformed body changes nothing.
A known, well-formed callback is stored and answered at once with 2xx so the
provider stops retrying; a worker applies it (``campaigns.reports``), and
applying the same report twice is harmless. Requests for these URLs skip
the middleware of people's pages (``providers.middleware``).
"""

import base64
import hmac
import logging
import time

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import timing
from .base import WebhookRejected, WebhookRequest
from .models import ProviderAccount
from .services import accept_webhook

log = logging.getLogger(__name__)

# Providers batch at most a few hundred reports per call; anything far larger
# is not a report. Django will not read a larger body into memory either
# (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default): both answer 413.
MAX_BODY = 2_621_440


# Accounts by webhook secret, for a moment: a burst of callbacks looks its
# account up once per process. An edit in this process clears it at once;
# elsewhere it lasts ACCOUNT_TTL seconds, and the worker that applies stored
# callbacks checks again that the account is still enabled.
ACCOUNT_TTL = 2.0
_accounts: dict[str, tuple[float, ProviderAccount | None]] = {}


@receiver([post_save, post_delete], sender=ProviderAccount)
def _forget_accounts(**kwargs):
    _accounts.clear()


def _account_for(secret: str) -> ProviderAccount | None:
    now = time.monotonic()
    cached = _accounts.get(secret)
    if cached and cached[0] > now:
        account = cached[1]
    else:
        account = ProviderAccount.objects.filter(webhook_secret=secret, enabled=True).first()
        if len(_accounts) > 1000:
            _accounts.clear()
        _accounts[secret] = (now + ACCOUNT_TTL, account)
    # The lookup above uses an index; the comparison below is the
    # constant-time check of what was found.
    if account and hmac.compare_digest(account.webhook_secret.encode(), secret.encode()):
        return account
    return None


def _basic_auth_ok(account: ProviderAccount, request) -> bool:
    """Where an account sets webhook Basic credentials, callbacks must carry
    them (for providers that can send them)."""
    user = account.options.get("webhook_username")
    password = account.options.get("webhook_password")
    if not user:
        return True
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        given = base64.b64decode(header[6:]).decode()
    except ValueError:
        return False
    return hmac.compare_digest(given.encode(), f"{user}:{password}".encode())


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_large() -> HttpResponse:
    return HttpResponse(
        f"too large: at most {MAX_BODY:,} bytes", status=413, content_type="text/plain"
    )


@login_not_required
@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request, secret: str, event: str = ""):
    account = _account_for(secret)
    if account is None:
        return HttpResponse("unknown endpoint", status=404, content_type="text/plain")
    if not _basic_auth_ok(account, request):
        response = HttpResponse("authentication required", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Basic realm="smsportal webhooks"'
        return response
    timing.mark("account")
    if _declared_length(request) > MAX_BODY:
        return _too_large()
    try:
        body = request.body
        form = {}
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = {k: request.POST.get(k) for k in request.POST}
    except RequestDataTooBig:
        return _too_large()
    except SuspiciousOperation as exc:
        # Too many form fields, a broken multipart body.
        return HttpResponse(f"refused: {exc}"[:300], status=400, content_type="text/plain")
    hook = WebhookRequest(
        method=request.method,
        content_type=request.content_type or "",
        body=body,
        query={k: request.GET.get(k) for k in request.GET},
        form=form,
        headers={k: v for k, v in request.headers.items() if k.lower() != "cookie"},
        event=event,
    )
    timing.mark("body")
    try:
        result = accept_webhook(account, hook)
    except WebhookRejected as exc:
        log.warning("webhook for %s refused: %s", account, exc)
        return HttpResponse(f"refused: {exc}"[:300], status=400, content_type="text/plain")
    return HttpResponse(result.body, status=result.status_code, content_type=result.content_type)
