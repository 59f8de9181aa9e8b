import json
import logging

from celery import shared_task
from django.core.cache import cache

from .base import WebhookRequest
from .models import ProviderAccount
from .services import apply_stored_webhooks, ingest_webhook, poll_account

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sandbox_report(account_id: int, payload: dict) -> None:
    """Deliver the sandbox's reports as if they came to its webhook."""
    account = ProviderAccount.objects.get(pk=account_id)
    body = json.dumps(payload).encode()
    ingest_webhook(
        account, WebhookRequest(method="POST", content_type="application/json", body=body)
    )


@shared_task(ignore_result=True)
def poll_statuses() -> None:
    """Poll providers that do not push, and pull queued reports/replies."""
    if not cache.add("lock:poll_statuses", 1, timeout=300):
        return  # the previous run is still going
    try:
        for account in ProviderAccount.objects.filter(enabled=True):
            caps = account.backend_class.capabilities
            if not (caps.polling or caps.push_reports or caps.inbound):
                continue
            try:
                poll_account(account)
            except Exception:
                log.exception("polling %s failed", account)
    finally:
        cache.delete("lock:poll_statuses")


@shared_task(ignore_result=True)
def apply_webhooks() -> None:
    """Apply the callbacks the webhook stored (queued by the webhook, and
    every few seconds by beat in case a worker died while applying)."""
    apply_stored_webhooks()
