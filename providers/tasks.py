import json

from celery import shared_task

from .base import WebhookRequest
from .models import ProviderAccount
from .services import accept_webhook


@shared_task(ignore_result=True)
def sandbox_report(account_id: int, payload: dict) -> None:
    """Deliver the sandbox's reports as if they came to its webhook."""
    account = ProviderAccount.objects.get(pk=account_id)
    body = json.dumps(payload).encode()
    accept_webhook(
        account, WebhookRequest(method="POST", content_type="application/json", body=body)
    )
