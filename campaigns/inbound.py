"""Replies from recipients: stored with their account, and an opt-out
keyword suppresses the sender's number for every later send."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Suppression
from providers.base import InboundSms
from providers.models import InboundMessage, ProviderAccount
from smsportal import audit
from smsportal.phones import InvalidNumber, normalise

log = logging.getLogger(__name__)


def ingest_inbound(account: ProviderAccount, messages: list[InboundSms]) -> int:
    """Store replies; an opt-out keyword adds a suppression for the sender."""
    stored = 0
    stop_words = {w.upper() for w in settings.STOP_KEYWORDS}
    for sms in messages:
        first_word = (sms.keyword or sms.text or "").strip().split(maxsplit=1)
        keyword = first_word[0].upper().strip(".!") if first_word else ""
        is_stop = keyword in stop_words
        try:
            with transaction.atomic():
                inbound = InboundMessage.objects.create(
                    account=account,
                    provider_message_id=sms.provider_message_id or "",
                    sender=sms.sender[:32],
                    recipient=(sms.recipient or "")[:32],
                    text=sms.text or "",
                    keyword=(sms.keyword or keyword)[:64],
                    received_at=sms.received_at or timezone.now(),
                    opted_out=is_stop,
                    raw=sms.raw if isinstance(sms.raw, dict | list) else {"raw": str(sms.raw)},
                )
        except IntegrityError:
            continue  # the same inbound message delivered twice
        stored += 1
        if is_stop:
            phone = _opt_out_number(sms.sender)
            if phone is None:
                log.warning("STOP from an unparseable number %r", sms.sender)
                continue
            suppression, created = Suppression.objects.get_or_create(
                phone=phone,
                defaults={"reason": Suppression.Reason.STOP, "note": f"Replied {keyword!r}"},
            )
            if created:
                audit.record("suppression.add", obj=suppression, reason="stop", inbound=inbound.pk)
    return stored


def _opt_out_number(sender: str) -> str | None:
    """The number to suppress. Providers write international numbers without
    the "+"; a number phonenumbers does not know is still suppressed as given
    when it looks like one (opting out must never fail on a technicality)."""
    digits = "".join(c for c in sender if c.isdigit())
    raw = sender if sender.startswith("+") else "+" + digits.lstrip("0")
    try:
        return normalise(raw).e164
    except InvalidNumber:
        return "+" + digits.lstrip("0") if 8 <= len(digits.lstrip("0")) <= 15 else None
