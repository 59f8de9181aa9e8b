"""Replies from recipients: stored with their account; keywords act on them.

An opt-out keyword (STOP and the site's words in other languages) suppresses
the sender's number for every later send, including messages of campaigns
already launched (the claim checks each number at the moment of sending). An
opt-in keyword (START) takes back a keyword opt-out, never a suppression
added for another reason. A help keyword (HELP) gets the help text. Each
change of consent is written to the contact's history, and a confirmation
reply goes back through the account and number the keyword came to, logged
like any message with its cost. A reply delivered twice by the provider is
stored once, so it is acted on, and answered, once."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Consent, ConsentEvent, Suppression
from contacts.services import announce_suppressed, consent_record
from providers.base import InboundSms
from providers.models import InboundMessage, ProviderAccount
from smsportal import audit
from smsportal.phones import InvalidNumber, normalise

from .keywords import Intent, classify, reply_text
from .replies import queue_reply

log = logging.getLogger(__name__)


def ingest_inbound(account: ProviderAccount, messages: list[InboundSms]) -> int:
    """Store replies and act on their keywords; returns how many were new."""
    stored = 0
    for sms in messages:
        keyword = classify(sms.text or "", sms.keyword or "")
        try:
            with transaction.atomic():
                inbound = InboundMessage.objects.create(
                    account=account,
                    provider_message_id=sms.provider_message_id or "",
                    sender=sms.sender[:32],
                    recipient=(sms.recipient or "")[:32],
                    text=sms.text or "",
                    keyword=(sms.keyword or (keyword.word if keyword else ""))[:64],
                    received_at=sms.received_at or timezone.now(),
                    opted_out=bool(keyword and keyword.intent == Intent.STOP),
                    raw=sms.raw if isinstance(sms.raw, dict | list) else {"raw": str(sms.raw)},
                )
        except IntegrityError:
            continue  # the same inbound message delivered twice: acted on once
        stored += 1
        if keyword is None:
            continue
        phone = _opt_out_number(sms.sender)
        if phone is None:
            log.warning("%s from an unparseable number %r", keyword.word, sms.sender)
            continue
        if keyword.intent == Intent.STOP:
            _opt_out(phone, keyword.word, inbound)
        elif keyword.intent == Intent.START:
            _opt_in(phone, keyword.word, inbound)
        _confirm(account, inbound, keyword.intent, phone)
    return stored


def _opt_out(phone: str, word: str, inbound: InboundMessage) -> None:
    suppression, created = Suppression.objects.get_or_create(
        phone=phone,
        defaults={"reason": Suppression.Reason.STOP, "note": f"Replied {word!r}"},
    )
    if created:
        audit.record("suppression.add", obj=suppression, reason="stop", inbound=inbound.pk)
        announce_suppressed([phone])
    consent_record(
        phone=phone,
        state=Consent.OPTED_OUT,
        source=ConsentEvent.Source.KEYWORD,
        detail=f"Replied {word} (inbound message {inbound.pk})",
    )


def _opt_in(phone: str, word: str, inbound: InboundMessage) -> None:
    # Only what a keyword did may a keyword undo: a number an Admin blocked,
    # or one imported as suppressed, stays suppressed.
    removed, _ = Suppression.objects.filter(phone=phone, reason=Suppression.Reason.STOP).delete()
    if removed:
        audit.record("suppression.remove", reason="start", phone=phone, inbound=inbound.pk)
    if removed or not Suppression.objects.filter(phone=phone).exists():
        consent_record(
            phone=phone,
            state=Consent.OPTED_IN,
            source=ConsentEvent.Source.KEYWORD,
            detail=f"Replied {word} (inbound message {inbound.pk})",
        )


def _confirm(account: ProviderAccount, inbound: InboundMessage, intent: Intent, phone: str) -> None:
    """Queue the confirmation reply for this keyword, if there is one to send
    and a number to send it from."""
    text = reply_text(intent, account.options)
    if not text:
        return
    if not inbound.recipient:
        log.warning("no reply to %s: the provider did not say which number it came to", inbound.pk)
        return
    queue_reply(account=account, inbound=inbound, phone=phone, text=text)


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
