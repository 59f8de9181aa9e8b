"""Provider-side services: callbacks are parsed by the account's backend and
stored, and a connection is checked. What a stored callback changes is
applied above this layer (``campaigns.reports``), told by ``callback_stored``."""

from __future__ import annotations

import json

from django.db import connection
from django.utils import timezone

from .base import ProviderError, WebhookRequest, WebhookResult
from .models import ProviderAccount, WebhookInbox
from .signals import callback_stored


def accept_webhook(account: ProviderAccount, request: WebhookRequest) -> WebhookResult:
    """Parse a callback with the account's backend (raising WebhookRejected,
    with nothing stored, when the backend refuses it), store it, and say so
    (``callback_stored``) for a worker to apply it. Returns what to answer
    the provider."""
    result = account.callback_backend.parse_webhook(request)
    if not (result.reports or result.inbound):
        return result
    # One plain INSERT: this is all the provider waits for.
    table = connection.ops.quote_name(WebhookInbox._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (account_id, method, content_type, body, query, form, "  # noqa: S608 - the model's own table name
            "headers, event, reports, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                account.pk,
                request.method[:8],
                request.content_type[:100],
                request.body,
                json.dumps(request.query),
                json.dumps(request.form),
                json.dumps(request.headers),
                request.event[:64],
                len(result.reports) + len(result.inbound),
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ],
        )
    callback_stored.send(sender=ProviderAccount, account=account)
    return result


def check_connection(account: ProviderAccount) -> tuple[bool, str]:
    try:
        return True, account.backend().check_connection()
    except ProviderError as error:
        return False, error.message
    except NotImplementedError:
        return False, "This provider has no way to check the connection."
