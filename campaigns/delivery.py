"""The status path: every change to a message's status goes through here,
whether it comes from a submit response, a webhook, a poll or recovery.

Rows are locked (in id order, so two writers never deadlock), each change is
checked against the forward-only rule, changed rows are written in bulk, the
history is appended as events, and the campaign counters get deltas — all in
one transaction. A report that arrives twice or late changes nothing but is
still kept as an event.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from providers.status import FINAL, Status, can_move

from .models import CampaignCounter, Message, MessageEvent

# Statuses for which the provider charges when it gives no price itself.
_CHARGED = {Status.ACCEPTED, Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED}


@dataclass
class Update:
    message_id: int
    status: str
    kind: str = MessageEvent.Kind.REPORT
    provider_message_id: str = ""
    error_code: str = ""
    error_description: str = ""
    cost: Decimal | None = None
    currency: str = ""
    segments: int | None = None
    sent_at: dt.datetime | None = None
    done_at: dt.datetime | None = None
    payload: Any = None


_FIELDS = [
    "status",
    "provider_message_id",
    "error_code",
    "error_description",
    "actual_cost",
    "currency",
    "segments",
    "submitted_at",
    "sent_at",
    "done_at",
]


def apply_updates(updates: list[Update]) -> int:
    """Apply status updates; returns how many messages changed status."""
    if not updates:
        return 0
    by_id: dict[int, list[Update]] = defaultdict(list)
    for update in updates:
        by_id[update.message_id].append(update)
    now = timezone.now()
    changed_status = 0
    with transaction.atomic():
        messages = list(
            Message.objects.select_for_update()
            .filter(id__in=list(by_id))
            .order_by("id")
            .only("id", "campaign_id", "account_id", *_FIELDS, "estimated_cost")
        )
        events, dirty = [], []
        deltas: dict[tuple[int, str], list] = defaultdict(lambda: [0, Decimal(0), Decimal(0), 0])
        for message in messages:
            before_status, before_cost = message.status, message.actual_cost
            touched = False
            for update in by_id[message.id]:
                applied = _apply_one(message, update, now)
                touched = touched or applied
                events.append(
                    MessageEvent(
                        message_id=message.id,
                        account_id=message.account_id,
                        provider_message_id=update.provider_message_id
                        or message.provider_message_id,
                        kind=update.kind,
                        status=update.status,
                        applied=applied,
                        payload=_jsonable(update.payload),
                    )
                )
            if not touched:
                continue
            dirty.append(message)
            if message.status != before_status:
                changed_status += 1
                old = deltas[(message.campaign_id, before_status)]
                old[0] -= 1
                old[1] -= message.estimated_cost
                old[3] -= message.segments
                new = deltas[(message.campaign_id, message.status)]
                new[0] += 1
                new[1] += message.estimated_cost
                new[3] += message.segments
            if message.actual_cost != before_cost:
                deltas[(message.campaign_id, message.status)][2] += (message.actual_cost or 0) - (
                    before_cost or 0
                )
        if dirty:
            Message.objects.bulk_update(dirty, _FIELDS, batch_size=1000)
        MessageEvent.objects.bulk_create(events, batch_size=1000)
        counter_add(deltas)
    return changed_status


def _apply_one(message: Message, update: Update, now: dt.datetime) -> bool:
    """Apply one update to a locked message in memory; False if it was stale."""
    changed = False
    if update.provider_message_id and not message.provider_message_id:
        message.provider_message_id = update.provider_message_id
        changed = True
    if update.cost is not None and message.actual_cost is None:
        message.actual_cost = update.cost
        message.currency = update.currency or message.currency
        changed = True
    if (
        update.segments
        and update.segments != message.segments
        and message.status
        in (
            Status.SENDING,
            Status.ACCEPTED,
        )
    ):
        message.segments = update.segments
        changed = True
    if not can_move(message.status, update.status):
        return changed
    message.status = update.status
    if update.error_code or update.error_description:
        message.error_code = update.error_code[:64]
        message.error_description = update.error_description[:500]
    if update.status == Status.ACCEPTED or update.sent_at:
        message.sent_at = message.sent_at or update.sent_at or now
    if update.status in FINAL:
        message.done_at = update.done_at or now
        if message.actual_cost is None:
            # No price from the provider: what the rate card says it costs,
            # and nothing for what was refused before it went anywhere.
            message.actual_cost = (
                message.estimated_cost if update.status in _CHARGED else Decimal(0)
            )
    return True


def counter_add(deltas: dict[tuple[int, str], list]) -> None:
    rows = [
        CampaignCounter(
            campaign_id=campaign_id,
            status=status,
            count=count,
            estimated_cost=estimated,
            actual_cost=actual,
            segments=segments,
        )
        for (campaign_id, status), (count, estimated, actual, segments) in deltas.items()
        if count or estimated or actual or segments
    ]
    CampaignCounter.objects.bulk_create(rows)


def _jsonable(payload: Any) -> Any:
    if payload is None:
        return {}
    if isinstance(payload, dict | list | str | int | float | bool):
        return payload
    return str(payload)


def bulk_status_change(queryset, new_status: str, *, reason: str = "", chunk: int = 5000) -> int:
    """Move every message of ``queryset`` that may move to ``new_status``
    (e.g. cancel all pending), a locked chunk at a time, with counter deltas
    computed from exactly the rows that moved."""
    from django.db.models import Count, Sum

    from providers.status import statuses_before

    fields = {"status": new_status}
    if reason:
        fields["error_description"] = reason[:500]
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                queryset.filter(status__in=statuses_before(new_status))
                .select_for_update(skip_locked=True)
                .order_by("id")
                .values_list("id", flat=True)[:chunk]
            )
            if not ids:
                return total
            rows = Message.objects.filter(id__in=ids)
            groups = list(
                rows.values("campaign_id", "status").annotate(
                    n=Count("id"), est=Sum("estimated_cost"), seg=Sum("segments")
                )
            )
            if new_status in FINAL:
                fields["done_at"] = timezone.now()
            total += rows.update(**fields)
            deltas: dict[tuple[int, str], list] = defaultdict(
                lambda: [0, Decimal(0), Decimal(0), 0]
            )
            for g in groups:
                old = deltas[(g["campaign_id"], g["status"])]
                old[0] -= g["n"]
                old[1] -= g["est"] or 0
                old[3] -= g["seg"] or 0
                new = deltas[(g["campaign_id"], new_status)]
                new[0] += g["n"]
                new[1] += g["est"] or 0
                new[3] += g["seg"] or 0
            counter_add(deltas)
