"""Confirmations sent back to keyword replies (STOP, START, HELP).

Each goes out through the account and the number the keyword came to, and
is logged like any message, with its cost, in a "Keyword replies" campaign
of that account and number (outside any audience, as test sends are). The
message row is written with the inbound reply that asked for it, once; the
task that sends it takes it from pending to sending first, so a task run
twice still sends it once."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from providers.models import InboundMessage, ProviderAccount
from providers.status import Status
from smsportal.celery import enqueue
from smsportal.phones import InvalidNumber, normalise

from . import compose
from .delivery import Deltas
from .dispatch import submit_messages
from .models import Approval, Campaign, Message, SenderID


def replies_campaign(account: ProviderAccount, number: str) -> Campaign:
    """The log of confirmations sent from ``number`` through ``account``.
    The number is ours: the provider delivered the keyword to it."""
    sender, _ = SenderID.objects.get_or_create(
        value=number[:16],
        defaults={
            "kind": SenderID.Kind.NUMERIC,
            "status": Approval.APPROVED,
            "note": "The number keyword replies came to",
        },
    )
    sender.accounts.add(account)
    campaign, _ = Campaign.objects.get_or_create(
        purpose=Campaign.Purpose.REPLIES,
        account=account,
        sender=sender,
        defaults={
            "name": f"Keyword replies · {account.name} · {number}",
            "text": "Confirmations of STOP, START and HELP replies.",
            "state": Campaign.State.COMPLETED,
        },
    )
    return campaign


def queue_reply(
    *, account: ProviderAccount, inbound: InboundMessage, phone: str, text: str
) -> Message:
    """Log the confirmation as a pending message (in the transaction that
    stores the inbound reply) and have a worker send it once that commits."""
    campaign = replies_campaign(account, inbound.recipient)
    try:
        number = normalise(phone)
        country, zone = number.country, number.time_zone
    except InvalidNumber:
        country, zone = "", ""
    info = compose.segments.count(text)
    message = Message.objects.create(
        campaign=campaign,
        is_test=True,
        phone=phone,
        country=country,
        time_zone=zone,
        text=text,
        encoding=info.encoding,
        segments=info.segments,
        account=account,
        estimated_cost=info.segments * account.price_for(country),
        currency=account.currency,
        status=Status.PENDING,
    )
    deltas = Deltas()
    deltas.add(
        message, Status.PENDING, count=1, estimated=message.estimated_cost, segments=info.segments
    )
    deltas.save()
    enqueue("campaigns.tasks.send_keyword_reply", message.pk)
    return message


def send_reply(message_id: int) -> bool:
    """Send a queued confirmation, once: False when it was sent already."""
    with transaction.atomic():
        now = timezone.now()
        taken = Message.objects.filter(pk=message_id, status=Status.PENDING, is_test=True).update(
            status=Status.SENDING, submitted_at=now, attempts=1
        )
        if not taken:
            return False
        message = Message.objects.select_related("campaign__account", "campaign__sender").get(
            pk=message_id
        )
        deltas = Deltas()
        deltas.move(message, Status.PENDING, Status.SENDING)
        deltas.save()
    submit_messages(message.campaign, [message], live=False)
    return True
