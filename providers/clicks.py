"""Click reports: where a campaign has the provider shorten its links itself
(its own click tracking), the provider may post each click to the account's
click-report URL (``ProviderAccount.webhook_url(CLICKS_EVENT)``: the
webhook URL, secret and all, followed by ``clicks/``). The webhook refuses
forged secrets and malformed bodies as for delivery reports and hands what
its backend parsed here.

A click report is taken at once, in the request (a person's click, not a
burst of reports): the layer above records each click that names a message
this account sent (``clicks_reported``; campaigns keeps the report in the
click's payload). Nothing else is ever counted as a click: a report that
cannot be verified is kept as it came, as a failed callback whose error
says "Not verified" and why, with the provider's own words in its body,
for an Admin to look at (and apply again, should a message it names turn
up).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from .base import ClickReport, WebhookRequest
from .models import FailedCallback, ProviderAccount
from .screening import storable
from .signals import clicks_reported

log = logging.getLogger(__name__)

# What the error of a set-aside click report starts with.
NOT_VERIFIED = "Not verified"
NO_RECEIVER = "nothing here records clicks"


def accept(account: ProviderAccount, request: WebhookRequest, clicks: Sequence[ClickReport]) -> int:
    """Record the verified clicks of one click report and keep the rest as
    not verified; returns how many were recorded (or were already)."""
    with transaction.atomic():
        answers = clicks_reported.send(sender=ProviderAccount, account=account, clicks=clicks)
        recorded = [False] * len(clicks)
        reasons = [click.problem or NO_RECEIVER for click in clicks]
        for _receiver, answer in answers:
            for index, reason in enumerate(answer or ()):
                if reason is None:
                    recorded[index] = True
                elif not recorded[index]:
                    reasons[index] = reason
        unverified = [
            (click, reasons[index]) for index, click in enumerate(clicks) if not recorded[index]
        ]
        if unverified:
            log.info("%d click report(s) for %s not verified", len(unverified), account)
            FailedCallback.objects.create(
                account=account,
                method=request.method[:8],
                content_type=request.content_type[:100],
                body=request.body,
                query=request.query,
                form=request.form,
                headers=request.headers,
                event=request.event[:64],
                reports=len(clicks),
                received_at=timezone.now(),
                error=not_verified(unverified, len(clicks)),
            )
    return sum(recorded)


def not_verified(unverified: Sequence[tuple[ClickReport, str]], total: int) -> str:
    """The error a set-aside click report is kept with: each click that was
    not counted, by the message it names, and why."""
    lines = [
        f"{NOT_VERIFIED}: {len(unverified)} of {total} click(s) in this report "
        "not counted as clicks."
    ]
    for click, reason in unverified[:50]:
        named = f"messageId {click.provider_message_id!r}" if click.provider_message_id else "—"
        if click.recipient:
            named += f", recipient {click.recipient!r}"
        lines.append(f"{named}: {reason}.")
    if len(unverified) > 50:
        lines.append(f"… and {len(unverified) - 50} more.")
    # An error may quote the value that caused it.
    return storable("\n".join(lines))[:4000]
